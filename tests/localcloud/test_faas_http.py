"""The platform's HTTP front: Lambda's Invoke API through boto3, and the API-Gateway-like proxy."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

from labkit.errors import ConfigError
from labkit.reportlog import parse_report_line
from localcloud.faas.apigw import ApiRoute
from localcloud.faas.http_front import PlatformServer, start_platform_server
from localcloud.faas.platform import Platform
from localcloud.faas.spec import FunctionSpec

FIXTURES = Path(__file__).resolve().parent
pytestmark = pytest.mark.timeout(60)


def spec(name: str, handler: str, **kwargs: Any) -> FunctionSpec:
    return FunctionSpec(name=name, handler=f"faas_fixture_handlers.{handler}", python_path=(FIXTURES,), **kwargs)


ROUTES = [
    ApiRoute("ANY", "/v2/{proxy+}", "echo", "2.0"),
    ApiRoute("POST", "/v1/items/{item}", "echo", "1.0"),
    ApiRoute("POST", "/single", "single", "2.0"),
    ApiRoute("POST", "/boom", "boom", "1.0"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformServer]:
    specs = [
        spec("echo", "echo", timeout_s=5),
        spec("sleepy", "sleep"),
        spec("boom", "boom"),
        spec("single", "echo", concurrency_limit=1),
        spec("solo", "sleep", concurrency_limit=1),
    ]
    platform = Platform(specs, tmp_path_factory.mktemp("faas-http"), async_retry_delays_s=(0.05, 0.05))
    front = start_platform_server(platform, routes=ROUTES, integration_timeout_s=1.0)
    yield front
    front.close()
    platform.close()


@pytest.fixture(scope="module")
def lambda_client(server: PlatformServer) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=botocore.config.Config(retries={"max_attempts": 1}),  # a 429 must reach the test
    )


def hold(server: PlatformServer, function_name: str, payload: bytes) -> threading.Thread:
    """Keep `function_name` busy in a background thread until its environment is taken."""
    caller = threading.Thread(target=server.platform.invoke, args=(function_name, payload), daemon=True)
    caller.start()
    deadline = time.monotonic() + 5.0
    while server.platform.stats()["functions"][function_name]["environments_busy"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return caller


def test_health_and_stats(server: PlatformServer) -> None:
    assert requests.get(f"{server.url}/_loadlab/health", timeout=5).status_code == 200
    stats = requests.get(f"{server.url}/_loadlab/stats", timeout=5).json()
    assert set(stats["functions"]) == {"echo", "sleepy", "boom", "single", "solo"}


def test_boto3_invoke_with_tail_logs(lambda_client: Any) -> None:
    response = lambda_client.invoke(FunctionName="sleepy", Payload=b'{"sleep_ms": 5}', LogType="Tail")
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert json.loads(response["Payload"].read())["slept_ms"] == 5.0
    logs = base64.b64decode(response["LogResult"]).decode()
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    request_id = headers["x-loadlab-request-id"]
    assert f"START RequestId: {request_id} Version: $LATEST" in logs
    report = parse_report_line(next(line for line in logs.splitlines() if line.startswith("REPORT")))
    assert report is not None and report.request_id == request_id
    assert headers["x-loadlab-cold-start"] in ("true", "false") and headers["x-loadlab-instance-id"]
    by_arn = lambda_client.invoke(FunctionName="arn:aws:lambda:us-east-1:123456789012:function:sleepy:$LATEST")
    assert by_arn["StatusCode"] == 200


def test_boto3_function_error_event_and_dry_run(lambda_client: Any, server: PlatformServer) -> None:
    failed = lambda_client.invoke(FunctionName="boom", Payload=b'{"message": "nope"}')
    assert failed["StatusCode"] == 200 and failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "FixtureError"
    queued = lambda_client.invoke(FunctionName="sleepy", InvocationType="Event", Payload=b"{}")
    assert queued["StatusCode"] == 202
    assert server.platform.drain_async(5.0)
    assert lambda_client.invoke(FunctionName="sleepy", InvocationType="DryRun")["StatusCode"] == 204


def test_boto3_errors(lambda_client: Any, server: PlatformServer) -> None:
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="missing")
    with pytest.raises(lambda_client.exceptions.RequestTooLargeException):
        lambda_client.invoke(FunctionName="sleepy", Payload=b'"' + b"x" * 6_300_000 + b'"')
    caller = hold(server, "solo", b'{"sleep_ms": 1500}')
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        lambda_client.invoke(FunctionName="solo", Payload=b"{}")
    error = raised.value.response
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    caller.join(timeout=5.0)


def test_api_gateway_v2_event_and_response(server: PlatformServer) -> None:
    response = requests.post(
        f"{server.url}/v2/a/b?x=1&x=2&y=",
        json={"k": "v"},
        headers={"X-Custom": "c", "Cookie": "s=1; t=2"},
        timeout=10,
    )
    assert response.status_code == 200 and response.headers["x-echo"] == "yes"
    for name in ("cold-start", "init-ms", "instance-id", "request-id", "duration-ms"):
        assert f"x-loadlab-{name}" in response.headers
    event = response.json()["event"]
    assert event["version"] == "2.0" and event["routeKey"] == "ANY /v2/{proxy+}"
    assert (event["rawPath"], event["rawQueryString"]) == ("/v2/a/b", "x=1&x=2&y=")
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["headers"]["x-custom"] == "c" and all(k == k.lower() for k in event["headers"])
    assert event["cookies"] == ["s=1", "t=2"] and event["pathParameters"] == {"proxy": "a/b"}
    context = event["requestContext"]
    assert context["http"]["method"] == "POST" and context["http"]["path"] == "/v2/a/b"
    assert context["http"]["sourceIp"] == "127.0.0.1" and context["requestId"]
    assert isinstance(context["timeEpoch"], int) and context["stage"] == "$default"
    assert json.loads(event["body"]) == {"k": "v"} and event["isBase64Encoded"] is False
    raw = requests.get(f"{server.url}/v2/raw", headers={"x-fixture-mode": "raw"}, timeout=10)
    assert raw.status_code == 200 and raw.json() == {"hello": "world"}


def test_api_gateway_binary_bodies(server: PlatformServer) -> None:
    image = bytes(range(256)) * 4
    response = requests.post(f"{server.url}/v2/upload", data=image, headers={"Content-Type": "image/jpeg"}, timeout=10)
    event = response.json()["event"]
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == image
    binary = requests.post(f"{server.url}/v2/bin", headers={"x-fixture-mode": "binary"}, timeout=10)
    assert binary.status_code == 201 and binary.content == b"\x00\x01binary"


def test_api_gateway_v1_event(server: PlatformServer) -> None:
    response = requests.post(
        f"{server.url}/v1/items/42?a=1&a=2", data="plain", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert response.status_code == 200
    event = response.json()["event"]
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/v1/items/{item}", "/v1/items/42", "POST")
    assert event["queryStringParameters"] == {"a": "2"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["pathParameters"] == {"item": "42"}
    assert event["headers"]["Content-Type"] == "text/plain"
    assert event["multiValueHeaders"]["Content-Type"] == ["text/plain"]
    context = event["requestContext"]
    assert context["stage"] == "prod" and context["requestId"] and isinstance(context["requestTimeEpoch"], int)
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert event["body"] == "plain" and event["isBase64Encoded"] is False


def test_api_gateway_error_mapping(server: PlatformServer) -> None:
    url = server.url
    assert requests.post(f"{url}/nowhere", timeout=10).status_code == 404
    too_big = requests.post(f"{url}/v2/big", data=b"x" * (10 * 1024 * 1024 + 1), timeout=30)
    assert too_big.status_code == 413
    crashed = requests.post(f"{url}/boom", json={}, timeout=10)
    assert crashed.status_code == 502 and crashed.json() == {"message": "Internal server error"}
    broken = requests.post(f"{url}/v2/x", headers={"x-fixture-mode": "broken"}, timeout=10)
    assert broken.status_code == 502
    slow = requests.post(f"{url}/v2/x", headers={"x-fixture-mode": "sleep", "x-sleep-ms": "1500"}, timeout=10)
    assert slow.status_code == 504 and slow.json() == {"message": "Endpoint request timed out"}
    caller = hold(server, "single", b'{"headers": {"x-fixture-mode": "sleep", "x-sleep-ms": "1200"}}')
    throttled = requests.post(f"{url}/single", json={}, timeout=10)
    assert throttled.status_code == 429 and throttled.json() == {"message": "Too Many Requests"}
    caller.join(timeout=5.0)


def test_server_refuses_non_loopback_and_unknown_functions(server: PlatformServer) -> None:
    with pytest.raises(ConfigError, match="loopback"):
        PlatformServer(server.platform, host="0.0.0.0")
    with pytest.raises(ConfigError, match="unknown function"):
        PlatformServer(server.platform, routes=[ApiRoute("GET", "/x", "nope")])
