"""The walking demo (experiments/demo.yaml through run_plan) in a short form: cloud up, Locust on both targets
at the same time, the S3 replay alongside, records checked against the schedules, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.report import write_report
from experiments.demo import DemoOptions, demo_plan, main, run_demo
from experiments.planfile import read_plan_json
from labkit.config import load_config
from labkit.rundir import RunDir


def test_short_demo_leaves_a_complete_run_and_report(tmp_path: Path):
    options = DemoOptions(rate_rps=3, duration_s=4, uploads=3, model="smallcnn", keepalive_s=30,
                          runs_root=tmp_path / "runs")  # fmt: skip
    ctx = run_demo(load_config(), options)
    run = ctx.run
    manifest = run.read_manifest()
    assert ctx.status == "complete" and not ctx.problems, ctx.problems
    assert manifest["status"] == "complete" and manifest["platform_stats"]
    plan = read_plan_json(run.path)
    assert plan == demo_plan(options) and plan.name == "demo"
    [replay] = [w for w in plan.workloads if w.kind == "s3-replay"]
    assert replay.window_duration_s == pytest.approx(4.0)  # compressed into the same 4 s as the load
    records = run.records()
    by_group: dict[tuple[str, str], list] = {}
    for rec in records:
        by_group.setdefault((rec.target, rec.operation), []).append(rec)
    for target in ("local-faas", "local-server"):
        predicts = by_group[(target, "predict")]
        assert len(predicts) == 12  # 3 req/s x 4 s, each one recorded
        assert all(r.intended_send_unix_s and r.latency_ms > 0 for r in predicts)
        served = [r for r in predicts if r.ok]
        # the function platform answers 429 once cold starts outlast the rate past its concurrency limit (10), as
        # on a machine busy enough to make each init take seconds: recorded as such, never lost
        refused = {r.error_kind for r in predicts if not r.ok}
        assert served and refused <= ({"throttled"} if target == "local-faas" else set()), refused
    starts = [min(r.intended_send_unix_s for r in by_group[(t, "predict")]) for t in ("local-faas", "local-server")]
    assert abs(starts[0] - starts[1]) < 0.5  # both targets on one clock, at the same time
    assert any(r.cold_start for r in by_group[("local-faas", "predict")])
    assert 1 <= len(by_group[("local-s3", "s3-put")]) <= 6  # about 3 uploads asked; each scheduled one recorded
    assert len(by_group[("local-s3", "s3-infer")]) == len(by_group[("local-s3", "s3-put")])
    assert all(r.ok and r.instance_id for r in by_group[("local-s3", "s3-infer")])
    assert (run.path / "locust" / "function_stats.csv").is_file()  # the plan's workload names
    files = write_report(run.path)
    summary = json.loads(files.summary_json.read_text())
    assert {g["target"] for g in summary["groups"]} == {"local-faas", "local-server", "local-s3"}
    assert "local-server" in files.markdown.read_text()


def test_demo_rejects_a_non_local_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["--targets", "lambda", "--runs", str(tmp_path)]) == 2
    assert "not local targets" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # refused before a run dir exists


@pytest.mark.slow
def test_full_default_demo(tmp_path: Path):
    ctx = run_demo(load_config(), DemoOptions(runs_root=tmp_path))
    assert RunDir.open(ctx.run.path).read_manifest()["status"] == "complete"
    assert write_report(ctx.run.path).markdown.is_file()
