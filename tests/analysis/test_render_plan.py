"""The plan section's sweep table: one row per sub-run and workload, from the summary's groups."""

from __future__ import annotations

from analysis.render_plan import sweep_rows


def _group(scenario: str, ok: int, warm_p50: float, cold_p50: float) -> dict:
    return {"scenario": scenario, "operation": "predict", "ok": ok,
            "cold_starts": {"warm_latency_ms": {"p50": warm_p50, "p95": warm_p50 * 2},
                            "cold_latency_ms": {"p50": cold_p50}, "init_ms": {"p50": cold_p50 / 2}},
            "cost": {"invocations": ok, "billed_ms_total": ok * 100.0, "usd_per_million_ok": 1.5}}  # fmt: skip


def test_one_row_per_sub_run_and_workload_with_its_values() -> None:
    timeline = {"workloads": [
        {"tag": "load-memory-mb-512", "workload": "load", "sweep": {"memory_mb": 512}},
        {"tag": "load-memory-mb-1024", "workload": "load", "sweep": {"memory_mb": 1024}},
        {"tag": "other", "workload": "other", "sweep": {}},
    ]}  # fmt: skip
    groups = [_group("load-memory-mb-512", 10, 40.0, 900.0), _group("load-memory-mb-1024", 10, 20.0, 600.0)]
    header, rows = sweep_rows(timeline, groups)
    assert header[:3] == ["memory_mb", "workload", "ok"]
    assert rows == [
        ["512", "load", "10", "40.0", "80.0", "900.0", "450.0", "100", "$1.50"],
        ["1024", "load", "10", "20.0", "40.0", "600.0", "300.0", "100", "$1.50"],
    ]
    assert sweep_rows({"workloads": [timeline["workloads"][2]]}, groups)[1] == []  # no sweep: no table
