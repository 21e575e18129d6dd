"""The dispatcher's HTTP client (locustfiles.sender) against small gevent servers in this process (no Locust)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import gevent
import pytest
from gevent.server import StreamServer

from locustfiles.recording import error_kind
from locustfiles.sender import Sender, _plain_response

Handler = Callable[[bytes], list[bytes]]  # request head -> what to write back (each item one write, 10 ms apart)


def _read_request(sock: gevent.socket.socket, pending: bytes) -> tuple[bytes, bytes] | None:
    while b"\r\n\r\n" not in pending:
        data = sock.recv(65536)
        if not data:
            return None
        pending += data
    head, _, rest = pending.partition(b"\r\n\r\n")
    length = int(
        next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    )
    while len(rest) < length:
        rest += sock.recv(65536)
    return head, rest[length:]


class Server:
    """Answers each request with `handler(head)`; counts connections and keeps each request head."""

    def __init__(self, handler: Handler, close_after: bool = False) -> None:
        self.handler, self.close_after = handler, close_after
        self.connections, self.heads = 0, []
        self.server = StreamServer(("127.0.0.1", 0), self._serve)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def _serve(self, sock: gevent.socket.socket, _address: object) -> None:
        self.connections += 1
        pending = b""
        while (got := _read_request(sock, pending)) is not None:
            head, pending = got
            self.heads.append(head)
            for number, part in enumerate(self.handler(head)):
                if number:
                    gevent.sleep(0.01)  # the client reads the parts apart
                sock.sendall(part)
            if self.close_after:
                break
        sock.close()


def _ok(body: bytes, extra: str = "") -> Handler:
    return lambda _head: [f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body]


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(handler: Handler, close_after: bool = False) -> Server:
        servers.append(Server(handler, close_after))
        return servers[-1]

    yield start
    for server in servers:
        server.server.stop()


def _sender(url: str, path: str = "/predict", timeout_s: float = 5.0) -> Sender:
    return Sender(url, path, [b'{"image": "a"}', b'{"image": "bb"}'], "x-loadlab-client-request-id", 5.0, timeout_s)


def test_posts_the_payload_with_its_id_and_keeps_only_the_platform_headers(serve) -> None:
    extra = "X-Loadlab-Duration-Ms: 25.5\r\nServer: test\r\nx-loadlab-cold-start: true\r\n"
    server = serve(_ok(b'{"ok": true}', extra))
    sender = _sender(server.url + "/stage")
    reply = sender.post(1, "0000007-abc")
    assert (reply.status_code, reply.body, reply.error) == (200, b'{"ok": true}', "")
    assert reply.headers == {"x-loadlab-duration-ms": "25.5", "x-loadlab-cold-start": "true"}
    head = server.heads[0].decode()
    assert head.startswith("POST /stage/predict HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.server.server_port}" in head and "x-loadlab-client-request-id: 0000007-abc" in head
    assert "Content-Length: 15" in head and sender.payload_bytes == [14, 15]


def test_one_connection_is_kept_alive_across_requests(serve) -> None:
    server = serve(_ok(b"{}"))
    sender = _sender(server.url)
    assert [sender.post(0, f"{i}").status_code for i in range(5)] == [200] * 5
    assert server.connections == 1


def test_a_chunked_body_is_decoded_and_the_connection_reused(serve) -> None:
    chunked = b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n'
    server = serve(lambda _head: [chunked[:30], chunked[30:]])
    sender = _sender(server.url)
    assert [sender.post(0, "x").body for _ in range(2)] == [b'{"a":1}'] * 2
    assert server.connections == 1


def test_connection_close_and_a_server_side_close_open_a_new_connection(serve) -> None:
    server = serve(_ok(b"{}", "Connection: close\r\n"))
    sender = _sender(server.url)
    assert [sender.post(0, "x").status_code for _ in range(2)] == [200, 200]
    quiet_close = serve(_ok(b"{}"), close_after=True)  # closes after each answer without saying so
    sender = _sender(quiet_close.url)
    replies = []
    for _ in range(3):
        replies.append(sender.post(0, "x"))
        gevent.sleep(0.05)  # the server's FIN arrives: the idle socket is seen closed before reuse
    assert [r.status_code for r in replies] == [200] * 3 and all(not r.error for r in replies)
    assert (server.connections, quiet_close.connections) == (2, 3)


def test_no_answer_is_a_reply_with_status_0_and_the_kind_of_failure(serve) -> None:
    silent = serve(lambda _head: [])
    reply = _sender(silent.url, timeout_s=0.2).post(0, "x")
    assert reply.status_code == 0 and reply.error.startswith("TimeoutError")
    assert error_kind(reply.status_code, reply.error) == "timeout"
    port = silent.server.server_port
    silent.server.stop()
    refused = _sender(f"http://127.0.0.1:{port}").post(0, "x")
    assert refused.status_code == 0 and error_kind(0, refused.error) == "connection"
    garbage = serve(lambda _head: [b"NOT HTTP\r\n\r\n"])
    assert error_kind(0, _sender(garbage.url).post(0, "x").error) == "connection"


def test_an_http_error_is_a_reply_with_its_status(serve) -> None:
    server = serve(lambda _head: [b"HTTP/1.1 503 Busy\r\nContent-Length: 2\r\n\r\nno"])
    reply = _sender(server.url).post(0, "x")
    assert (reply.status_code, reply.body, reply.error) == (503, b"no", "")


def test_only_http_urls_are_accepted() -> None:
    with pytest.raises(ValueError, match="not an http"):
        _sender("ftp://127.0.0.1:1")


def test_a_response_split_across_reads_is_read_whole_by_the_parser(serve) -> None:
    def split(_head: bytes) -> list[bytes]:
        return [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Loadlab-Billed-Ms: 3\r\n\r\n01234", b"56789"]

    server = serve(split)
    sender = _sender(server.url)
    replies = [sender.post(0, "x") for _ in range(3)]
    expected = (200, b"0123456789", {"x-loadlab-billed-ms": "3"})
    assert all((r.status_code, r.body, r.headers) == expected for r in replies)
    assert server.connections == 1


@pytest.mark.parametrize(
    ("data", "plain"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Loadlab-A: 1\r\n\r\nhi", (200, b"hi", {"x-loadlab-a": "1"}, True)),
        (b"HTTP/1.1 503 Busy\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n", (503, b"", {}, False)),
        (b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", (200, b"", {}, True)),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", None),  # HTTP/1.0: its own keep-alive rules
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi", None),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", None),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n folded\r\n\r\nhi", None),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi!", None),  # more than the body
        (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi", None),  # the body not all there yet
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", None),
        (b"HTTP/1.1 204 No Content\r\n\r\n", None),
        (b"HTTP/1.1 200 OK\r\n\r\nhi", None),  # no length: the body runs to the close
        (b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n", None),
    ],
)
def test_only_plain_responses_are_split_without_the_parser(data: bytes, plain: object) -> None:
    assert _plain_response(data) == plain
