"""The dispatcher's HTTP client: one POST of a prepared body on a pool of keep-alive connections.

Why not Locust's FastHttpSession: per request it merges and validates header dicts, parses the URL, runs a
cookie jar and checks each pooled socket with gevent's select; at a few thousand requests per second per process
that costs more than the exchange itself. Here the request head is built once per payload (only the request id
changes), the socket is written once, and a plain response read whole in one recv (Content-Length, HTTP/1.1) is
split here; any other goes to geventhttpclient's C parser (llhttp: chunked bodies, 1xx, keep-alive rules).
Connections are made by geventhttpclient's pools (DNS, IPv6, TLS like FastHttpUser's default: not verified,
unless `verify_tls`), `connection_timeout_s` to connect, `network_timeout_s` per socket operation. No gzip is
asked for, so `response_bytes` is what the server sent (as before, uncompressed). `exchange` sends any prepared
request on the same pool (the S3 replay's signed PUTs: replay.signedput).
"""

from __future__ import annotations

import base64
import contextlib
import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from gevent import monkey
from geventhttpclient.connectionpool import ConnectionPool, SSLConnectionPool
from geventhttpclient.response import HTTPParseError, HTTPSocketResponse

_select = monkey.get_original("select", "select")  # a 0 s poll of one socket: no need for the gevent hub


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back: status 0 and `error` set when no HTTP response did."""

    status_code: int
    body: bytes
    headers: dict[str, str]  # only the `x-loadlab-*` ones, names in lower case (the last one of a repeated name)
    error: str = ""


_NO_HEADERS: dict[str, str] = {}
BLOCK_BYTES = 65536
KEPT_HEADERS = "x-loadlab-"  # the headers of the local platform (locustfiles.recording.PLATFORM_HEADERS)


class _Response(HTTPSocketResponse):
    """geventhttpclient's response keeping only the headers the record needs (`kept`), not a Headers of all."""

    def __init__(self, sock: socket.socket, pre_buffered: bytes) -> None:
        self.kept: dict[str, str] = {}
        super().__init__(sock, block_size=BLOCK_BYTES, method="POST", pre_buffered=pre_buffered)

    def _flush_header(self) -> None:  # called by the parser at the end of each header line
        field = self._current_header_field
        if field is not None:
            name = field.lower()
            if name.startswith(KEPT_HEADERS):
                self.kept[name] = self._current_header_value or ""
            self._current_header_field = self._current_header_value = None


def _plain_response(data: bytes) -> tuple[int, bytes, dict[str, str], bool] | None:
    """(status, body, kept headers, keep-alive) when `data` is exactly one complete, plain HTTP/1.1 response:
    a final status, one Content-Length, no Transfer-Encoding, no folded or malformed header line, nothing after
    the body. None for anything else, which geventhttpclient's parser (llhttp) then reads from these bytes on."""
    end = data.find(b"\r\n\r\n")
    code = data[9:12]
    if end < 0 or not data.startswith(b"HTTP/1.1 ") or data[12:13] not in (b" ", b"\r") or not code.isdigit():
        return None
    if code[:1] == b"1" or code in (b"204", b"304"):
        return None
    head = _plain_headers(data[:end].decode("latin-1").split("\r\n")[1:])
    if head is None or len(data) != end + 4 + head[0]:
        return None
    return int(code), data[end + 4 :], head[2], head[1]


def _plain_headers(lines: list[str]) -> tuple[int, bool, dict[str, str]] | None:
    """(Content-Length, keep-alive, kept headers) of plain header lines; None when they are not plain."""
    length, keep, kept = -1, True, {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name[0] in " \t" or name[-1] in " \t":
            return None
        name, value = name.lower(), value.strip(" \t")
        if name == "content-length":
            if length >= 0 or not (value.isascii() and value.isdigit()):
                return None
            length = int(value)
        elif name == "transfer-encoding":
            return None
        elif name == "connection":
            keep = "close" not in (token.strip() for token in value.lower().split(","))
        elif name.startswith(KEPT_HEADERS):
            kept[name] = value
    return (length, keep, kept) if length >= 0 else None


def _alive(sock: socket.socket) -> bool:
    """An idle keep-alive socket is not readable; readable means the server closed it (or sent garbage)."""
    try:
        return sock.fileno() >= 0 and not _select([sock], [], [], 0.0)[0]
    except (OSError, ValueError):
        return False


class Sender:
    """POST one of `payloads` to `base_url + path`, with header `id_header` set to each request's id.

    At most as many connections as requests in flight (the dispatcher's pool caps those); idle ones are reused
    last-in first-out and checked for a close by the server before reuse.
    """

    def __init__(self, base_url: str, path: str, payloads: list[bytes], id_header: str,
                 connection_timeout_s: float, network_timeout_s: float, verify_tls: bool = False) -> None:  # fmt: skip
        parts = urlsplit(base_url.rstrip("/") + path if path.startswith("/") else base_url + path)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url + path!r}")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        pool_type = SSLConnectionPool if tls else ConnectionPool
        extra = {"insecure": not verify_tls} if tls else {}
        self._connector = pool_type(parts.hostname, port, parts.hostname, port, size=1,
                                    connection_timeout=connection_timeout_s,
                                    network_timeout=network_timeout_s, **extra)  # fmt: skip
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rpartition("@")[2]
        auth = ""
        if parts.username is not None:
            token = base64.b64encode(f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()).decode()
            auth = f"Authorization: Basic {token}\r\n"
        common = (f"POST {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: loadlab\r\n{auth}"
                  "Content-Type: application/json\r\n")  # fmt: skip
        self._heads = [(common + f"Content-Length: {len(p)}\r\n{id_header}: ").encode("latin-1") for p in payloads]
        self._tails = [b"\r\n\r\n" + p for p in payloads]
        self.payload_bytes = [len(p) for p in payloads]
        self._idle: list[socket.socket] = []
        self.closed = False

    def _socket(self) -> socket.socket:
        idle = self._idle
        while idle:
            sock = idle.pop()
            if _alive(sock):
                return sock
            sock.close()
        sock = self._connector._create_socket()  # geventhttpclient's extension point ("might be overridden")
        with contextlib.suppress(OSError):  # not a TCP socket (a proxy's)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def post(self, payload_index: int, request_id: str) -> Reply:
        """Send payload `payload_index` with id `request_id`; the reply read in full (never raises for I/O)."""
        return self.exchange(self._heads[payload_index] + request_id.encode("ascii") + self._tails[payload_index])

    def exchange(self, request: bytes) -> Reply:
        """Send `request` (a whole HTTP/1.1 request: head and body, for this connection's host) on a pooled
        keep-alive connection, in one write; the reply read in full (never raises for I/O)."""
        try:
            sock = self._socket()
        except (OSError, HTTPParseError) as exc:
            return Reply(0, b"", _NO_HEADERS, f"{type(exc).__name__}: {exc}")
        reusable = False
        try:
            sock.sendall(request)
            data = sock.recv(BLOCK_BYTES)
            plain = _plain_response(data) if data else None
            if plain is not None:
                status, body, kept, reusable = plain
                return Reply(status, body, kept)
            response = _Response(sock, data)  # all else: llhttp (chunked, split reads, 1xx, errors...)
            body = response.read()
            reusable = response.message_complete and not response.should_close()
            return Reply(response.status_code, body, response.kept)
        except (OSError, HTTPParseError) as exc:  # socket errors and timeouts (TimeoutError is an OSError)
            return Reply(0, b"", _NO_HEADERS, f"{type(exc).__name__}: {exc}")
        finally:
            if reusable and not self.closed:
                self._idle.append(sock)
            else:
                sock.close()

    def close(self) -> None:
        self.closed = True
        while self._idle:
            self._idle.pop().close()
