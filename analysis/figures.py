"""Which figures a report gets: every chart of analysis.plots / plots_cost / plot_timeline from the summary.

`make_plots` returns the PNGs drawn and, for a chart that belongs in the report but was not drawn, the
sentence saying why (the report prints it in the chart's place).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis import drawing, plots_cost
from analysis import plots as figs
from analysis.comparison import INFERENCE_OPERATIONS
from analysis.groups import GROUP_KEYS
from analysis.plot_timeline import timeline_figure
from analysis.summary import Curves


def cdfs(groups: list[dict[str, Any]], curves: Curves) -> dict[str, np.ndarray]:
    """The CDF points of each inference group with successful latencies (`analyse`'s curves), keyed by its label."""
    out = {}
    for g in groups:
        values = curves.get(tuple(g[k] for k in GROUP_KEYS))
        if g["operation"] in INFERENCE_OPERATIONS and values is not None and values.size:
            out[figs.label(g)] = values
    return out


def make_plots(summary: dict[str, Any], latency_cdfs: dict[str, np.ndarray]) -> tuple[dict[str, bytes], dict]:
    """(name -> PNG, name -> why it was not drawn)."""
    groups, with_run = summary["groups"], len(summary["runs"]) > 1
    window = summary["plot_window_s"]
    ordered = [groups[i] for i in (summary.get("comparison") or {}).get("groups", [])]
    memory_sweep = (summary.get("cost") or {}).get("memory_sweep") or {}
    made = drawing.draw(
        {
            "comparison": lambda: plots_cost.comparison_bars(ordered),
            "latency_over_time": lambda: figs.latency_over_time(groups, window, with_run),
            "latency_cdf": lambda: figs.latency_cdfs(latency_cdfs),
            "cold_starts": lambda: figs.cold_starts_over_time(groups, window, with_run),
            "keepalive": lambda: figs.keepalive_curve(groups, with_run),
            "cost_vs_memory": lambda: plots_cost.cost_vs_memory(memory_sweep),
            "cost_vs_requests": lambda: plots_cost.cost_vs_requests(groups),
            "sla_windows": lambda: figs.sla_windows(groups, with_run),
            "timeline": lambda: timeline_figure(summary.get("timeline")),
        }
    )
    drawn = {name: png for name, png in made.items() if isinstance(png, bytes)}
    return drawn, {name: why for name, why in made.items() if isinstance(why, str)}
