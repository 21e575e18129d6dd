"""The real handlers on the real local cloud: API front, Invoke API, server, S3 trigger, REPORT lines."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import boto3
import requests
from botocore.config import Config

from labkit.images import generated_images
from labkit.reportlog import iter_report_lines
from localcloud.cloud import LocalCloud
from localcloud.s3 import make_client
from replay.results import result_key, wait_for_results

EVENTS = Path(__file__).resolve().parent.parent / "events"
IMAGE = generated_images(1)[0].data
JSON_BODY = json.dumps({"image": base64.b64encode(IMAGE).decode()})


def _post(url: str, body: str | bytes, content_type: str = "application/json") -> requests.Response:
    return requests.post(f"{url}/predict", data=body, headers={"Content-Type": content_type}, timeout=60)


def _reports_for(cloud: LocalCloud, request_id: str) -> list:
    return [r for r in iter_report_lines(Path(cloud.endpoints.aggregate_log)) if r.request_id == request_id]


def test_api_front_cold_then_warm_with_matching_platform_facts(cloud: LocalCloud):
    first = _post(cloud.endpoints.faas_url, JSON_BODY)
    second = _post(cloud.endpoints.faas_url, JSON_BODY)
    assert first.status_code == second.status_code == 200
    a, b = first.json(), second.json()
    assert a["cold_start"] is True and a["init_ms"] > 0
    assert b["cold_start"] is False and b["instance_id"] == a["instance_id"]
    assert len(a["top5"]) == 5 and a["weights"] == "random" and a["model_name"] == "smallcnn"
    # the handler and the platform name the same execution environment and request
    assert first.headers["x-loadlab-instance-id"] == a["instance_id"]
    assert first.headers["x-loadlab-cold-start"] == "true"
    assert first.headers["access-control-allow-origin"] == "*"
    (cold_report,) = _reports_for(cloud, a["function_request_id"])
    (warm_report,) = _reports_for(cloud, b["function_request_id"])
    assert cold_report.init_duration_ms is not None and warm_report.init_duration_ms is None
    assert warm_report.billed_duration_ms >= warm_report.duration_ms


def test_bad_input_is_a_clear_4xx_through_the_front(cloud: LocalCloud):
    not_image = _post(cloud.endpoints.faas_url, json.dumps({"image": base64.b64encode(b"hello").decode()}))
    assert not_image.status_code == 400
    assert "error" in not_image.json() and not_image.json()["error"]["message"]
    wrong_type = _post(cloud.endpoints.faas_url, b"x=1", content_type="application/x-www-form-urlencoded")
    assert wrong_type.status_code == 415


def test_invoke_api_with_a_rest_v1_event(cloud: LocalCloud):
    event = json.loads((EVENTS / "apigw_v1_post.json").read_text())
    event["body"] = base64.b64encode(JSON_BODY.encode()).decode()
    event["isBase64Encoded"] = True
    event["headers"]["Content-Type"] = "application/json"
    event["multiValueHeaders"]["Content-Type"] = ["application/json"]
    client = boto3.client("lambda", endpoint_url=cloud.endpoints.faas_url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          config=Config(retries={"max_attempts": 1}))  # fmt: skip
    answer = client.invoke(FunctionName="inference-api", Payload=json.dumps(event).encode(), LogType="Tail")
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    proxy = json.loads(answer["Payload"].read())
    assert proxy["statusCode"] == 200 and len(json.loads(proxy["body"])["top5"]) == 5
    assert "REPORT RequestId:" in base64.b64decode(answer["LogResult"]).decode()


def test_server_serves_the_same_core(cloud: LocalCloud):
    assert requests.get(f"{cloud.endpoints.server_url}/healthz", timeout=10).status_code == 200
    answer = _post(cloud.endpoints.server_url, IMAGE, content_type="image/jpeg")
    assert answer.status_code == 200
    body = answer.json()
    assert body["cold_start"] is False and body["model_name"] == "smallcnn" and len(body["top5"]) == 5
    assert 'type="file"' in requests.get(f"{cloud.endpoints.server_url}/", timeout=10).text


def test_s3_upload_triggers_the_function_once(cloud: LocalCloud):
    s3 = make_client("s3", cloud.endpoints.s3_endpoint_url)
    key = f"e2e/{time.time_ns()}/cat photo.jpg"
    etag = s3.put_object(Bucket=cloud.endpoints.input_bucket, Key=key, Body=IMAGE)["ETag"].strip('"')
    results = wait_for_results(s3, cloud.endpoints.output_bucket, [key], timeout_s=60)
    assert key in results, "no result object arrived within 60 s"
    doc = results[key]
    assert doc["input_key"] == key and doc["input_etag"] == etag and len(doc["top5"]) == 5
    assert doc["completed_unix_s"] >= doc["received_unix_s"]
    listed = s3.list_objects_v2(Bucket=cloud.endpoints.output_bucket, Prefix=result_key(key))
    assert listed["KeyCount"] == 1
    assert cloud.bridge is not None and cloud.bridge.stats().delivered >= 1
