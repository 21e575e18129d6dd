import json
from html.parser import HTMLParser

import numpy as np
import pytest
from analysis_helpers import faas_records, platform_log_line, rec, write_run
from matplotlib import image

from analysis.__main__ import main
from analysis.report import ReportOptions, write_report, write_reports
from labkit.errors import InputError
from labkit.rundir import RunDir


def _full_run(root, memory_mb=1024):
    records = [r.__class__(**{**{n: getattr(r, n) for n in r.__slots__}, "memory_mb": memory_mb})
               for r in faas_records(80, cold_every=40)]  # fmt: skip
    records += [rec(i, "local-server", 18.0 + i % 9, cold_start=False) for i in range(80)]
    records += [rec(i, "local-s3", 12.0, operation="s3-put", scenario="s3-upload", gap_s=0.5) for i in range(6)]
    run = write_run(root, records)
    log = run.logs_dir / "functions" / "platform.log"
    log.parent.mkdir(parents=True)
    lines = [platform_log_line(r, "inference-api", 250.0 if i % 40 == 0 else None) for i, r in enumerate(records[:80])]
    log.write_text("\n".join(lines) + "\n")
    return run


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.images = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])


def test_full_report_renders_with_plots_verdicts_and_cost(tmp_path):
    run = _full_run(tmp_path)
    files = write_report(run.path)
    summary = json.loads(files.summary_json.read_text())
    groups = {(g["target"], g["operation"]): g for g in summary["groups"]}
    assert groups[("local-faas", "predict")]["cold_starts"]["source"] == "REPORT lines"
    assert groups[("local-faas", "predict")]["throughput"]["configured_rps"] == 4.0
    assert groups[("local-server", "predict")]["cost"]["kind"] == "server"
    assert any(v.startswith("Function vs server") for v in summary["verdicts"])
    assert summary["cost"]["pricing"]["lambda_usd_per_gb_s_tier1"] == pytest.approx(0.0000166667)
    markdown = files.markdown.read_text()
    for heading in ("What this report says", "SLA verdicts", "Cost (modelled)", "Cold starts", "Break-even"):
        assert heading in markdown
    parser = _Tags()
    parser.feed(files.html.read_text())
    assert "table" in parser.tags and len(parser.images) == len(files.plots) >= 5
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
    for png in files.plots:
        pixels = image.imread(png)
        assert pixels.shape[0] > 200 and float(np.std(pixels[..., :3])) > 0.05  # not blank


def test_partial_run_says_what_is_missing(tmp_path):
    run = write_run(tmp_path, [rec(i, "local-faas", 20.0) for i in range(10)], status="running")
    summary = write_report(run.path, ReportOptions(plots=False)).summary
    text = " ".join(summary["missing"])
    assert "did not complete" in text and "no REPORT lines" in text


def test_empty_and_broken_runs_are_clear_errors(tmp_path):
    empty = RunDir.create(tmp_path, "empty")
    with pytest.raises(InputError, match="no records to report on"):
        write_report(empty.path)
    broken = write_run(tmp_path, [rec(0, "s", 1.0)])
    (broken.records_dir / "bad.csv").write_text("run_id,request_id,source,scenario,target,latency_ms\nr,1,l,s,t,fast\n")
    with pytest.raises(InputError, match=r"bad.csv:2: field 'latency_ms': cannot read 'fast' \(expected a number\)"):
        write_report(broken.path)
    with pytest.raises(InputError, match="not a run directory"):
        write_report(tmp_path / "nowhere")


def test_comparison_of_runs_at_two_memory_settings(tmp_path):
    small, large = _full_run(tmp_path / "a", 512), _full_run(tmp_path / "b", 2048)
    out = tmp_path / "cmp"
    assert main([str(small.path), str(large.path), "--out", str(out), "--no-plots"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["runs"]) == 2 and small.run_id in summary["title"]
    sweep = summary["cost"]["memory_sweep"]
    assert [r["memory_mb"] for r in sweep["rows"]] == [512, 2048] and sweep["optimum"] in (512, 2048)
    assert "Memory sweep" in (out / "report.md").read_text()


def test_report_log_alone_gives_durations_cold_starts_and_cost(tmp_path):
    records = faas_records(40, cold_every=20)
    log = tmp_path / "cw.log"
    log.write_text("\n".join(platform_log_line(r, "resnet-fn", 900.0 if i % 20 == 0 else None)
                             for i, r in enumerate(records)) + "\n")  # fmt: skip
    files = write_reports([], ReportOptions(report_logs=(log,), plots=False), tmp_path / "out")
    group = files.summary["groups"][0]
    assert group["target"] == "resnet-fn" and group["cold_starts"]["cold"] == 2
    assert group["cold_starts"]["source"] == "REPORT lines" and group["cost"]["gb_s"] > 0
    assert any("REPORT lines only" in m for m in files.summary["missing"])


def test_locust_csv_says_what_it_can_and_cannot_compute(tmp_path):
    prefix = tmp_path / "old"
    (tmp_path / "old_stats.csv").write_text(
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
        "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
        "99.99%,100%\nPOST,predict,39,1,16,30.3,13.3,301.9,689.4,3.93,0.1,16,17,18,19,20,280,300,300,300,300,300\n"
        ",Aggregated,39,1,16,30.3,13.3,301.9,689.4,3.93,0.1,16,17,18,19,20,280,300,300,300,300,300\n"
    )
    out = tmp_path / "out"
    assert main(["--locust-csv", str(prefix), "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "Cannot compute: exact percentiles" in text and "39 requests, 1 failures" in text


def test_configured_rate_is_read_from_demo_and_load_manifests():
    from analysis.report import configured_rates

    demo = {"run_id": "a", "config": {"demo": {"rate_rps": 4.0, "upload_rate_rps": 2.0}}}
    assert configured_rates(demo) == {("a", "predict"): 4.0, ("a", "s3-put"): 2.0}
    load = {"run_id": "b", "config": {"load": {"rate_rps": 50.0, "shape": {"shape": "constant"}}}}
    assert configured_rates(load) == {("b", "predict"): 50.0}
    ramp = {"run_id": "c", "config": {"load": {"rate_rps": 100.0, "shape": {"shape": "ramp"}}}}
    assert configured_rates(ramp) == {}
