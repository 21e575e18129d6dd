"""The central experiment, --quick (30 s of traffic), end to end on the real local cloud: ramp 0 -> 100 req/s on
the function front and the server at the same time while the FIFA'98 evening is replayed to S3; one run dir,
records matching every schedule, every upload joined with its result, one report."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from experiments.__main__ import main
from experiments.checks import http_arrivals
from experiments.planfile import EXPERIMENTS_DIR, load_plan, read_plan_json
from labkit.records import iter_records
from labkit.rundir import RunDir

pytestmark = pytest.mark.timeout(300)


def _span(records: list, key: str = "intended_send_unix_s") -> tuple[float, float]:
    times = [getattr(r, key) for r in records]
    return min(times), max(times)


def test_fifa98_mixed_quick_runs_every_workload_at_once_into_one_run(tmp_path: Path) -> None:
    assert main(["run", "fifa98-mixed", "--quick", "--runs", str(tmp_path)]) == 0
    [path] = list(tmp_path.iterdir())
    run = RunDir.open(path)
    manifest = run.read_manifest()
    assert manifest["status"] == "complete" and manifest["problems"] == []
    plan = read_plan_json(path)
    assert plan == load_plan(EXPERIMENTS_DIR / "fifa98-mixed.yaml", quick=True)

    records = run.records()
    spans = {}
    for workload, target in (("function", "local-faas"), ("server", "local-server")):
        mine = [r for r in records if r.scenario == workload]
        expected = http_arrivals(plan.workload(workload))
        assert Counter(r.target for r in mine) == {target: expected}
        assert sorted(int(r.request_id.split("-", 1)[0]) for r in mine) == list(range(expected))
        spans[workload] = _span(mine)
        # the offered rate per 10 s window is the ramp's (the schedule, not luck): 0->100 over 30 s
        start = manifest["sub_runs"][0]["workloads"][workload]["start_unix_s"]
        offsets = np.array([r.intended_send_unix_s - start for r in mine])
        for lo in (10.0, 20.0):
            offered = np.count_nonzero((offsets >= lo) & (offsets < lo + 10)) / 10.0
            target_rps = 100.0 * (lo + 5.0) / 30.0
            assert offered == pytest.approx(target_rps, rel=0.01)

    uploads = [r for r in iter_records(path / "records" / "fifa98-replay.csv") if r.ok]
    results = list(iter_records(path / "records" / "fifa98-s3-results.csv"))
    status = json.loads((path / "workloads" / "fifa98.json").read_text())
    assert status["status"] == "complete" and len(uploads) == status["arrivals"] == len(results) > 0
    assert all(r.ok and r.error_kind != "missing_result" for r in results)
    spans["fifa98"] = _span(uploads)

    shortest = min(hi - lo for lo, hi in spans.values())
    overlap = min(hi for _, hi in spans.values()) - max(lo for lo, _ in spans.values())
    assert overlap >= 0.9 * shortest, spans

    for name in ("report.md", "report.html", "summary.json"):
        assert (path / name).is_file()
