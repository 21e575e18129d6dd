"""Hostile events and bodies get a 400 with a clear error kind, never a 500; a bad S3 record gets an error
result (so the poison event is answered, not retried forever).

Events start from the samples in tests/events/; S3 is moto's in-process mock (no traffic at all).
"""

from __future__ import annotations

import base64
import copy
import importlib
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from handlers.errors import BadInput
from handlers.events import ApiGatewayRequest, BadRecord, S3Record

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
DEEP_JSON = "[" * 100_000
INPUT_BUCKET, RESULTS_BUCKET = "uploads", "uploads-results"
MODEL_ENV = ("MODEL_SOURCE", "MODEL_PATH", "MODEL_URI", "MODEL_DIR", "MODEL_FILE", "MODEL_SEED", "LABELS_PATH",
             "OUTPUT_BUCKET", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE")  # fmt: skip


def load_event(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EVENTS_DIR / name).read_text()))


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 80, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def model_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in MODEL_ENV:
        monkeypatch.delenv(name, raising=False)
    env = {"MODEL_NAME": "smallcnn", "MODEL_CACHE_DIR": str(tmp_path_factory.getbasetemp() / "models"),
           "ORT_THREADS": "1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def fresh(name: str) -> ModuleType:
    sys.modules.pop(name, None)
    return importlib.import_module(name)


@pytest.fixture
def api(model_env: None) -> Iterator[ModuleType]:
    yield fresh("handlers.lambda_api")
    sys.modules.pop("handlers.lambda_api", None)


@pytest.fixture
def server(model_env: None) -> Iterator[ModuleType]:
    yield fresh("handlers.server")
    sys.modules.pop("handlers.server", None)


def _v1(**fields: Any) -> dict[str, Any]:
    event = load_event("apigw_v1_post.json")
    event.update(fields)
    return event


def _v2(**fields: Any) -> dict[str, Any]:
    event = load_event("apigw_v2_post.json")
    event.update(fields)
    return event


def _answer(api: ModuleType, event: Any) -> tuple[int, dict[str, Any]]:
    response = api.handler(event, None)
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(
    ("event", "kind", "fragment"),
    [
        (_v2(body=DEEP_JSON), "bad_json", "nests JSON too deeply"),
        (_v2(body='{"image": ' + DEEP_JSON), "bad_json", "nests JSON too deeply"),
        (_v1(body=5), "bad_event", "body must be a string, got a number"),
        (_v2(body=[DEEP_JSON]), "bad_event", "body must be a string, got an array"),
        (_v1(headers=["Content-Type", "image/jpeg"]), "bad_event", "headers must be a JSON object, got an array"),
        (_v1(headers={"Content-Type": {"a": 1}}), "bad_event", "header 'Content-Type' must be a string"),
        (_v1(isBase64Encoded="false"), "bad_event", "isBase64Encoded must be true or false, got a string"),
        (_v2(isBase64Encoded=1), "bad_event", "isBase64Encoded must be true or false, got a number"),
        (_v1(requestContext=[1]), "bad_event", "requestContext must be a JSON object"),
        (_v2(requestContext={"http": "POST"}), "bad_event", "requestContext.http must be a JSON object"),
        (_v1(httpMethod=["POST"]), "bad_event", "httpMethod must be a string"),
        (_v1(queryStringParameters="a=b"), "bad_event", "queryStringParameters must be a JSON object"),
        (_v2(body='{"image": "\ud800"}'), "bad_body", "not valid Unicode"),
    ],
    ids=["deep-array", "deep-in-object", "body-number", "body-array", "headers-list", "header-object",
         "b64-string", "b64-number", "context-list", "http-string", "method-list", "query-string", "surrogate"],
)  # fmt: skip
def test_api_gateway_bad_events_are_400_with_a_kind(
    api: ModuleType, event: dict[str, Any], kind: str, fragment: str
) -> None:
    status, body = _answer(api, event)
    assert (status, body["error"]["kind"]) == (400, kind), body
    assert fragment in body["error"]["message"]


def test_a_good_event_still_predicts(api: ModuleType) -> None:
    event = _v1(body=base64.b64encode(jpeg()).decode("ascii"))
    status, body = _answer(api, event)
    assert status == 200 and len(body["top5"]) == 5


def test_the_server_answers_a_deeply_nested_body_with_400(server: ModuleType) -> None:
    payload = DEEP_JSON.encode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/predict", "CONTENT_TYPE": "application/json",
               "CONTENT_LENGTH": str(len(payload)), "wsgi.input": io.BytesIO(payload)}  # fmt: skip
    seen: list[str] = []
    chunks = server.app(environ, lambda status, headers: seen.append(status))
    body = json.loads(b"".join(chunks))
    assert seen == ["400 Bad Request"] and body["error"]["kind"] == "bad_json"


def _s3_event(**object_fields: Any) -> dict[str, Any]:
    event = load_event("s3_put.json")
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = INPUT_BUCKET
    record["s3"]["object"].update(object_fields)
    return event


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"size": "abc"}, "s3.object.size must be a whole number of bytes, got 'abc'"),
        ({"size": -1}, "s3.object.size must be a whole number of bytes"),
        ({"size": [1]}, "got an array"),
        ({"eTag": 5}, "s3.object.eTag must be a string"),
        ({"key": 5}, "s3.object.key must be a string"),
    ],
)
def test_s3_records_with_wrong_typed_fields_are_bad_records(fields: dict[str, Any], fragment: str) -> None:
    (bad,) = S3Record.parse_event(_s3_event(**fields))
    assert isinstance(bad, BadRecord) and bad.error.kind == "bad_event"
    assert fragment in bad.error.message
    with pytest.raises(BadInput, match="s3"):
        S3Record.from_event(_s3_event(**fields))


@pytest.fixture
def s3(model_env: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=INPUT_BUCKET)
        client.create_bucket(Bucket=RESULTS_BUCKET)
        yield client


def test_a_poison_s3_record_gets_an_error_result_and_the_rest_are_processed(s3: Any) -> None:
    s3_handler = fresh("handlers.lambda_s3")
    etag = s3.put_object(Bucket=INPUT_BUCKET, Key="good.jpg", Body=jpeg())["ETag"].strip('"')
    event = _s3_event(key="poison.jpg", size="abc")
    missing_key = copy.deepcopy(event["Records"][0])
    del missing_key["s3"]["object"]["key"]
    good = _s3_event(key="good.jpg", size=1, eTag=etag)["Records"][0]
    event["Records"] += [missing_key, good]
    summary = s3_handler.handler(event, None)  # returns: no exception, so no retry of the whole event
    assert (summary["records"], summary["errors"], summary["done"]) == (3, 2, 1)
    poison = json.loads(s3.get_object(Bucket=RESULTS_BUCKET, Key="results/poison.jpg.json")["Body"].read())
    assert poison["error"]["kind"] == "bad_event" and poison["status_code"] == 400
    assert "s3.object.size" in poison["error"]["message"] and poison["input_key"] == "poison.jpg"
    no_key = summary["results"][1]
    assert no_key["status"] == "error" and "s3.object.key" in no_key["error"]["message"]
    assert no_key["output_key"] is None
    assert "top5" in json.loads(s3.get_object(Bucket=RESULTS_BUCKET, Key="results/good.jpg.json")["Body"].read())


def test_a_poison_copy_never_overwrites_a_real_result(s3: Any) -> None:
    s3_handler = fresh("handlers.lambda_s3")
    s3.put_object(Bucket=RESULTS_BUCKET, Key="results/seen.jpg.json", Body=b'{"top5": []}')
    summary = s3_handler.handler(_s3_event(key="seen.jpg", size="abc"), None)
    assert summary["errors"] == 1
    assert s3.get_object(Bucket=RESULTS_BUCKET, Key="results/seen.jpg.json")["Body"].read() == b'{"top5": []}'


def test_api_gateway_fields_are_checked_without_a_model() -> None:
    with pytest.raises(BadInput, match="body must be a string"):
        ApiGatewayRequest.from_event(_v1(body=5))
