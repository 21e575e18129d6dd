"""A tiny WSGI app for the gunicorn tests: /healthz, and /predict?sleep_ms=N answering its pid."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/healthz":
        body = b"ok"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/predict":
        query = parse_qs(environ.get("QUERY_STRING", ""))
        sleep_ms = float(query.get("sleep_ms", ["0"])[0])
        time.sleep(sleep_ms / 1000.0)
        body = json.dumps({"pid": os.getpid(), "slept_ms": sleep_ms}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]
