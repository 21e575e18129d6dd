"""The plan timeline's series: a sweep's sub-runs share one label and color per workload (a legend of workloads,
not of workloads x sub-runs); a plan without a sweep keeps one label per workload tag. The figure draws without
matplotlib's layout warning for a dozen workloads."""

from __future__ import annotations

import warnings
from typing import Any

from analysis.plot_timeline import _lines, timeline_figure


def _span(tag: str, workload: str, sub_run: int, start_s: float, sweep: dict[str, Any]) -> dict[str, Any]:
    rows = [{"start_s": start_s + i, "offered_rps": 1.0, "achieved_rps": 1.0, "p50_ms": 20.0 + i, "p99_ms": 40.0}
            for i in range(5)]  # fmt: skip
    return {"tag": tag, "workload": workload, "kind": "http", "sub_run": sub_run, "sweep": sweep,
            "start_s": start_s, "planned_end_s": start_s + 5, "series": {"predict": rows}}  # fmt: skip


def _timeline(spans: list[dict[str, Any]]) -> dict[str, Any]:
    return {"plan": "p", "t0_unix_s": 0.0, "bin_s": 1.0, "span_s": 100.0, "workloads": spans}


def test_a_sweep_keeps_one_label_and_color_per_workload() -> None:
    spans = [_span(f"{w}-memory-mb-{m}", w, i, i * 10.0, {"memory_mb": m})
             for i, m in enumerate((512, 1024, 2048)) for w in ("fn", "server")]  # fmt: skip
    lines = _lines(_timeline(spans))
    assert [name for name, _, _ in lines] == ["fn", "server"] * 3
    colors = {name: {color for n, _, color in lines if n == name} for name in ("fn", "server")}
    assert all(len(c) == 1 for c in colors.values()) and colors["fn"] != colors["server"]


def test_without_a_sweep_each_tag_is_its_own_line() -> None:
    lines = _lines(_timeline([_span("a", "a", 0, 0.0, {}), _span("b", "b", 0, 0.0, {})]))
    assert [name for name, _, _ in lines] == ["a", "b"]


def test_a_dozen_swept_workloads_draw_without_a_layout_warning() -> None:
    spans = [_span(f"{w}-{i}", w, i, i * 10.0, {"model_source": "s3", "s3_trigger": f"t{i}"})
             for i in range(4) for w in ("api-function", "api-server", "s3-pipeline")]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = timeline_figure(_timeline(spans))
    assert png is not None and png.startswith(b"\x89PNG")
