"""The walking demo in a short form: cloud up, Locust on both targets, S3 uploads, records, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.report import write_report
from labkit.config import load_config
from labkit.demo import DemoOptions, main, run_demo
from labkit.rundir import RunDir


def test_short_demo_leaves_a_complete_run_and_report(tmp_path: Path):
    options = DemoOptions(rate_rps=3, duration_s=4, uploads=3, model="smallcnn", keepalive_s=30,
                          runs_root=tmp_path / "runs")  # fmt: skip
    run = run_demo(load_config(), options)
    manifest = run.read_manifest()
    assert manifest["status"] == "complete" and manifest["platform_stats"]
    records = run.records()
    by_group: dict[tuple[str, str], list] = {}
    for rec in records:
        by_group.setdefault((rec.target, rec.operation), []).append(rec)
    for target in ("local-faas", "local-server"):
        predicts = by_group[(target, "predict")]
        assert len(predicts) == 12  # 3 req/s x 4 s, each one recorded
        assert all(r.ok and r.intended_send_unix_s and r.latency_ms > 0 for r in predicts)
    assert any(r.cold_start for r in by_group[("local-faas", "predict")])
    assert len(by_group[("local-s3", "s3-put")]) == 3
    assert all(r.ok and r.instance_id for r in by_group[("local-s3", "s3-infer")])
    assert (run.path / "locust" / "local-faas_stats.csv").is_file()
    files = write_report(run.path)
    summary = json.loads(files.summary_json.read_text())
    assert {g["target"] for g in summary["groups"]} == {"local-faas", "local-server", "local-s3"}
    assert "local-server" in files.markdown.read_text()


def test_demo_rejects_a_non_local_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["--targets", "lambda", "--runs", str(tmp_path)]) == 2
    assert "not local targets" in capsys.readouterr().err


@pytest.mark.slow
def test_full_default_demo(tmp_path: Path):
    run = run_demo(load_config(), DemoOptions(runs_root=tmp_path))
    assert RunDir.open(run.path).read_manifest()["status"] == "complete"
    assert write_report(run.path).markdown.is_file()
