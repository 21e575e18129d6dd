"""The WSGI server app: in-process calls, and a real gunicorn with 2 workers on a loopback port."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from handlers_testkit import b64

from handlers.core import PREDICTION_KEYS
from handlers.http_io import MAX_PAYLOAD_BYTES

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(smallcnn_env: Path, fresh_import: Any) -> ModuleType:
    return fresh_import("handlers.server")


def call(
    app: Any, method: str, path: str, body: bytes = b"", content_type: str | None = None, **extra: str
) -> tuple[int, dict[str, str], bytes]:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(body)}
    environ["CONTENT_LENGTH"] = str(len(body)) if body else ""
    if content_type:
        environ["CONTENT_TYPE"] = content_type
    environ.update(extra)
    setup_testing_defaults(environ)
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"], captured["headers"] = int(status.split(maxsplit=1)[0]), dict(headers)

    payload = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], payload


def test_predict_raw_and_json(server: ModuleType, jpeg_bytes: bytes, png_bytes: bytes) -> None:
    status, headers, payload = call(server.app, "POST", "/predict", jpeg_bytes, "image/jpeg", HTTP_X_REQUEST_ID="req-1")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    body = json.loads(payload)
    assert tuple(body) == PREDICTION_KEYS
    assert (body["cold_start"], body["function_request_id"]) == (False, "req-1")
    assert body["init_ms"] > 0 and body["memory_mb"] > 0
    status, _, payload = call(
        server.app, "POST", "/predict", json.dumps({"image": b64(png_bytes)}).encode(), "application/json"
    )
    assert status == 200 and json.loads(payload)["image_width_px"] == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status", "kind"),
    [
        ("POST", "/predict", b"not an image", "application/octet-stream", 400, "unsupported_image_format"),
        ("POST", "/predict", b"", "image/jpeg", 400, "empty_body"),
        ("POST", "/predict", b'{"image": "??"}', "application/json", 400, "bad_base64"),
        ("POST", "/predict", b"hello", "text/plain", 415, "unsupported_media_type"),
        ("GET", "/predict", b"", None, 405, "method_not_allowed"),
        ("GET", "/nope", b"", None, 404, "not_found"),
    ],
)
def test_errors(
    server: ModuleType, method: str, path: str, body: bytes, content_type: str | None, status: int, kind: str
) -> None:
    got_status, _, payload = call(server.app, method, path, body, content_type)
    assert (got_status, json.loads(payload)["error"]["kind"]) == (status, kind)


def test_oversized_is_rejected_from_content_length(server: ModuleType) -> None:
    environ_extra = {"CONTENT_LENGTH": str(MAX_PAYLOAD_BYTES + 1)}
    status, _, payload = call(server.app, "POST", "/predict", b"", "image/jpeg", **environ_extra)
    assert (status, json.loads(payload)["error"]["kind"]) == (413, "payload_too_large")


def test_healthz_index_and_preflight(server: ModuleType) -> None:
    status, _, payload = call(server.app, "GET", "/healthz")
    health = json.loads(payload)
    assert (status, health["status"], health["model_name"], health["weights"]) == (200, "ok", "smallcnn", "random")
    status, headers, page = call(server.app, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'fetch("predict"' in page and b'<input type="file"' in page
    status, headers, _ = call(server.app, "OPTIONS", "/predict")
    assert status == 204 and "POST" in headers["Access-Control-Allow-Methods"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_json(url: str, data: bytes | None = None, content_type: str = "image/jpeg") -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def gunicorn_url(smallcnn_env: Path, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log_path = tmp_path / "gunicorn.log"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "gunicorn", "handlers.server:app", "-w", "2", "-b", f"127.0.0.1:{port}"]
    log_file = log_path.open("wb")
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get_json(f"{url}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not become healthy: {log_path.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log_file.close()


def test_real_gunicorn_two_workers(gunicorn_url: str, jpeg_bytes: bytes) -> None:
    bodies = [_get_json(f"{gunicorn_url}/predict", jpeg_bytes) for _ in range(6)]
    assert all(status == 200 for status, _ in bodies)
    assert all(tuple(body) == PREDICTION_KEYS and body["cold_start"] is False for _, body in bodies)
    assert len({body["top5"][0]["class_index"] for _, body in bodies}) == 1  # same image, same answer
    status, error = _get_json(f"{gunicorn_url}/predict", b"\xff\xd8\xff truncated", "image/jpeg")
    assert (status, error["error"]["kind"]) == (400, "corrupt_image")
    status, health = _get_json(f"{gunicorn_url}/healthz")
    assert status == 200 and health["model_name"] == "smallcnn" and health["init_ms"] > 0
