"""A memory sweep of 3 values with an http workload and a cold-probe workload, against the local cloud through
its control plane (UpdateFunctionConfiguration, as on AWS): one run dir, one sub-run per value, every probe's
first invoke a cold start in a new environment of that memory size."""

from __future__ import annotations

from pathlib import Path

import pytest
from experiments_helpers import manifest, write_plan

from experiments.__main__ import main
from labkit.rundir import RunDir

pytestmark = pytest.mark.timeout(300)

SWEEP = """sweep: {parameter: memory_mb, values: [512, 1024, 1769]}
workloads:
  - name: load
    kind: http
    target: function
    shape: {kind: constant, peak_rps: 5, duration_s: 6}
  - name: probe
    kind: cold-probe
    function: inference-api
    count: 2
    interval_s: 3
    warm_after: 1
"""


def test_memory_sweep_with_cold_probes_through_the_control_plane(tmp_path: Path) -> None:
    assert main(["run", str(write_plan(tmp_path, SWEEP)), "--runs", str(tmp_path / "runs"), "--no-report"]) == 0
    [path] = list((tmp_path / "runs").iterdir())
    status = manifest(path)
    assert status["status"] == "complete", status["problems"]
    assert [s["sweep"] for s in status["sub_runs"]] == [{"memory_mb": v} for v in (512, 1024, 1769)]
    records = RunDir.open(path).records()
    for memory_mb in (512, 1024, 1769):
        load = [r for r in records if r.scenario == f"load-memory-mb-{memory_mb}"]
        probes = [r for r in records if r.scenario == f"probe-memory-mb-{memory_mb}"]
        assert len(load) == 30 and len(probes) == 4
        assert {r.memory_mb for r in load + probes if r.ok} == {memory_mb}
        probes.sort(key=lambda r: r.intended_send_unix_s)
        first, warm, second, warm_again = probes
        assert first.cold_start and second.cold_start  # each config change: the next invoke is a cold start
        assert first.instance_id != second.instance_id  # the forced change made a new environment
        for cold, after in ((first, warm), (second, warm_again)):
            # the same environment again is warm; the load running beside may hold it busy (a busy machine
            # slows every request), and the platform then serves the probe from another environment
            assert after.ok and (after.instance_id != cold.instance_id or not after.cold_start)
