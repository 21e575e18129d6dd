"""The EC2 server: a plain WSGI app, run as `gunicorn handlers.server:app -w 2 -b 127.0.0.1:8000`.

    POST /predict   same bodies, responses and errors as the API Gateway adapter
    GET  /healthz   200 {"status": "ok", "model_name", ...} once the model is loaded, else 503
    GET  /          a small upload page

Each worker loads the model when it imports this module (at boot). For the server, `cold_start`
is always false and `init_ms` is the worker's boot load time; `instance_id` identifies the worker;
`function_request_id` is the X-Request-Id header if sent, else a fresh uuid.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import psutil

from handlers.adapter import Adapter
from handlers.errors import BadInput, MethodNotAllowed, NotFound
from handlers.http_io import (
    MAX_PAYLOAD_BYTES,
    check_payload_size,
    dumps,
    error_response,
    extract_image,
    response_headers,
)
from handlers.page import INDEX_HTML

ADAPTER = Adapter("server")
MEMORY_MB = psutil.virtual_memory().total // 2**20
STATUS_TEXT = {
    200: "OK", 204: "No Content", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
    413: "Payload Too Large", 415: "Unsupported Media Type", 500: "Internal Server Error",
    501: "Not Implemented", 503: "Service Unavailable",
}  # fmt: skip
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def read_body(environ: dict[str, Any]) -> bytes:
    """The request body; PayloadTooLarge (before reading) when Content-Length is over the limit."""
    length_text = environ.get("CONTENT_LENGTH") or ""
    stream = environ["wsgi.input"]
    if length_text:
        try:
            length = int(length_text)
        except ValueError as exc:
            raise BadInput("bad_content_length", f"Content-Length {length_text!r} is not a number") from exc
        check_payload_size(length, MAX_PAYLOAD_BYTES)
        return stream.read(length) if length > 0 else b""
    body = stream.read(MAX_PAYLOAD_BYTES + 1)  # chunked or unknown length
    check_payload_size(len(body), MAX_PAYLOAD_BYTES)
    return body


def health() -> tuple[int, dict[str, Any]]:
    if ADAPTER.load_error is not None or ADAPTER.model_name is None:
        try:
            ADAPTER.service()
        except Exception as exc:
            return 503, error_response(exc)[1]
    service = ADAPTER.service()
    return 200, {
        "status": "ok",
        "model_name": service.model_name,
        "weights": service.ref.weights,
        "model_source": service.ref.source,
        "runtime": service.runtime,
        "instance_id": ADAPTER.runtime.instance_id,
        "init_ms": ADAPTER.runtime.init_ms,
        "model_load_ms": service.model_load_ms,
        "intra_op_threads": service.threads,
    }


def predict(environ: dict[str, Any], start_s: float, request_id: str) -> tuple[int, dict[str, Any]]:
    image = extract_image(environ.get("CONTENT_TYPE"), read_body(environ), MAX_PAYLOAD_BYTES)
    body = ADAPTER.predict(
        image,
        start_s=start_s,
        cold_start=False,
        init_ms=ADAPTER.runtime.init_ms,
        request_id=request_id,
        memory_mb=MEMORY_MB,
    )
    return 200, body


def route(environ: dict[str, Any], start_s: float, request_id: str) -> tuple[int, dict[str, Any] | None]:
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO") or "/"
    allowed = {"/predict": ("POST", "OPTIONS"), "/healthz": ("GET", "HEAD"), "/": ("GET", "HEAD")}
    if path not in allowed:
        raise NotFound("not_found", f"no route {path}; try POST /predict, GET /healthz or GET /")
    if method not in allowed[path]:
        raise MethodNotAllowed("method_not_allowed", f"{method} {path} is not supported; use {allowed[path][0]}")
    if method == "OPTIONS":
        return 204, None
    if path == "/healthz":
        return health()
    return predict(environ, start_s, request_id)


def _respond(start_response: StartResponse, status: int, payload: bytes, content_type: str) -> list[bytes]:
    headers = response_headers({"Content-Type": content_type, "Content-Length": str(len(payload))})
    start_response(f"{status} {STATUS_TEXT.get(status, 'Unknown')}", list(headers.items()))
    return [payload]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The WSGI application."""
    start_s = time.perf_counter()
    request_id = environ.get("HTTP_X_REQUEST_ID") or uuid.uuid4().hex
    if (environ.get("PATH_INFO") or "/") == "/" and environ.get("REQUEST_METHOD", "GET") in ("GET", "HEAD"):
        return _respond(start_response, 200, INDEX_HTML.encode("utf-8"), "text/html; charset=utf-8")
    ADAPTER.runtime.begin_invocation()
    try:
        status, body = route(environ, start_s, request_id)
    except Exception as exc:  # errors are data: every failure becomes a JSON error response
        status, body = error_response(exc)
    if environ.get("PATH_INFO") == "/predict":
        ADAPTER.log(request_id, status, start_s, body or {}, cold_start=False)
    payload = dumps(body).encode("utf-8") if body is not None else b""
    return _respond(start_response, status, payload, "application/json")
