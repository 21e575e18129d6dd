"""The latency floor (locustfiles.calibrate): a real short Locust run of the dispatcher against a null endpoint.

Asserts on records and structure only (counts, fields, p50 <= p90 <= p99), never on timings.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from experiments.__main__ import _parser as experiments_parser
from labkit.rundir import RunDir
from locustfiles import calibrate as cal
from locustfiles.__main__ import main as locustfiles_main

pytestmark = pytest.mark.timeout(180)

RATE_RPS, DURATION_S = 20.0, 2.5


def _ordered(added: cal.Added) -> bool:
    return added.p50_ms <= added.p90_ms <= added.p99_ms


def test_calibration_runs_the_dispatcher_against_a_null_endpoint(tmp_path: Path) -> None:
    result = cal.calibrate(RATE_RPS, DURATION_S, work_dir=tmp_path)
    assert (result.rate_rps, result.duration_s, result.processes) == (RATE_RPS, DURATION_S, 1)
    assert result.scheduled == 50 and result.count == 50 and result.errors == 0
    assert _ordered(result.from_intended) and _ordered(result.from_actual)
    assert result.server_p50_ms >= 0.0
    [run_path] = list(tmp_path.iterdir())  # the kept run dir: a real run of the dispatcher, one record a request
    records = RunDir.open(run_path).records()
    assert len(records) == 50 and all(r.ok and r.source == "locust" for r in records)
    assert sorted(int(r.request_id.split("-", 1)[0]) for r in records) == list(range(50))
    for r in records:
        assert r.latency_ms is not None and r.service_latency_ms is not None and r.send_lag_ms is not None
    data = json.loads(cal.write_calibration(tmp_path, result).read_text())
    assert data["count"] == 50 and set(data["from_intended"]) == {"p50_ms", "p90_ms", "p99_ms"}
    assert set(data["from_actual"]) == {"p50_ms", "p90_ms", "p99_ms"} and "null endpoint" in data["what"]
    lines = result.lines()
    assert "latency floor" in lines[0] and "50 of 50 ok" in lines[0]
    assert "from the intended send" in lines[1] and "from the actual send" in lines[2]


def test_cli_calibrate_prints_the_floor_and_sends_nothing_to_a_target(tmp_path: Path, capsys) -> None:
    argv = ["--calibrate", "--rate", "20", "--calibrate-s", "2", "--runs", str(tmp_path / "runs")]
    assert locustfiles_main(argv) == 0
    out = capsys.readouterr().out
    assert "latency floor (this tool on this machine): 20 req/s for 2 s" in out and "40 of 40 ok" in out
    assert "added latency from the intended send: p50" in out and "added latency from the actual send:" in out
    assert not (tmp_path / "runs").exists()  # no run dir of a load: the calibration's own is temporary


def test_experiments_run_calibrate_writes_calibration_json(tmp_path: Path, monkeypatch) -> None:
    assert experiments_parser().parse_args(["run", "demo", "--calibrate"]).calibrate
    seen = {}

    def fake(rate_rps: float, duration_s: float, processes: int) -> cal.Calibration:
        seen.update(rate=rate_rps, processes=processes)
        added = cal.added([1.0, 2.0, 3.0])
        return cal.Calibration(rate_rps, duration_s, processes, 3, 3, 0, added, added, 0.1, 0.0)

    monkeypatch.setattr(cal, "calibrate", fake)
    http = [SimpleNamespace(shape=SimpleNamespace(peak_rps=p), processes=n) for p, n in ((20.0, 1), (80.0, 2))]
    said: list[str] = []
    cal.calibrate_run(SimpleNamespace(http_workloads=lambda: http), tmp_path, said.append)
    assert seen == {"rate": 80.0, "processes": 2}  # the busiest http workload
    data = json.loads((tmp_path / cal.CALIBRATION_JSON).read_text())
    assert data["rate_rps"] == 80.0 and data["from_actual"]["p50_ms"] == 2.0
    assert any("latency floor" in line for line in said)
    assert cal.plan_rate(SimpleNamespace(http_workloads=list)) == (cal.DEFAULT_RATE_RPS, 1)
