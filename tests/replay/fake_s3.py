"""A tiny real S3-compatible HTTP server on loopback for replay tests: PUT object and HEAD bucket.

Its behaviour per request comes from `plan(key, attempt) -> (delay_s, status)`: a delay before
answering (a slow PUT) and the status (200, or an S3 error such as 503 SlowDown / 403 AccessDenied).
It keeps what it saw (key, receive time, body size, status) so tests can check what went over the wire.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

Plan = Callable[[str, int], tuple[float, int]]
ERROR_CODES = {403: "AccessDenied", 500: "InternalError", 503: "SlowDown"}


@dataclass(frozen=True)
class Seen:
    key: str
    received_unix_s: float
    answered_unix_s: float
    size_bytes: int
    status: int


class FakeS3:
    def __init__(self, plan: Plan | None = None) -> None:
        self.plan: Plan = plan or (lambda key, attempt: (0.0, 200))
        self.seen: list[Seen] = []
        self.attempts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeS3:
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ok_keys(self) -> list[str]:
        with self.lock:
            return [s.key for s in self.seen if s.status == 200]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_PUT(self) -> None:
                received = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                key = unquote(urlsplit(self.path).path.split("/", 2)[2])
                with fake.lock:
                    fake.attempts[key] += 1
                    attempt = fake.attempts[key]
                delay_s, status = fake.plan(key, attempt)
                time.sleep(delay_s)
                with fake.lock:  # noted before answering, so a client that got its answer finds it here
                    fake.seen.append(Seen(key, received, time.time(), len(body), status))
                payload = b""
                self.send_response(status)
                if status == 200:
                    self.send_header("ETag", f'"{hashlib.md5(body).hexdigest()}"')
                else:
                    code = ERROR_CODES.get(status, "Error")
                    payload = f"<Error><Code>{code}</Code><Message>planned {status}</Message></Error>".encode()
                    self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler
