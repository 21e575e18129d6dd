"""Typed event wrappers on AWS-shaped sample events."""

from __future__ import annotations

import pytest
from handlers_testkit import b64, load_event

from handlers.errors import BadInput
from handlers.events import ApiGatewayRequest, Headers, S3Record


def test_rest_api_v1_event() -> None:
    event = load_event("apigw_v1_post.json")
    event["body"] = b64(b"\xff\xd8\xffdata")
    request = ApiGatewayRequest.from_event(event)
    assert (request.payload_version, request.method, request.path) == ("1.0", "POST", "/predict")
    assert request.request_id == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert request.content_type == "image/jpeg"
    assert request.headers["CONTENT-TYPE"] == request.headers["content-type"]
    assert request.body_bytes() == b"\xff\xd8\xffdata"
    assert request.query == {"foo": "bar"}


def test_http_api_v2_event() -> None:
    request = ApiGatewayRequest.from_event(load_event("apigw_v2_post.json"))
    assert (request.payload_version, request.method, request.path) == ("2.0", "POST", "/predict")
    assert request.request_id == "id"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body_bytes() == b'{"image": ""}'
    assert not request.is_base64_encoded


def test_bad_base64_body_and_non_object_event() -> None:
    event = load_event("apigw_v1_post.json")
    event["body"] = "%%% not base64 %%%"
    with pytest.raises(BadInput, match="isBase64Encoded"):
        ApiGatewayRequest.from_event(event).body_bytes()
    with pytest.raises(BadInput, match="API Gateway proxy event"):
        ApiGatewayRequest.from_event(["not", "an", "event"])  # type: ignore[arg-type]


def test_headers_are_case_insensitive_and_drop_nulls() -> None:
    headers = Headers({"X-Thing": "1", "Empty": None})
    assert "x-thing" in headers and "X-THING" in headers and "empty" not in headers
    assert dict(headers) == {"x-thing": "1"}


def test_s3_put_event() -> None:
    (record,) = S3Record.from_event(load_event("s3_put.json"))
    assert (record.bucket, record.key) == ("example-bucket", "test/key")
    assert (record.size_bytes, record.etag, record.sequencer) == (
        1024,
        "0123456789abcdef0123456789abcdef",
        "0A1B2C3D4E5F678901",
    )
    assert (record.event_name, record.event_time, record.region) == (
        "ObjectCreated:Put", "1970-01-01T00:00:00.000Z", "us-east-1",
    )  # fmt: skip


def test_s3_keys_are_url_decoded_plus_is_space() -> None:
    event = load_event("s3_put.json")
    event["Records"][0]["s3"]["object"]["key"] = "holiday+photos/caf%C3%A9+%2B+bar.jpg"
    assert S3Record.from_event(event)[0].key == "holiday photos/café + bar.jpg"


def test_s3_bad_events() -> None:
    with pytest.raises(BadInput, match="Records"):
        S3Record.from_event({"Event": "s3:TestEvent"})
    event = load_event("s3_put.json")
    del event["Records"][0]["s3"]["bucket"]["name"]
    with pytest.raises(BadInput, match=r"s3\.bucket\.name"):
        S3Record.from_event(event)
