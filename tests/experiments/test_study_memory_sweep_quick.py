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
        firsts = [r for r in cold if r.cold_start]
        assert len(firsts) == 3 and all(r.init_ms is not None and r.init_ms > 0 for r in firsts), suffix
        assert all(r.billed_ms is not None for r in cold if r.ok), suffix
    report = (path / "report.md").read_text(encoding="utf-8")
    assert "### Memory sweep" in report
    assert "published: MobileNet is the cheapest model at every memory setting / here: " in report
    assert "warm p50 by memory" in report
