"""Memory below one vCPU computes at its share of a CPU when the function asks for it (`cpu_quota`): a handler
that burns 300 ms of CPU at 512 MB needs at least 300 / (29 + 5) periods of 100 ms (its share of each period plus
one 5 ms watcher tick of overrun; a lower bound: a busy machine only makes it longer); without `cpu_quota` the same
memory size is not held back (its own baseline, same run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud.faas.cpushare import PERIOD_S, TICK_S, cpu_share
from localcloud.faas.platform import Platform
from localcloud.faas.spec import FunctionSpec

FIXTURES = Path(__file__).resolve().parent
pytestmark = pytest.mark.timeout(120)
CPU_MS = 300.0


def test_cpu_quota_holds_a_small_function_to_its_share(tmp_path: Path) -> None:
    specs = [
        FunctionSpec(name=name, handler="faas_fixture_handlers.spin", python_path=(FIXTURES,), memory_mb=512,
                     cpu_quota=quota, init_timeout_s=60)
        for name, quota in (("held", True), ("free", False))
    ]  # fmt: skip
    platform = Platform(specs, tmp_path / "logs")
    try:
        answers = {}
        for name in ("held", "free"):
            platform.invoke(name, b"{}")  # the cold start first: measure a warm invocation
            result = platform.invoke(name, json.dumps({"cpu_ms": CPU_MS}).encode())
            answers[name] = json.loads(result.payload)
    finally:
        platform.close()
    held = answers["held"]
    assert held["cpu_ms"] >= CPU_MS
    # every period lets at most share x period of CPU through, plus one watcher tick of overrun before the stop
    # lands, so the wall time is at least this long
    per_period_ms = (cpu_share(512) * PERIOD_S + TICK_S) * 1000.0
    floor_ms = (held["cpu_ms"] / per_period_ms - 1) * PERIOD_S * 1000.0
    assert held["wall_ms"] >= floor_ms, answers
    assert answers["free"]["cpu_ms"] >= CPU_MS  # the baseline ran the same work (its wall time is the machine's)
