"""A function's memory size is a real ceiling on the local platform, reported as Lambda reports it.

Issue "Trustworthy runs": memory was only recorded (an environment could use any RSS). Now an
environment over its memory size is killed: the invocation fails with errorType `Runtime.OutOfMemory`
(Lambda's error JSON), the REPORT line says `Max Memory Used` = `Memory Size`, and the next invoke
cold-starts a fresh environment. The fixture handler `hog` allocates past the limit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.reportlog import iter_report_lines
from localcloud.faas.memory import MemoryWatch, rlimit_data_mb
from localcloud.faas.platform import InvokeResult, Platform
from localcloud.faas.spec import FunctionSpec

FIXTURES = Path(__file__).resolve().parents[1] / "localcloud"
OOM = "Runtime.OutOfMemory"
pytestmark = pytest.mark.timeout(60)


def spec(memory_mb: int, **kwargs: Any) -> FunctionSpec:
    return FunctionSpec(
        name="hog", handler="faas_fixture_handlers.hog", python_path=(FIXTURES,), memory_mb=memory_mb, **kwargs
    )


@pytest.fixture
def platform_of(tmp_path: Path) -> Iterator[Any]:
    platforms: list[Platform] = []

    def make(function: FunctionSpec) -> Platform:
        platforms.append(Platform([function], tmp_path / "logs"))
        return platforms[-1]

    yield make
    for platform in platforms:
        platform.close()


def invoke(platform: Platform, **event: Any) -> InvokeResult:
    return platform.invoke("hog", json.dumps(event).encode())


def assert_out_of_memory(platform: Platform, result: InvokeResult, memory_mb: int) -> None:
    error = json.loads(result.payload)
    assert (result.status_code, result.function_error, result.function_error_type) == (200, "Unhandled", OOM)
    assert error == {
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: signal: killed",
        "errorType": OOM,
    }
    assert result.max_memory_used_mb == memory_mb
    report = next(r for r in iter_report_lines(platform.aggregate_log_path) if r.request_id == result.request_id)
    assert (report.memory_size_mb, report.max_memory_used_mb) == (memory_mb, memory_mb)
    assert (report.status, report.error_type) == ("error", OOM)


def test_allocating_past_the_memory_size_is_runtime_out_of_memory(platform_of: Any) -> None:
    platform = platform_of(spec(128))
    result = invoke(platform, chunk_mb=8, total_mb=600, pause_ms=2)
    assert_out_of_memory(platform, result, 128)
    assert f"RequestId: {result.request_id} Error: Runtime exited with error" in result.log_tail.decode()
    after = invoke(platform, total_mb=8)
    assert after.ok and after.cold_start and after.instance_id != result.instance_id
    assert after.max_memory_used_mb is not None and after.max_memory_used_mb < 128
    stats = platform.stats()["functions"]["hog"]
    assert (stats["crashes"], stats["cold_starts"], stats["environments_alive"]) == (1, 2, 1)


def test_memory_of_child_processes_counts(platform_of: Any) -> None:
    platform = platform_of(spec(128))
    started_s = time.monotonic()
    result = invoke(platform, child_mb=300)
    assert_out_of_memory(platform, result, 128)
    assert time.monotonic() - started_s < 10.0  # killed with its children, not after the child's 30 s


def test_one_giant_allocation_hits_the_kernel_backstop_and_is_out_of_memory(platform_of: Any) -> None:
    platform = platform_of(spec(128))
    result = invoke(platform, at_once=True, total_mb=rlimit_data_mb(128) * 4)
    assert_out_of_memory(platform, result, 128)
    assert invoke(platform, total_mb=8).cold_start


def test_init_past_the_memory_size_is_out_of_memory(platform_of: Any) -> None:
    platform = platform_of(spec(128, environment={"FIXTURE_INIT_MB": "300"}))
    result = invoke(platform, total_mb=8)
    assert_out_of_memory(platform, result, 128)
    assert platform.stats()["functions"]["hog"]["init_failures"] == 1


def test_under_the_memory_size_stays_warm_with_the_measured_peak(platform_of: Any) -> None:
    platform = platform_of(spec(256))
    first = invoke(platform, chunk_mb=8, total_mb=96)
    second = invoke(platform, total_mb=8)
    assert first.ok and second.ok and not second.cold_start
    assert first.max_memory_used_mb is not None and 96 < first.max_memory_used_mb < 256
    assert second.max_memory_used_mb == first.max_memory_used_mb  # a peak over the environment's life


def test_memory_watch_reacts_within_a_few_samples() -> None:
    """A process growing ~1 GB/s is caught soon after it crosses the limit (figures printed with -s)."""
    code = textwrap.dedent(
        """
        import os, sys, time
        limit = int(sys.argv[1]) << 20
        page = os.sysconf("SC_PAGE_SIZE")
        kept, over = [], False
        while True:
            kept.append(b"x" * (4 << 20))
            rss = int(open("/proc/self/statm").read().split()[1]) * page
            if not over and rss > limit:
                over = True
                print(f"{time.monotonic():.6f}", flush=True)
            time.sleep(0.004)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code, "200"], stdout=subprocess.PIPE, text=True)
    watch = MemoryWatch(child.pid, 200, child.kill).start()
    try:
        child.wait(timeout=30)
    finally:
        watch.stop()
        child.kill()
    assert watch.exceeded and watch.detected_monotonic_s is not None
    printed = child.stdout.read().split() if child.stdout else []
    crossed_s = float(printed[0]) if printed else watch.detected_monotonic_s  # killed before its own check
    latency_ms = (watch.detected_monotonic_s - crossed_s) * 1000.0
    print(f"memory watch: detected {latency_ms:.1f} ms after the crossing, peak {watch.peak_mb} MB")
    assert -50.0 < latency_ms < 250.0
    assert watch.peak_mb < 200 + 64
    assert time.monotonic() - watch.detected_monotonic_s < 30
