"""The platform's control plane through boto3: Get/UpdateFunctionConfiguration, GetFunction, the waiters,
Put/Get/DeleteFunctionConcurrency, AWS's error shapes; real environment processes on loopback."""

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
import psutil
import pytest
from botocore.exceptions import ClientError, WaiterError

from labkit.reportlog import parse_report_line
from localcloud.faas.http_front import PlatformServer, start_platform_server
from localcloud.faas.platform import Platform
from localcloud.faas.spec import FunctionSpec

FIXTURES = Path(__file__).resolve().parent
pytestmark = pytest.mark.timeout(60)


def spec(name: str, handler: str, **kwargs: Any) -> FunctionSpec:
    return FunctionSpec(name=name, handler=f"faas_fixture_handlers.{handler}", python_path=(FIXTURES,), **kwargs)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PlatformServer]:
    specs = [
        spec("ctx", "context", memory_mb=256, timeout_s=10, environment={"FIXTURE_FLAVOUR": "one"}),
        spec("sleepy", "sleep", timeout_s=10, concurrency_limit=5),
    ]
    platform = Platform(specs, tmp_path / "logs")
    front = start_platform_server(platform)
    yield front
    front.close()
    platform.close()


def client(server: PlatformServer, validate: bool = True) -> Any:
    config = botocore.config.Config(retries={"max_attempts": 1}, parameter_validation=validate)
    return boto3.client(
        "lambda",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def invoke(lam: Any, name: str, event: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str], Any]:
    """(response, HTTP headers, decoded payload) of a RequestResponse invoke with the log tail."""
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), LogType="Tail")
    return response, response["ResponseMetadata"]["HTTPHeaders"], json.loads(response["Payload"].read())


def error_of(call: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Message"]


def test_configuration_get_function_and_waiters(server: PlatformServer) -> None:
    lam = client(server)
    config = lam.get_function_configuration(FunctionName="ctx")
    assert config["FunctionName"] == "ctx" and config["FunctionArn"].endswith(":function:ctx")
    assert (config["MemorySize"], config["Timeout"], config["Version"]) == (256, 10, "$LATEST")
    assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")
    assert config["Environment"]["Variables"] == {"FIXTURE_FLAVOUR": "one"}
    assert config["Handler"] == "faas_fixture_handlers.context" and config["Runtime"].startswith("python3")
    assert config["RevisionId"]
    function = lam.get_function(FunctionName=config["FunctionArn"])
    assert function["Configuration"]["RevisionId"] == config["RevisionId"]
    assert function["Concurrency"] == {"ReservedConcurrentExecutions": 10}
    assert lam.get_function_configuration(FunctionName="ctx", Qualifier="$LATEST")["MemorySize"] == 256
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["ctx", "sleepy"]
    updated = lam.update_function_configuration(FunctionName="ctx", Description="tuned")
    assert updated["Description"] == "tuned" and updated["LastUpdateStatus"] == "Successful"
    started = time.monotonic()
    for waiter in (
        "function_updated",
        "function_updated_v2",
        "function_active",
        "function_active_v2",
        "function_exists",
    ):
        lam.get_waiter(waiter).wait(FunctionName="ctx", WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    assert time.monotonic() - started < 2.0  # every waiter passed on its first poll


def test_memory_update_retires_environments_and_cold_starts_new_ones(server: PlatformServer) -> None:
    lam = client(server)
    _, first, before = invoke(lam, "ctx")
    assert first["x-loadlab-cold-start"] == "true" and before["context"]["memory_limit_in_mb"] == "256"
    _, warm, _ = invoke(lam, "ctx")
    assert warm["x-loadlab-cold-start"] == "false" and warm["x-loadlab-instance-id"] == first["x-loadlab-instance-id"]
    (old,) = server.platform.environments("ctx")
    variables = {"FIXTURE_FLAVOUR": "two"}
    config = lam.update_function_configuration(FunctionName="ctx", MemorySize=512, Environment={"Variables": variables})
    assert config["MemorySize"] == 512 and config["Environment"]["Variables"] == variables
    lam.get_waiter("function_updated").wait(FunctionName="ctx", WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    assert server.platform.environments("ctx") == []  # the idle environment was stopped at once
    assert not psutil.pid_exists(old["pid"]) or psutil.Process(old["pid"]).status() == psutil.STATUS_ZOMBIE
    response, headers, after = invoke(lam, "ctx")
    assert headers["x-loadlab-cold-start"] == "true" and headers["x-loadlab-instance-id"] != old["instance_id"]
    assert headers["x-loadlab-memory-mb"] == "512"
    assert after["context"]["memory_limit_in_mb"] == "512" and after["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert after["env"]["FIXTURE_FLAVOUR"] == "two"
    (report,) = [r for r in map(parse_report_line, base64.b64decode(response["LogResult"]).decode().splitlines()) if r]
    assert report.memory_size_mb == 512 and report.init_duration_ms is not None
    assert server.platform.stats()["functions"]["ctx"]["retired"] == 1


def test_busy_environment_finishes_then_stops_and_timeout_update(server: PlatformServer) -> None:
    lam = client(server)
    box: dict[str, Any] = {}
    caller = threading.Thread(target=lambda: box.update(result=server.platform.invoke("sleepy", b'{"sleep_ms": 800}')))
    caller.start()
    deadline = time.monotonic() + 5.0
    while server.platform.stats()["functions"]["sleepy"]["environments_busy"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert lam.update_function_configuration(FunctionName="sleepy", Timeout=1)["Timeout"] == 1
    caller.join(timeout=10)
    busy = box["result"]
    assert busy.ok and busy.memory_size_mb == 1024  # the old environment completed its invocation...
    assert busy.instance_id not in {e["instance_id"] for e in server.platform.environments("sleepy")}  # ...then stopped
    response, headers, payload = invoke(lam, "sleepy", {"sleep_ms": 1500})
    assert headers["x-loadlab-cold-start"] == "true" and response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout" and "Task timed out after 1.00 seconds" in payload["errorMessage"]
    assert lam.get_function_configuration(FunctionName="sleepy")["Timeout"] == 1


def test_reserved_concurrency_put_zero_and_delete(server: PlatformServer) -> None:
    lam = client(server)
    assert lam.get_function_concurrency(FunctionName="sleepy")["ReservedConcurrentExecutions"] == 5  # configured
    put = lam.put_function_concurrency(FunctionName="sleepy", ReservedConcurrentExecutions=1)
    assert put["ReservedConcurrentExecutions"] == 1
    assert lam.get_function_concurrency(FunctionName="sleepy")["ReservedConcurrentExecutions"] == 1
    caller = threading.Thread(target=server.platform.invoke, args=("sleepy", b'{"sleep_ms": 1000}'))
    caller.start()
    deadline = time.monotonic() + 5.0
    while server.platform.stats()["functions"]["sleepy"]["environments_busy"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    code, status, _ = error_of(lam.invoke, FunctionName="sleepy", Payload=b"{}")
    assert (code, status) == ("TooManyRequestsException", 429)
    caller.join(timeout=10)
    lam.put_function_concurrency(FunctionName="sleepy", ReservedConcurrentExecutions=0)
    assert server.platform.stats()["functions"]["sleepy"]["environments_idle"] == 1
    code, status, _ = error_of(lam.invoke, FunctionName="sleepy", Payload=b"{}")  # even with a warm one idle
    assert (code, status) == ("TooManyRequestsException", 429)
    lam.delete_function_concurrency(FunctionName="sleepy")
    assert lam.get_function_concurrency(FunctionName="sleepy")["ReservedConcurrentExecutions"] == 5
    assert lam.get_function(FunctionName="sleepy")["Concurrency"]["ReservedConcurrentExecutions"] == 5
    response, headers, _ = invoke(lam, "sleepy")
    assert response["StatusCode"] == 200 and headers["x-loadlab-cold-start"] == "false"  # the same environment


def test_bad_values_are_invalid_parameter_values(server: PlatformServer) -> None:
    lam, raw = client(server), client(server, validate=False)  # raw: no client-side checks, the server decides
    bad = [
        (lam.update_function_configuration, {"MemorySize": 20000}),
        (lam.update_function_configuration, {"Timeout": 901}),
        (raw.update_function_configuration, {"MemorySize": 64}),
        (raw.update_function_configuration, {"Timeout": 0}),
        (raw.update_function_configuration, {"MemorySize": "big"}),
        (lam.update_function_configuration, {"Environment": {"Variables": {"1BAD": "x"}}}),
        (lam.update_function_configuration, {"Runtime": "python3.12"}),
        (lam.put_function_concurrency, {"ReservedConcurrentExecutions": 5000}),
        (raw.put_function_concurrency, {"ReservedConcurrentExecutions": -1}),
    ]
    for call, params in bad:
        code, status, message = error_of(call, FunctionName="ctx", **params)
        assert (code, status) == ("InvalidParameterValueException", 400), params
        assert message, params
    code, _, message = error_of(lam.update_function_configuration, FunctionName="ctx", MemorySize=20000)
    assert "less than or equal to 10240" in message
    code, status, _ = error_of(lam.update_function_configuration, FunctionName="ctx", MemorySize=512, RevisionId="x")
    assert (code, status) == ("PreconditionFailedException", 412)
    config = lam.get_function_configuration(FunctionName="ctx")
    assert (config["MemorySize"], config["Timeout"]) == (256, 10)  # nothing changed
    assert lam.get_function_concurrency(FunctionName="ctx")["ReservedConcurrentExecutions"] == 10


def test_unknown_function_is_resource_not_found(server: PlatformServer) -> None:
    lam = client(server)
    calls = [
        (lam.get_function_configuration, {}),
        (lam.get_function, {}),
        (lam.update_function_configuration, {"MemorySize": 512}),
        (lam.put_function_concurrency, {"ReservedConcurrentExecutions": 1}),
        (lam.delete_function_concurrency, {}),
        (lam.get_function_concurrency, {}),
    ]
    for call, params in calls:
        code, status, message = error_of(call, FunctionName="nope", **params)
        assert (code, status) == ("ResourceNotFoundException", 404), call
        assert message == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"
    code, status, _ = error_of(lam.get_function_configuration, FunctionName="ctx", Qualifier="7")
    assert (code, status) == ("ResourceNotFoundException", 404)
    with pytest.raises(WaiterError):
        lam.get_waiter("function_exists").wait(FunctionName="nope", WaiterConfig={"Delay": 1, "MaxAttempts": 1})
