"""The API Gateway Lambda adapter on v1 and v2 events, with real inference (smallcnn)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from handlers_testkit import FakeLambdaContext, b64, load_event, make_image_bytes

from handlers.core import PREDICTION_KEYS
from handlers.http_io import MAX_PAYLOAD_BYTES


@pytest.fixture
def api(smallcnn_env: Path, fresh_import: Any) -> ModuleType:
    return fresh_import("handlers.lambda_api")


def v1_raw(data: bytes, content_type: str = "image/jpeg") -> dict[str, Any]:
    event = load_event("apigw_v1_post.json")
    event["body"] = b64(data)
    event["headers"]["Content-Type"] = content_type
    return event


def v2_json(body: str, content_type: str = "application/json") -> dict[str, Any]:
    event = load_event("apigw_v2_post.json")
    event["body"] = body
    event["headers"]["content-type"] = content_type
    return event


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"])


def test_v1_raw_image_body(api: ModuleType, jpeg_bytes: bytes) -> None:
    response = api.handler(v1_raw(jpeg_bytes), FakeLambdaContext())
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is False
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["headers"]["Access-Control-Allow-Origin"] == "*"
    body = body_of(response)
    assert tuple(body) == PREDICTION_KEYS
    assert body["function_request_id"] == FakeLambdaContext.aws_request_id
    assert (body["memory_mb"], body["input_bytes"], body["image_width_px"]) == (2048, len(jpeg_bytes), 320)
    assert body["max_memory_used_mb"] > 10


def test_v2_json_body(api: ModuleType, png_bytes: bytes) -> None:
    response = api.handler(v2_json(json.dumps({"image": b64(png_bytes)})), None)
    assert response["statusCode"] == 200
    body = body_of(response)
    assert (body["image_width_px"], body["image_height_px"]) == (200, 300)
    assert body["function_request_id"] == "id"  # no context: API Gateway's request id
    assert len(body["top5"]) == 5


def test_cold_start_then_warm(api: ModuleType, jpeg_bytes: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    first = body_of(api.handler(v1_raw(jpeg_bytes), FakeLambdaContext()))
    second = body_of(api.handler(v1_raw(jpeg_bytes), FakeLambdaContext(aws_request_id="r2")))
    assert (first["cold_start"], second["cold_start"]) == (True, False)
    assert first["init_ms"] > 0 and second["init_ms"] is None
    assert first["instance_id"] == second["instance_id"]
    logs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["request_id"], x["cold_start"], x["status_code"]) for x in logs] == [
        (FakeLambdaContext.aws_request_id, True, 200), ("r2", False, 200),
    ]  # fmt: skip
    assert logs[0]["inference_ms"] == first["inference_ms"]


def test_a_new_process_is_cold_again(smallcnn_env: Path, fresh_import: Any, jpeg_bytes: bytes) -> None:
    first = body_of(fresh_import("handlers.lambda_api").handler(v1_raw(jpeg_bytes), None))
    again = body_of(fresh_import("handlers.lambda_api").handler(v1_raw(jpeg_bytes), None))
    assert first["cold_start"] and again["cold_start"]
    assert first["instance_id"] != again["instance_id"]


TRUNCATED_JPEG = make_image_bytes(320, 240, "JPEG")[:1500]


@pytest.mark.parametrize(
    ("event", "status", "kind", "fragment"),
    [
        (
            v1_raw(b"just some text, not an image", "application/octet-stream"),
            400,
            "unsupported_image_format",
            "JPEG or PNG",
        ),
        (v1_raw(TRUNCATED_JPEG), 400, "corrupt_image", "truncated"),
        (v2_json(json.dumps({"image": "@@not base64@@"})), 400, "bad_base64", "base64"),
        (v2_json("{not json"), 400, "bad_json", "JSON"),
        (v2_json(json.dumps({"picture": "abc"})), 400, "missing_image", '"image"'),
        (v2_json(""), 400, "empty_body", "empty"),
        (v2_json("hello", "text/plain"), 415, "unsupported_media_type", "text/plain"),
        (v2_json("x" * (MAX_PAYLOAD_BYTES + 1), "image/jpeg"), 413, "payload_too_large", str(MAX_PAYLOAD_BYTES)),
    ],
)
def test_bad_requests_get_clear_4xx(
    api: ModuleType, event: dict[str, Any], status: int, kind: str, fragment: str
) -> None:
    response = api.handler(event, FakeLambdaContext())
    assert response["statusCode"] == status
    assert response["headers"]["Access-Control-Allow-Origin"] == "*"
    error = body_of(response)["error"]
    assert error["kind"] == kind
    assert fragment in error["message"]


def test_bad_base64_event_body(api: ModuleType) -> None:
    event = v1_raw(b"")
    event["body"] = "!!!!"
    response = api.handler(event, None)
    assert (response["statusCode"], body_of(response)["error"]["kind"]) == (400, "bad_base64")


def test_cors_preflight_info_and_wrong_method(api: ModuleType) -> None:
    event = load_event("apigw_v2_post.json")
    event["requestContext"]["http"]["method"] = "OPTIONS"
    preflight = api.handler(event, None)
    assert (preflight["statusCode"], preflight["body"]) == (204, "")
    assert "POST" in preflight["headers"]["Access-Control-Allow-Methods"]
    event["requestContext"]["http"]["method"] = "GET"
    info = body_of(api.handler(event, None))
    assert info == {
        "status": "ok", "model_name": "smallcnn", "weights": "random",
        "model_source": "builtin", "runtime": "onnxruntime",
    }  # fmt: skip
    event["requestContext"]["http"]["method"] = "DELETE"
    assert api.handler(event, None)["statusCode"] == 405


def test_model_load_failure_is_a_500_not_a_crash(
    smallcnn_env: Path, fresh_import: Any, monkeypatch: pytest.MonkeyPatch, jpeg_bytes: bytes
) -> None:
    monkeypatch.setenv("MODEL_NAME", "nosuchnet")
    api = fresh_import("handlers.lambda_api")
    response = api.handler(v1_raw(jpeg_bytes), None)
    assert response["statusCode"] == 500
    assert body_of(response)["error"]["kind"] == "unknown_model"
