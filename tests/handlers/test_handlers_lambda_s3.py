"""The S3-triggered Lambda adapter against moto's in-process S3 (mock_aws)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from handlers_testkit import FakeLambdaContext, load_event
from moto import mock_aws

from handlers.core import PREDICTION_KEYS

INPUT_BUCKET = "uploads"
RESULTS_BUCKET = "uploads-results"
META_KEYS = ("input_bucket", "input_key", "input_etag", "event_time", "received_unix_s", "completed_unix_s")


@pytest.fixture
def s3(smallcnn_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=INPUT_BUCKET)
        client.create_bucket(Bucket=RESULTS_BUCKET)
        yield client


@pytest.fixture
def s3_handler(s3: Any, fresh_import: Any) -> ModuleType:
    return fresh_import("handlers.lambda_s3")


def upload_event(s3: Any, key: str, data: bytes, bucket: str = INPUT_BUCKET) -> dict[str, Any]:
    """PUT the object and build the S3 event notification for it (key URL-encoded as S3 does)."""
    etag = s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"].strip('"')
    event = load_event("s3_put.json")
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    record["s3"]["object"].update(key=quote_plus(key, safe="/"), size=len(data), eTag=etag)
    return event


def read_result(s3: Any, key: str, bucket: str = RESULTS_BUCKET) -> dict[str, Any]:
    return json.loads(s3.get_object(Bucket=bucket, Key=f"results/{key}.json")["Body"].read())


def test_writes_the_prediction_and_input_metadata(s3: Any, s3_handler: ModuleType, jpeg_bytes: bytes) -> None:
    key = "batch 1/cat+dog.jpg"
    event = upload_event(s3, key, jpeg_bytes)
    summary = s3_handler.handler(event, FakeLambdaContext())
    assert (summary["records"], summary["done"], summary["errors"], summary["duplicates"]) == (1, 1, 0, 0)
    assert summary["results"][0]["output_key"] == f"results/{key}.json"
    result = read_result(s3, key)
    assert set(result) == set(PREDICTION_KEYS) | set(META_KEYS)
    assert (result["input_bucket"], result["input_key"]) == (INPUT_BUCKET, key)
    assert result["input_etag"] == event["Records"][0]["s3"]["object"]["eTag"]
    assert result["event_time"] == "1970-01-01T00:00:00.000Z"
    assert result["received_unix_s"] <= result["completed_unix_s"]
    assert result["cold_start"] is True and result["init_ms"] > 0
    assert result["function_request_id"] == FakeLambdaContext.aws_request_id
    assert (result["model_name"], result["weights"], len(result["top5"])) == ("smallcnn", "random", 5)


def test_redelivery_is_a_duplicate_and_a_new_version_is_processed(
    s3: Any, s3_handler: ModuleType, jpeg_bytes: bytes, png_bytes: bytes
) -> None:
    event = upload_event(s3, "a.jpg", jpeg_bytes)
    s3_handler.handler(event, FakeLambdaContext())
    first = read_result(s3, "a.jpg")
    again = s3_handler.handler(event, FakeLambdaContext(aws_request_id="redelivered"))
    assert (again["done"], again["duplicates"]) == (0, 1)
    assert again["results"][0]["status"] == "duplicate"
    assert read_result(s3, "a.jpg") == first  # untouched
    replaced = s3_handler.handler(upload_event(s3, "a.jpg", png_bytes), FakeLambdaContext(aws_request_id="v2"))
    assert replaced["done"] == 1
    second = read_result(s3, "a.jpg")
    assert second["input_etag"] != first["input_etag"]
    assert (second["cold_start"], second["function_request_id"]) == (False, "v2")


def test_bad_images_become_error_results(s3: Any, s3_handler: ModuleType, jpeg_bytes: bytes) -> None:
    summary = s3_handler.handler(upload_event(s3, "notes.txt", b"plain text, no image"), None)
    assert (summary["done"], summary["errors"]) == (0, 1)
    result = read_result(s3, "notes.txt")
    assert result["status_code"] == 400
    assert result["error"]["kind"] == "unsupported_image_format"
    assert result["input_key"] == "notes.txt"
    truncated = s3_handler.handler(upload_event(s3, "cut.jpg", jpeg_bytes[:1000]), None)
    assert truncated["errors"] == 1
    assert read_result(s3, "cut.jpg")["error"]["kind"] == "corrupt_image"


def test_missing_object_output_bucket_env_and_loop_guard(
    s3: Any, s3_handler: ModuleType, jpeg_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = upload_event(s3, "gone.jpg", jpeg_bytes)
    s3.delete_object(Bucket=INPUT_BUCKET, Key="gone.jpg")
    assert s3_handler.handler(gone, None)["errors"] == 1
    assert read_result(s3, "gone.jpg")["error"]["kind"] == "input_missing"
    monkeypatch.setenv("OUTPUT_BUCKET", INPUT_BUCKET)
    assert s3_handler.handler(upload_event(s3, "b.png", jpeg_bytes), None)["done"] == 1
    assert read_result(s3, "b.png", bucket=INPUT_BUCKET)["input_key"] == "b.png"
    loop = s3_handler.handler(upload_event(s3, "results/b.png.json", b"{}"), None)
    assert loop["ignored"] == 1


def test_multiple_records_and_a_non_s3_event(s3: Any, s3_handler: ModuleType, jpeg_bytes: bytes) -> None:
    event = upload_event(s3, "one.jpg", jpeg_bytes)
    event["Records"] += upload_event(s3, "two.jpg", jpeg_bytes)["Records"]
    summary = s3_handler.handler(event, None)
    assert (summary["records"], summary["done"]) == (2, 2)
    assert [read_result(s3, k)["cold_start"] for k in ("one.jpg", "two.jpg")] == [True, False]
    bad = s3_handler.handler({"hello": "world"}, None)
    assert (bad["records"], bad["error"]["kind"]) == (0, "bad_event")
