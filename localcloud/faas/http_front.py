"""The platform's HTTP front on loopback: Lambda's Invoke API (boto3-compatible), an API-Gateway-like
proxy for configured routes, Lambda's control plane (Get/UpdateFunctionConfiguration, GetFunction,
Put/Get/DeleteFunctionConcurrency: localcloud.faas.control) and `/_loadlab/health` + `/_loadlab/stats`.

Invoke API: `POST /2015-03-31/functions/{FunctionName}/invocations` with `X-Amz-Invocation-Type`
(RequestResponse | Event | DryRun) and `X-Amz-Log-Type: Tail`; answers carry
`X-Amz-Function-Error`, `X-Amz-Executed-Version`, `X-Amz-Log-Result` (base64, last 4 KB) and, for
errors, `x-amzn-ErrorType` with Lambda's JSON body. Every answer that ran a function also carries
`x-loadlab-cold-start`, `x-loadlab-init-ms`, `x-loadlab-instance-id`, `x-loadlab-request-id`,
`x-loadlab-duration-ms`, `x-loadlab-billed-ms`, `x-loadlab-max-memory-mb`, `x-loadlab-memory-mb`
so clients can record platform facts. Closing the server does not close the platform.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from labkit.errors import ConfigError
from labkit.net import LOOPBACK, is_loopback_host
from localcloud.faas.apigw import (
    API_PAYLOAD_LIMIT_BYTES,
    INTEGRATION_TIMEOUT_S,
    ApiRoute,
    BadProxyResponse,
    HttpRequest,
    build_event,
    gateway_error,
    map_response,
)
from localcloud.faas.control import CONTROL_BODY_LIMIT_BYTES, ControlPlane, parse_function_name
from localcloud.faas.platform import InvokeResult, Platform
from localcloud.faas.spec import SYNC_PAYLOAD_LIMIT_BYTES, VERSION

log = logging.getLogger(__name__)

_INVOKE_RE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
_DRAIN_CHUNK_BYTES = 1 << 20
Answer = tuple[int, list[tuple[str, str]], bytes]


def platform_headers(result: InvokeResult) -> list[tuple[str, str]]:
    """The x-loadlab-* headers describing one invocation."""
    headers = [("x-loadlab-request-id", result.request_id), ("x-loadlab-function", result.function_name)]
    if result.instance_id:
        headers += [
            ("x-loadlab-cold-start", "true" if result.cold_start else "false"),
            ("x-loadlab-init-ms", f"{result.init_ms:.2f}" if result.init_ms is not None else ""),
            ("x-loadlab-instance-id", result.instance_id),
            ("x-loadlab-duration-ms", f"{result.duration_ms or 0.0:.2f}"),
            ("x-loadlab-billed-ms", str(result.billed_ms or 0)),
            ("x-loadlab-max-memory-mb", str(result.max_memory_used_mb or 0)),
            ("x-loadlab-memory-mb", str(result.memory_size_mb or 0)),
        ]
    return headers


def invoke_api_answer(result: InvokeResult, tail: bool) -> Answer:
    """Lambda Invoke API answer for a platform result."""
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", result.request_id)]
    if result.api_error_type:
        headers.append(("x-amzn-ErrorType", result.api_error_type))
    if result.status_code == 200:
        headers.append(("X-Amz-Executed-Version", result.executed_version))
    if result.function_error:
        headers.append(("X-Amz-Function-Error", result.function_error))
    if tail and result.status_code == 200:
        headers.append(("X-Amz-Log-Result", base64.b64encode(result.log_tail[-4096:]).decode("ascii")))
    return result.status_code, headers + platform_headers(result), result.payload


class PlatformServer:
    """A ThreadingHTTPServer in front of a Platform (daemon threads, loopback only)."""

    def __init__(
        self,
        platform: Platform,
        host: str = LOOPBACK,
        port: int = 0,
        routes: Iterable[ApiRoute] = (),
        integration_timeout_s: float = INTEGRATION_TIMEOUT_S,
    ) -> None:
        if not is_loopback_host(host):
            raise ConfigError(f"the platform server binds loopback only, not {host!r}")
        self.platform = platform
        self.control = ControlPlane(platform)
        self.integration_timeout_s = integration_timeout_s
        self.routes: list[ApiRoute] = []
        for route in routes:
            self.add_route(route)
        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.front = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._httpd.server_address[0]}:{self.port}"

    def add_route(self, route: ApiRoute) -> None:
        """Add an API Gateway route; ConfigError when its function is unknown."""
        if route.function_name not in self.platform.specs:
            raise ConfigError(f"route {route.route_key}: unknown function {route.function_name!r}")
        self.routes.append(route)

    def start(self) -> PlatformServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="faas-http", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port (the platform stays open)."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def __enter__(self) -> PlatformServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def find_route(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None

    def invoke_api(self, raw_name: str, query: str, headers: Any, body: bytes) -> Answer:
        """Lambda's Invoke API."""
        name, qualifier = parse_function_name(raw_name, (parse_qs(query).get("Qualifier") or [None])[0])
        invocation_type = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if qualifier not in (None, VERSION):
            name = f"{name}:{qualifier}"  # only $LATEST exists: anything else is not found
        result = self.platform.invoke(name, body, invocation_type)
        return invoke_api_answer(result, (headers.get("X-Amz-Log-Type") or "") == "Tail")

    def api_gateway(self, request: HttpRequest, route: ApiRoute, params: dict[str, str]) -> Answer:
        """API Gateway proxy integration: event, synchronous invoke within the integration timeout, mapping."""
        event = json.dumps(build_event(route, request, params)).encode()
        result = _invoke_with_timeout(self.platform, route.function_name, event, self.integration_timeout_s)
        if result is None:
            return _answer(gateway_error(504, "Endpoint request timed out"))
        extra = [*platform_headers(result), ("x-amzn-RequestId", request.request_id)]
        if result.status_code == 429:
            return _answer(gateway_error(429, "Too Many Requests"), extra)
        if result.status_code == 413:
            return _answer(gateway_error(413, "Request Entity Too Large"), extra)
        if result.status_code != 200 or result.function_error:
            return _answer(gateway_error(502, "Internal server error"), extra)
        try:
            status, headers, body = map_response(route, result.payload)
        except BadProxyResponse as exc:
            log.warning("function %s: malformed proxy response (%s): 502", route.function_name, exc)
            return _answer(gateway_error(502, "Internal server error"), extra)
        return status, headers + extra, body


def _answer(error: tuple[int, dict[str, str], bytes], extra: list[tuple[str, str]] | None = None) -> Answer:
    status, headers, body = error
    return status, list(headers.items()) + (extra or []), body


def _invoke_with_timeout(platform: Platform, name: str, event: bytes, timeout_s: float) -> InvokeResult | None:
    """Invoke in a helper thread; None when it outlives `timeout_s` (the invocation keeps running)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = platform.invoke(name, event)
        except Exception as exc:  # handed to the waiting request thread, which re-raises it
            box["error"] = exc

    worker = threading.Thread(target=run, name="apigw-integration", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        return None
    if "error" in box:
        raise box["error"]
    return box["result"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out as two small writes: without TCP_NODELAY the second waits ~40 ms for the
    # client's delayed ACK (Nagle), adding 40 ms to every keep-alive request (bench_platform_overhead)
    disable_nagle_algorithm = True
    server_version = "loadlab-faas"

    @property
    def front(self) -> PlatformServer:
        return self.server.front  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _read_body(self, limit_bytes: int) -> bytes | None:
        """The request body, or None (drained) when it is larger than `limit_bytes`."""
        length = int(self.headers.get("Content-Length") or 0)
        if length <= limit_bytes:
            return self.rfile.read(length) if length else b""
        while length > 0:  # drain it so the client reads our answer instead of a reset
            chunk = self.rfile.read(min(length, _DRAIN_CHUNK_BYTES))
            if not chunk:
                break
            length -= len(chunk)
        return None

    def _send(self, answer: Answer) -> None:
        status, headers, body = answer
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        try:
            self._send(self._route(parts.path, parts.query))
        except ConnectionError as exc:
            log.debug("platform server: client went away during %s %s: %s", self.command, self.path, exc)
            self.close_connection = True
        except Exception:  # logged with its traceback and answered 500: the server keeps serving
            log.exception("platform server: %s %s failed", self.command, self.path)
            self._send(_answer(gateway_error(500, "Internal server error")))

    def _platform_answer(self, path: str, query: str) -> Answer | None:
        """Health, stats and Lambda's control plane; None for any other request."""
        json_type = [("Content-Type", "application/json")]
        if path == "/_loadlab/health" and self.command == "GET":
            return 200, json_type, b'{"status": "ok"}'
        if path == "/_loadlab/stats" and self.command == "GET":
            return 200, json_type, json.dumps(self.front.platform.stats()).encode()
        control = self.front.control.match(self.command, path)
        if control is not None:
            return self.front.control.handle(control, query, self._read_body(CONTROL_BODY_LIMIT_BYTES))
        return None

    def _route(self, path: str, query: str) -> Answer:
        answer = self._platform_answer(path, query)
        if answer is not None:
            return answer
        invoke = _INVOKE_RE.match(path)
        if invoke and self.command == "POST":
            body = self._read_body(SYNC_PAYLOAD_LIMIT_BYTES * 2)
            if body is None:
                body = b" " * (SYNC_PAYLOAD_LIMIT_BYTES + 1)  # let the platform answer its 413
            return self.front.invoke_api(invoke.group("name"), query, self.headers, body)
        found = self.front.find_route(self.command, path)
        if found is None:
            self._read_body(0)
            return _answer(gateway_error(404, "Not Found"))
        body = self._read_body(API_PAYLOAD_LIMIT_BYTES)
        if body is None:
            return _answer(gateway_error(413, "Request Entity Too Large"))
        request = HttpRequest(self.command, path, query, list(self.headers.items()), body, self.client_address[0])
        return self.front.api_gateway(request, *found)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _dispatch


def start_platform_server(
    platform: Platform,
    host: str = LOOPBACK,
    port: int = 0,
    routes: Iterable[ApiRoute] = (),
    integration_timeout_s: float = INTEGRATION_TIMEOUT_S,
) -> PlatformServer:
    """Start a PlatformServer (serving in a daemon thread) and return it; `.url`, `.close()`."""
    return PlatformServer(platform, host, port, routes, integration_timeout_s).start()
