"""Real Locust runs (headless, child processes) against the real local cloud on loopback, model smallcnn."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from analysis.compactor import Compactor
from analysis.frame import load_frame
from experiments.planfile import read_plan_json
from labkit.config import ModelConfig, load_config
from labkit.rundir import RunDir
from localcloud.cloud import CloudOptions, LocalCloud
from locustfiles.__main__ import main
from locustfiles.runner import LoadPlan, run_locust
from locustfiles.shapes import constant, ramp

pytestmark = pytest.mark.timeout(240)


def _arrival_index(request_id: str) -> int:
    return int(request_id.split("-", 1)[0])


def test_cli_ramps_both_local_targets_at_once_into_one_run_dir(tmp_path: Path, capsys) -> None:
    argv = ["--target", "local", "--model", "smallcnn", "--rate-rps", "10", "--duration-s", "3",
            "--runs", str(tmp_path), "--progress-interval-s", "1"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    [run_path] = list(tmp_path.iterdir())
    run = RunDir.open(run_path)
    assert run.read_manifest()["status"] == "complete" and run.read_manifest()["scenario"] == "load-ramp"
    assert run.read_manifest()["config"]["load"]["shape"]["shape"] == "ramp"
    plan = read_plan_json(run.path)  # what Locust ran: one http workload per target, named after it
    assert [(w.name, w.target, w.shape.kind, w.shape.peak_rps) for w in plan.http_workloads()] == [
        ("local-faas", "function", "ramp", 10.0),
        ("local-server", "server", "ramp", 10.0),
    ]
    expected = ramp(10.0, 3.0).arrival_offsets_s().size
    records = run.records()
    assert Counter(r.target for r in records) == {"local-faas": expected, "local-server": expected}
    for target in ("local-faas", "local-server"):
        mine = [r for r in records if r.target == target]
        assert sorted(_arrival_index(r.request_id) for r in mine) == list(range(expected))
        assert (run.path / "locust" / f"{target}_stats.csv").is_file()
        assert (run.path / "locust" / f"{target}.html").is_file()
    # both targets run at the same time, on one clock: their schedules start together
    firsts = [min(r.intended_send_unix_s for r in records if r.target == t) for t in ("local-faas", "local-server")]
    assert abs(firsts[0] - firsts[1]) < 0.5
    for r in records:
        assert r.ok, r.error_message
        assert r.intended_send_unix_s <= r.actual_send_unix_s + 0.005 < r.completion_unix_s + 0.005
        assert r.latency_ms == pytest.approx((r.completion_unix_s - r.intended_send_unix_s) * 1000)
        assert r.service_latency_ms == pytest.approx((r.completion_unix_s - r.actual_send_unix_s) * 1000)
        assert r.model_name == "smallcnn" and r.instance_id and r.inference_ms is not None
        assert r.scenario == r.target and r.source == "locust"  # the workload's name: its target
    assert any(r.cold_start for r in records if r.target == "local-faas")
    assert (run.path / "report.md").is_file()
    assert "achieved" in out and f"run dir: {run.path}" in out


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory):
    options = CloudOptions(parts=("server",), model=ModelConfig(name="smallcnn"))
    with LocalCloud(load_config().localcloud, tmp_path_factory.mktemp("cloud"), options) as cloud:
        cloud.start()
        yield cloud.endpoints.server_url


def test_two_processes_split_the_schedule_with_no_record_lost_or_doubled(
    server_url: str, tmp_path: Path, quick_compactor: Callable[[str], list[Compactor]]
) -> None:
    compactors = quick_compactor("locustfiles.runner.Compactor")
    run = RunDir.create(tmp_path, "distributed")
    plan = LoadPlan("local-server", server_url, shape="constant", rate_rps=20.0, duration_s=3.0, processes=2)
    run_locust(plan, run)
    expected = constant(20.0, 3.0).arrival_offsets_s().size
    records = run.records()
    assert len(run.record_files()) == 2  # one file per worker process
    assert sorted(_arrival_index(r.request_id) for r in records) == list(range(expected))
    assert len({r.worker for r in records}) == 2
    assert all(r.ok for r in records)
    assert (run.path / "locust" / "local-server_stats.csv").is_file()
    # the records' columnar copy was written while Locust ran, and reads back as the same records
    assert len(compactors) == 1 and compactors[0].segments_written >= 1
    frame = load_frame(run.record_files(), columns=["request_id", "ok"])
    assert sorted(frame["request_id"]) == sorted(r.request_id for r in records)
