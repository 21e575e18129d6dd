"""A study plan's opening table (analysis.render_study): one row per workload of each sub-run, in the study's
shape, with speed and cost ranks; a server priced as its instance held for a day."""

from __future__ import annotations

from analysis.doc import Doc, to_markdown
from analysis.render_study import study_rows, study_section


def _group(scenario: str, p50: float, usd: float, server: bool = False) -> dict:
    cost = ({"kind": "server", "usd_per_hour": 0.023, "instances": 1, "instance_type": "t2.small",
             "usd_per_million_ok": usd} if server else
            {"kind": "function", "invocations": 4, "billed_ms_total": 400.0, "usd_per_million_ok": usd})  # fmt: skip
    return {"scenario": scenario, "operation": "predict", "ok": 4, "count": 4,
            "identity": {"runtime": "onnxruntime"}, "latency_ms": {"p50": p50, "p95": p50 * 2, "max": p50 * 3},
            "duration_ms": {"p50": p50 / 2}, "cost": cost,
            "cold_starts": {"known": 4, "cold": 1, "warm_latency_ms": {"p50": p50}, "cold_latency_ms": {"p50": 900.0},
                            "init_ms": {"p50": 450.0}},
            "breakeven": {"published_reference_calls_per_day": 1800}}  # fmt: skip


TIMELINE = {"published": ["a claim"], "workloads": [
    {"tag": "fn-1024", "workload": "fn", "sweep": {"memory_mb": 1024}, "sub_run": 1, "start_s": 0.0},
    {"tag": "sv-512", "workload": "sv", "sweep": {"memory_mb": 512}, "sub_run": 0, "start_s": 1.0},
    {"tag": "fn-512", "workload": "fn", "sweep": {"memory_mb": 512}, "sub_run": 0, "start_s": 0.0},
]}  # fmt: skip
GROUPS = [_group("fn-512", 40.0, 2.0), _group("sv-512", 10.0, 50.0, server=True), _group("fn-1024", 20.0, 3.0)]


def test_one_row_per_workload_and_sub_run_in_run_order_with_ranks() -> None:
    header, rows = study_rows(TIMELINE, GROUPS)
    assert header[:3] == ["memory_mb", "workload", "runtime"] and header[-2:] == ["speed rank", "cost rank"]
    assert [row[:2] for row in rows] == [["512", "fn"], ["512", "sv"], ["1024", "fn"]]
    column = dict(zip(header, rows[0], strict=True))
    assert column["ok"] == "4 of 4" and column["cold starts"] == "1 of 4" and column["billed ms / call"] == "100"
    assert column["$ / day at 1,800 calls (modelled)"] == "$0.0036"
    assert dict(zip(header, rows[1], strict=True))["$ / day at 1,800 calls (modelled)"] == "$0.55 (t2.small, 24 h)"
    assert [row[-2:] for row in rows] == [["3", "1"], ["1", "3"], ["2", "2"]]


def test_the_section_opens_with_the_table_then_the_claims_and_is_absent_without_claims() -> None:
    doc = Doc()
    study_section(doc, TIMELINE, GROUPS)
    text = to_markdown(doc)
    assert text.index("| memory_mb |") < text.index("published: a claim / here: not checked automatically")
    empty = Doc()
    study_section(empty, {**TIMELINE, "published": []}, GROUPS)
    assert to_markdown(empty).strip() == ""
