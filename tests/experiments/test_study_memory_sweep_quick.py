"""The memory-sweep study, --quick, end to end on the real local cloud: each sweep axis cut to its ends
(mobilenetv2 and inceptionv3 x 512 and 3008 MB: 4 sub-runs, one local cloud per model, memory set through
the Lambda API), each sub-run with its forced cold starts then a short ramp; the platform's own REPORT
fields on every function record, the report's sweep table and its published-vs-here lines."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from experiments.__main__ import main
from labkit.rundir import RunDir

pytestmark = [pytest.mark.timeout(400)]
MODELS = ("mobilenetv2", "inceptionv3")
MEMORY_MB = (512, 3008)
PROBES, WARM_AFTER = 3, 2  # the plan's cold-probe workload: count and warm_after
RACE_S = 0.1  # a probe sent this close before the ramp's first send may reach the platform after it


def test_study_memory_sweep_quick_runs_each_setting_at_its_memory(tmp_path: Path) -> None:
    assert main(["run", "study-memory-sweep", "--quick", "--runs", str(tmp_path)]) == 0
    [path] = list(tmp_path.iterdir())
    run = RunDir.open(path)
    manifest = run.read_manifest()
    assert manifest["status"] == "complete" and manifest["problems"] == []
    records = run.records()
    for model, memory_mb in itertools.product(MODELS, MEMORY_MB):
        suffix = f"model-{model}-memory-mb-{memory_mb}"
        cold = [r for r in records if r.scenario == f"cold-{suffix}"]
        ramp = [r for r in records if r.scenario == f"ramp-{suffix}"]
        assert cold and ramp, suffix
        assert {r.memory_mb for r in cold + ramp if r.ok} == {memory_mb}, suffix
        assert {r.model_name for r in cold + ramp if r.ok} == {model}, suffix
        _assert_forced_cold_starts(cold, ramp, suffix)
        assert all(r.billed_ms is not None for r in cold if r.ok), suffix
    report = (path / "report.md").read_text(encoding="utf-8")
    assert "### Memory sweep" in report
    assert "published: MobileNet is the cheapest model at every memory setting / here: " in report
    assert "warm p50 by memory" in report


def _assert_forced_cold_starts(cold: list, ramp: list, suffix: str) -> None:
    """Every probe sent right after its config change and before the ramp's first send is a cold start with
    its init time. A busy machine delays the probes into the ramp; from then on the ramp may take the fresh
    environment or fill the concurrency limit, and the probe is recorded as what happened (warm, or throttled)."""
    sends = sorted(cold, key=lambda r: r.actual_send_unix_s)
    assert len(sends) == PROBES * (1 + WARM_AFTER), suffix  # every probe recorded, whatever came of it
    # the ramp's first send (a request the ramp never sent, cut at its end on a busy machine, has no send time)
    ramp_start_s = min(r.actual_send_unix_s for r in ramp if r.actual_send_unix_s is not None) - RACE_S
    after_change = sends[:: 1 + WARM_AFTER]
    alone = [r for r in after_change if r.actual_send_unix_s < ramp_start_s]
    assert alone and alone[0] is after_change[0], suffix  # the first probe starts the workloads: before the ramp
    assert all(r.cold_start and r.init_ms is not None and r.init_ms > 0 for r in alone), suffix
    assert all(r.ok or r.error_kind == "throttled" for r in after_change), suffix
    early_colds = [r for r in sends if r.cold_start and r.actual_send_unix_s < ramp_start_s]
    assert all(any(r is first for first in after_change) for r in early_colds), suffix  # no warm send reads cold
