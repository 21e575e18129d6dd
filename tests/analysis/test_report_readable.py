"""Issue "Reports and the web UI that a person reads" (the report part): groups named by what defines them,
a comparison report opening with baseline ratios, rendered HTML (bold, contents, folded long tables),
Markdown tables cut with a pointer to windows.csv, and the cost vs requests/day chart."""

from __future__ import annotations

import csv
import json
import re

from analysis_helpers import rec, write_run

from analysis.doc import MAX_ROWS, Doc, to_html, to_markdown
from analysis.labels import group_labels
from analysis.report import ReportOptions, write_report, write_reports

NO_PLOTS = ReportOptions(plots=False)


def _function_run(root, model: str, memory_mb: int = 1024, n: int = 60, latency_ms: float = 20.0, **kw):
    records = [
        rec(i, "local-faas", latency_ms + i % 7, model_name=model, weights="random", memory_mb=memory_mb,
            cold_start=i == 0, duration_ms=latency_ms - 3, instance_id="env0", **kw)
        for i in range(n)
    ]  # fmt: skip
    return write_run(root, records)


def test_groups_are_named_by_model_and_weights(tmp_path):
    run = _function_run(tmp_path, "mobilenetv2")
    files = write_report(run.path, NO_PLOTS)
    markdown = files.markdown.read_text()
    assert "mobilenetv2, random weights" in markdown
    [group] = json.loads(files.summary_json.read_text())["groups"]
    assert group["label"] == "local-faas · mobilenetv2, random weights"


def test_labels_name_only_what_differs_plus_weights():
    def group(memory, scenario, target="local-faas"):
        return {"run_id": "r", "target": target, "scenario": scenario, "operation": "predict",
                "memory_mb": [memory], "identity": {"model_name": "smallcnn", "weights": "random"}}  # fmt: skip

    sweep = [group(512, "load-memory-mb-512"), group(1024, "load-memory-mb-1024")]
    assert group_labels(sweep) == ["smallcnn, random weights · 512 MB", "smallcnn, random weights · 1024 MB"]
    same_twice = [group(512, "a"), {**group(512, "a"), "run_id": "r2"}]
    assert group_labels(same_twice) == ["local-faas · smallcnn, random weights (r)",
                                        "local-faas · smallcnn, random weights (r2)"]  # fmt: skip


def test_html_renders_bold_and_has_contents_with_anchors(tmp_path):
    run = _function_run(tmp_path, "smallcnn", latency_ms=900.0)  # breaches the default SLA: "**breach**"
    html = write_report(run.path, NO_PLOTS).html.read_text()
    assert "**" not in html
    assert "<b>breach</b>" in html or "<b>BREACHES</b>" in html
    assert "<nav class='toc'>" in html
    for anchor in re.findall(r"<a href='#([^']+)'>", html):
        assert f"id='{anchor}'" in html


def test_two_runs_open_with_the_comparison_and_baseline_ratios(tmp_path):
    small = _function_run(tmp_path / "a", "smallcnn", latency_ms=20.0)
    big = _function_run(tmp_path / "b", "mobilenetv2", latency_ms=60.0)
    files = write_reports([small.path, big.path], NO_PLOTS, tmp_path / "out")
    markdown = files.markdown.read_text()
    section = markdown.split("## Comparison: baseline vs the others")[1].split("\n## ")[0]
    assert markdown.index("## Comparison") < markdown.index("## Latency and throughput")
    assert "differ in model" in section and "the baseline is **local-faas · smallcnn, random weights**" in section
    assert "(first run given)" not in section and "the first run given" in section
    baseline_row = next(line for line in section.splitlines() if line.startswith("| local-faas · smallcnn"))
    other_row = next(line for line in section.splitlines() if line.startswith("| local-faas · mobilenetv2"))
    assert "(baseline)" in baseline_row and "x)" not in baseline_row
    assert re.search(r"\| [\d.,]+ \((2|3)\.\d\dx\) \|", other_row)  # p50 about 2.8x the baseline's
    assert "USD / million" in section


def test_long_window_tables_are_cut_in_markdown_with_a_pointer_to_the_csv(tmp_path):
    run = _function_run(tmp_path, "smallcnn", n=240, latency_ms=20.0)  # 60 s: 60 one-second windows
    files = write_report(run.path, ReportOptions(plots=False, windows_s=(1.0,)))
    markdown = files.markdown.read_text()
    window_part = markdown.split("### Per 1 s window, worst first")[1].split("\n## ")[0]
    assert sum(line.startswith("| local-faas") for line in window_part.splitlines()) == MAX_ROWS
    assert f"First {MAX_ROWS} of 60 rows; all of them are in `windows.csv`" in window_part
    with (run.path / "windows.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["window_s"] == "1"]
    assert len(rows) == 60 and rows[0]["group"] == "local-faas · smallcnn, random weights"
    html = files.html.read_text()
    assert "<details><summary>40 more rows" in html


def test_worst_windows_come_first(tmp_path):
    records = [rec(i, "local-faas", 500.0 if 40 <= i < 44 else 20.0, model_name="m", weights="random")
               for i in range(120)]  # fmt: skip
    run = write_run(tmp_path, records)
    markdown = write_report(run.path, ReportOptions(plots=False, windows_s=(1.0,))).markdown.read_text()
    first = markdown.split("### Per 1 s window, worst first")[1].split("| local-faas")[1]
    assert first.split("|")[1].strip() == "10"  # the window of the slow requests (sent at 10 s)


def test_doc_folds_long_tables_and_says_why_a_chart_is_missing():
    doc = Doc()
    doc.h(1, "T")
    doc.table(["a"], [[str(i)] for i in range(MAX_ROWS + 5)], rest="x.csv")
    doc.img(None, "plots/x.png", "A chart", "only one point")
    markdown, html = to_markdown(doc), to_html(doc, "T")
    assert "First 20 of 25 rows; all of them are in `x.csv`" in markdown
    assert 'No chart "A chart": only one point' in markdown
    assert "<details><summary>5 more rows" in html and "class='nochart'" in html


def test_cost_vs_requests_chart_when_pricing_is_there(tmp_path):
    run = _function_run(tmp_path, "smallcnn", n=40)
    files = write_report(run.path)
    summary = json.loads(files.summary_json.read_text())
    assert "cost_vs_requests" in summary["plots"]
    assert (run.path / "plots" / "cost_vs_requests.png").stat().st_size > 10_000
    assert "plots/cost_vs_requests.png" in files.markdown.read_text()
    assert "cost_vs_memory" in summary["plots_not_drawn"]  # one memory setting: said, not drawn
    assert "one memory setting only" in files.markdown.read_text()
    no_pricing = write_report(run.path, ReportOptions(pricing_path=None))
    assert "cost_vs_requests" not in json.loads(no_pricing.summary_json.read_text())["plots"]


def test_a_memory_sweep_in_one_run_is_compared_near_the_top(tmp_path):
    records = [
        rec(i, "local-faas", 40.0 - memory / 100 + i % 3, scenario=f"load-memory-mb-{memory}", model_name="smallcnn",
            weights="random", memory_mb=memory, cold_start=i == 0, duration_ms=30.0 - memory / 100,
            start_s=k * 30.0)
        for k, memory in enumerate((512, 1024, 1769))
        for i in range(40)
    ]  # fmt: skip
    files = write_report(write_run(tmp_path, records).path, NO_PLOTS)
    markdown = files.markdown.read_text()
    top = markdown.split("## Groups at a glance")[0]
    assert "the baseline is **smallcnn, random weights · 512 MB** (the least memory)" in top
    assert "differ in memory size;" in top
    sweep = top.split("### Memory sweep")[1]
    assert [line.split("|")[1].strip() for line in sweep.splitlines() if line.startswith("| 1")] == ["1024", "1769"]
