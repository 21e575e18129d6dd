"""The embedded Lambda-like platform: real environment processes, scheduling, failures, logs."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest

from labkit.errors import ConfigError
from labkit.reportlog import iter_report_lines
from localcloud.faas.platform import InvokeResult, Platform
from localcloud.faas.spec import FunctionSpec

FIXTURES = Path(__file__).resolve().parent
pytestmark = pytest.mark.timeout(60)


def spec(name: str, handler: str, **kwargs: Any) -> FunctionSpec:
    return FunctionSpec(name=name, handler=f"faas_fixture_handlers.{handler}", python_path=(FIXTURES,), **kwargs)


@pytest.fixture
def make_platform(tmp_path: Path) -> Iterator[Any]:
    platforms: list[Platform] = []

    def make(*specs: FunctionSpec, **kwargs: Any) -> Platform:
        platform = Platform(list(specs), tmp_path / "logs", **kwargs)
        platforms.append(platform)
        return platform

    yield make
    for platform in platforms:
        platform.close()


def body(result: InvokeResult) -> Any:
    return json.loads(result.payload)


def wait_until(predicate: Any, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_cold_then_warm_start_with_report_lines(make_platform: Any) -> None:
    platform = make_platform(spec("f", "sleep", environment={"FIXTURE_INIT_MS": "300"}))
    first = platform.invoke("f", b'{"sleep_ms": 20}')
    second = platform.invoke("f", b'{"sleep_ms": 20}')
    assert first.ok and second.ok
    assert first.cold_start and not second.cold_start
    assert first.instance_id == second.instance_id
    assert first.init_ms is not None and first.init_ms >= 300.0
    assert second.init_ms is None
    assert first.duration_ms is not None and 20.0 <= first.duration_ms < 1000.0
    assert first.billed_ms is not None and first.billed_ms >= first.duration_ms
    assert first.max_memory_used_mb is not None and 5 <= first.max_memory_used_mb < 1000
    assert body(first)["pid"] == body(second)["pid"]
    env = platform.environments("f")[0]
    stream = Path(env["log_path"])
    assert env["log_stream"].endswith(f"[$LATEST]{first.instance_id}")
    text = stream.read_text()
    assert f"START RequestId: {first.request_id} Version: $LATEST" in text
    assert f"sleeping 20.0 ms in {first.request_id}" in text  # the function's own output
    assert f"END RequestId: {second.request_id}" in text
    reports = list(iter_report_lines(stream))
    assert [r.request_id for r in reports] == [first.request_id, second.request_id]
    assert reports[0].init_duration_ms == pytest.approx(first.init_ms, abs=0.01)
    assert reports[1].init_duration_ms is None
    assert reports[0].memory_size_mb == 1024
    aggregated = list(iter_report_lines(platform.aggregate_log_path))
    assert [r.request_id for r in aggregated] == [first.request_id, second.request_id]
    assert aggregated[0].prefix.split("\t")[1] == "f"
    assert b"REPORT RequestId: " + first.request_id.encode() in first.log_tail
    stats = platform.stats()["functions"]["f"]
    assert (stats["cold_starts"], stats["warm_starts"], stats["environments_alive"]) == (1, 1, 1)


def test_context_and_lambda_environment(make_platform: Any) -> None:
    platform = make_platform(spec("ctx", "context", memory_mb=3538, timeout_s=7, environment={"FIXTURE_FLAVOUR": "x"}))
    result = platform.invoke("ctx", b"")
    context, env = body(result)["context"], body(result)["env"]
    assert context["aws_request_id"] == result.request_id
    assert context["function_name"] == "ctx" and context["function_version"] == "$LATEST"
    assert context["memory_limit_in_mb"] == "3538"
    assert context["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:ctx"
    assert context["log_group_name"] == "/aws/lambda/ctx"
    assert 6000 < context["remaining_ms"] <= 7000
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "ctx" and env["AWS_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == context["log_stream_name"]
    assert env["_HANDLER"] == "faas_fixture_handlers.context" and env["FIXTURE_FLAVOUR"] == "x"
    assert env["ORT_THREADS"] == str(max(1, min(os.cpu_count() or 1, 2)))


def test_parallel_requests_get_new_environments_and_excess_is_throttled(make_platform: Any) -> None:
    platform = make_platform(spec("f", "sleep", concurrency_limit=3))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: platform.invoke("f", b'{"sleep_ms": 1000}'), range(4)))
    served = [r for r in results if r.status_code == 200]
    throttled = [r for r in results if r.status_code == 429]
    assert len(served) == 3 and len(throttled) == 1
    assert len({r.instance_id for r in served}) == 3 and all(r.cold_start for r in served)
    assert throttled[0].api_error_type == "TooManyRequestsException"
    assert body(throttled[0])["message"] == "Rate Exceeded."
    stats = platform.stats()["functions"]["f"]
    assert (stats["throttles"], stats["environments_alive"], stats["environments_idle"]) == (1, 3, 3)
    warm = platform.invoke("f", b'{"sleep_ms": 1}')
    assert not warm.cold_start and warm.instance_id in {r.instance_id for r in served}


def test_idle_environment_expires_after_keepalive(make_platform: Any) -> None:
    platform = make_platform(spec("f", "sleep", keepalive_s=0.5))
    first = platform.invoke("f", b"{}")
    pid = body(first)["pid"]
    assert wait_until(lambda: platform.stats()["functions"]["f"]["environments_alive"] == 0)
    assert platform.stats()["functions"]["f"]["expiries"] == 1
    assert wait_until(lambda: gone(pid))
    second = platform.invoke("f", b"{}")
    assert second.cold_start and second.instance_id != first.instance_id


def test_killed_environment_gives_error_and_a_fresh_environment(make_platform: Any) -> None:
    platform = make_platform(spec("f", "sleep"))
    warm_up = platform.invoke("f", b"{}")
    box: dict[str, InvokeResult] = {}
    caller = threading.Thread(target=lambda: box.setdefault("r", platform.invoke("f", b'{"sleep_ms": 20000}')))
    started = time.monotonic()
    caller.start()
    assert wait_until(lambda: platform.stats()["functions"]["f"]["environments_busy"] == 1)
    time.sleep(0.2)
    os.kill(body(warm_up)["pid"], signal.SIGKILL)
    caller.join(timeout=10.0)
    assert not caller.is_alive() and time.monotonic() - started < 5.0
    crashed = box["r"]
    assert crashed.status_code == 200 and crashed.function_error == "Unhandled"
    assert body(crashed)["errorType"] == "Runtime.ExitError"
    assert body(crashed)["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert platform.stats()["functions"]["f"]["crashes"] == 1
    fresh = platform.invoke("f", b"{}")
    assert fresh.ok and fresh.cold_start and fresh.instance_id != warm_up.instance_id
    report = next(r for r in iter_report_lines(platform.aggregate_log_path) if r.request_id == crashed.request_id)
    assert report.status == "error" and report.error_type == "Runtime.ExitError"


def test_process_exit_in_handler(make_platform: Any) -> None:
    platform = make_platform(spec("f", "crash"))
    result = platform.invoke("f", b'{"status": 3}')
    assert result.function_error == "Unhandled"
    assert "Runtime exited with error: exit status 3" in body(result)["errorMessage"]
    assert b"about to crash" in result.log_tail
    assert platform.stats()["functions"]["f"]["environments_alive"] == 0


def test_timeout_kills_the_environment(make_platform: Any) -> None:
    platform = make_platform(spec("f", "hang", timeout_s=1.0))
    started = time.monotonic()
    result = platform.invoke("f", b"{}")
    assert 1.0 <= time.monotonic() - started < 4.0
    assert result.function_error == "Unhandled"
    assert body(result)["errorType"] == "Sandbox.Timedout"
    assert body(result)["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert b"Task timed out after 1.00 seconds" in result.log_tail
    stats = platform.stats()["functions"]["f"]
    assert (stats["timeouts"], stats["environments_alive"]) == (1, 0)
    report = next(iter_report_lines(platform.aggregate_log_path))
    assert report.status == "timeout" and report.duration_ms >= 1000.0


def test_handler_exception_keeps_the_environment_warm(make_platform: Any) -> None:
    platform = make_platform(spec("f", "boom"))
    first = platform.invoke("f", b'{"message": "bad input"}')
    second = platform.invoke("f", b"{}")
    error = body(first)
    assert first.status_code == 200 and first.function_error == "Unhandled"
    assert error["errorMessage"] == "bad input" and error["errorType"] == "FixtureError"
    assert any("faas_fixture_handlers.py" in frame for frame in error["stackTrace"])
    assert not any("faas/runtime.py" in frame for frame in error["stackTrace"])
    assert b"[ERROR] FixtureError: bad input" in first.log_tail
    assert not second.cold_start and second.instance_id == first.instance_id
    assert platform.stats()["functions"]["f"]["function_errors"] == 2


def test_init_failures(make_platform: Any) -> None:
    missing = FunctionSpec(name="missing", handler="no_such_module.handler")
    slow = spec("slow", "sleep", init_timeout_s=0.5, environment={"FIXTURE_INIT_MS": "5000"})
    platform = make_platform(missing, slow, spec("nohandler", "no_such_function"))
    result = platform.invoke("missing", b"{}")
    assert result.function_error == "Unhandled"
    assert body(result)["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'no_such_module'" in body(result)["errorMessage"]
    assert body(platform.invoke("nohandler", b"{}"))["errorType"] == "Runtime.HandlerNotFound"
    started = time.monotonic()
    timed_out = platform.invoke("slow", b"{}")
    assert time.monotonic() - started < 2.5
    assert body(timed_out)["errorType"] == "Sandbox.Timedout"
    assert platform.stats()["functions"]["slow"]["init_failures"] == 1
    assert platform.stats()["functions"]["slow"]["environments_alive"] == 0


def test_async_event_is_retried_twice_on_function_error(make_platform: Any) -> None:
    seen: list[tuple[InvokeResult, int]] = []
    platform = make_platform(
        spec("f", "boom"),
        spec("ok", "sleep"),
        async_retry_delays_s=(0.05, 0.05),
        on_async_result=lambda r, n: seen.append((r, n)),
    )
    queued = platform.invoke("f", b"{}", invocation_type="Event")
    assert queued.status_code == 202 and queued.payload == b""
    assert platform.invoke("ok", b"{}", invocation_type="Event").status_code == 202
    assert platform.drain_async(10.0)
    counts = platform.stats()["async"]
    assert (counts["queued"], counts["retries"], counts["failed"], counts["succeeded"]) == (2, 2, 1, 1)
    by_function = {result.function_name: (result, attempts) for result, attempts in seen}
    assert by_function["f"][1] == 3 and by_function["ok"][1] == 1
    attempts = [r for r in iter_report_lines(platform.aggregate_log_path) if r.request_id == queued.request_id]
    assert len(attempts) == 3  # same request id on every retry, as Lambda does


def test_invoke_api_errors(make_platform: Any) -> None:
    platform = make_platform(spec("f", "sleep"), spec("big", "big"))
    assert platform.invoke("nope", b"{}").status_code == 404
    assert platform.invoke("nope", b"{}").api_error_type == "ResourceNotFoundException"
    too_large = platform.invoke("f", b'"' + b"x" * 6_291_456 + b'"')
    assert too_large.status_code == 413 and too_large.api_error_type == "RequestTooLargeException"
    assert platform.invoke("f", b"x" * 300_000, invocation_type="Event").status_code == 413
    assert platform.invoke("f", b"{not json").status_code == 400
    assert platform.invoke("f", b"{}", invocation_type="DryRun").status_code == 204
    assert platform.invoke("f", b"{}", invocation_type="Sometimes").status_code == 400
    huge = platform.invoke("big", json.dumps({"size": 6_400_000}).encode())
    assert huge.function_error == "Unhandled" and body(huge)["errorType"] == "Function.ResponseSizeTooLarge"
    assert platform.stats()["functions"]["f"]["environments_alive"] == 0  # nothing was run


def test_spec_validation() -> None:
    with pytest.raises(ConfigError, match="memory_mb"):
        FunctionSpec(name="f", handler="m.h", memory_mb=64)
    with pytest.raises(ConfigError, match="handler"):
        FunctionSpec(name="f", handler="nodot")
    with pytest.raises(ConfigError, match="name"):
        FunctionSpec(name="bad name", handler="m.h")
    assert FunctionSpec(name="f", handler="m.h", memory_mb=128).cpu_threads == 1
    assert FunctionSpec(name="f", handler="m.h", memory_mb=10240).cpu_threads == min(os.cpu_count() or 1, 6)


def test_close_leaves_no_child_processes(make_platform: Any) -> None:
    platform = make_platform(spec("f", "sleep", concurrency_limit=3), spec("h", "hang", timeout_s=30))
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: platform.invoke("f", b'{"sleep_ms": 300}'), range(3)))
    box: dict[str, InvokeResult] = {}
    caller = threading.Thread(target=lambda: box.setdefault("r", platform.invoke("h", b"{}")))
    caller.start()
    assert wait_until(lambda: platform.stats()["functions"]["h"]["environments_busy"] == 1)
    pids = [env["pid"] for env in platform.environments()]
    assert len(pids) == 4
    platform.close()
    caller.join(timeout=5.0)
    assert not caller.is_alive() and box["r"].function_error == "Unhandled"
    assert all(gone(pid) for pid in pids)
    assert not [c for c in psutil.Process().children(recursive=True) if c.pid in pids and not gone(c.pid)]
