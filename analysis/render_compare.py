"""The comparison section, near the top of a report that compares: the comparison in words, one baseline
table (every figure with its ratio to the baseline), and the sweep's table and chart (memory, model...)."""

from __future__ import annotations

from typing import Any

from analysis.comparison import sentences, table
from analysis.doc import Doc
from analysis.render_cost import is_sweep, memory_sweep_table


def comparison_section(doc: Doc, summary: dict[str, Any], plots: dict[str, bytes]) -> None:
    comparison = summary.get("comparison") or {}
    if not comparison.get("groups"):
        return
    ordered = [summary["groups"][i] for i in comparison["groups"]]
    doc.h(2, "Comparison: baseline vs the others")
    doc.ul(sentences(ordered, comparison["baseline_reason"]))
    header, rows = table(ordered)
    doc.table(header, rows)
    doc.p(
        "Latency from the intended send time over the successful requests; [95% CI] distribution-free from "
        "order statistics; (x) = this group's figure / the baseline's. Cost is modelled from list prices."
    )
    skipped = summary.get("plots_not_drawn") or {}
    sweep = (summary.get("cost") or {}).get("memory_sweep") or {}
    if is_sweep(sweep):
        doc.h(3, "Memory sweep")
        memory_sweep_table(doc, sweep, heading=False)
        doc.img(plots.get("cost_vs_memory"), "plots/cost_vs_memory.png",
                "Memory sweep: modelled cost and p95 per memory setting", skipped.get("cost_vs_memory"))  # fmt: skip
    doc.img(plots.get("comparison"), "plots/comparison.png",
            "Baseline first: latency percentiles and modelled cost per million per group",
            skipped.get("comparison"))  # fmt: skip
