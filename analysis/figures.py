"""Which figures a report gets: every chart of analysis.plots / plots_cost / plot_timeline from the summary.

`make_plots` returns the PNGs drawn and, for a chart that belongs in the report but was not drawn, the
sentence saying why (the report prints it in the chart's place).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis import drawing, plots_cost
from analysis import plots as figs
from analysis.comparison import INFERENCE_OPERATIONS
from analysis.groups import GROUP_KEYS, rows_by_group
from analysis.latency import sorted_quantiles
from analysis.plot_timeline import timeline_figure

CDF_POINTS = 2000  # the plot needs no more points than pixels: exact quantiles at this many levels
CDF_KEYS = GROUP_KEYS  # a curve per analysis group


def cdfs(frame: pd.DataFrame, groups: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Sorted successful latencies per inference group (keyed by its label), thinned to CDF_POINTS."""
    ok = frame["ok_bool"].to_numpy(dtype=bool) & frame["operation"].isin(INFERENCE_OPERATIONS).to_numpy(dtype=bool)
    latency = frame["latency_ms"].to_numpy(dtype=float)
    found = {}
    for keys, rows in rows_by_group(frame, CDF_KEYS):
        taken = ok[rows]
        if taken.any():  # no successful inference: no curve
            found[tuple(keys.values())] = latency[rows][taken]
    out = {}
    for g in groups:
        values = found.get(tuple(g[k] for k in CDF_KEYS))
        if g["operation"] not in INFERENCE_OPERATIONS or values is None:
            continue
        values = np.sort(values[~np.isnan(values)])
        if values.size > CDF_POINTS:
            values = sorted_quantiles(values, np.linspace(0, 1, CDF_POINTS))
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
