"""The plan's timeline figure: every workload on one wall-clock axis (seconds since the plan's start), latency
(p50 solid, p99 dashed, log scale) above, offered (thin) and achieved (thick) rates below, each workload's
planned start and end marked, and the replay's trace time (GMT) on the top axis."""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.plots import COLORS, _plain_log, _png, plt
from analysis.timeline import trace_time


def _xy(rows: list[dict[str, Any]], key: str, width_s: float) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([r["start_s"] + width_s / 2 for r in rows], dtype=float)
    y = np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=float)
    return x, y


def _lines(timeline: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]], str]]:
    out = []
    for i, span in enumerate(s for s in timeline["workloads"] if s.get("series")):
        for op, rows in sorted(span["series"].items()):
            name = span["tag"] if len(span["series"]) == 1 else f"{span['tag']} {op}"
            out.append((name, rows, COLORS[i % len(COLORS)] if op != "s3-infer" else COLORS[(i + 3) % len(COLORS)]))
    return out


def _marks(ax: Any, timeline: dict[str, Any]) -> None:
    for i, span in enumerate(timeline["workloads"]):
        color = COLORS[i % len(COLORS)]
        ax.axvline(span["start_s"], color=color, lw=0.8, ls=":")
        ax.axvline(span["planned_end_s"], color=color, lw=0.8, ls=":")


def _trace_axis(ax: Any, timeline: dict[str, Any]) -> None:
    clocks = [s["trace_clock"] for s in timeline["workloads"] if s.get("trace_clock")]
    if not clocks:
        return
    clock, t0 = clocks[0], timeline["t0_unix_s"]
    top = ax.twiny()
    top.set_xlim(ax.get_xlim())
    ticks = np.linspace(max(0.0, ax.get_xlim()[0]), ax.get_xlim()[1], 7)
    top.set_xticks(ticks)
    top.set_xticklabels([trace_time(clock, t, t0) for t in ticks], fontsize=9)
    top.set_xlabel(f"FIFA'98 trace time (GMT, {clock['window_start_utc'][:10]}), x{clock['speedup']:g}", fontsize=9)


def timeline_figure(timeline: dict[str, Any] | None) -> bytes | None:
    """None when there is no plan timeline or no series to draw."""
    lines = _lines(timeline) if timeline else []
    if not timeline or not lines:
        return None
    width_s = timeline["bin_s"]
    fig, (lat, rate) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    for name, rows, color in lines:
        for key, style in (("p50_ms", "-"), ("p99_ms", "--")):
            x, y = _xy(rows, key, width_s)
            lat.plot(x, y, style, color=color, lw=1.4, label=f"{name} {key[:3]}")
        x, offered = _xy(rows, "offered_rps", width_s)
        rate.plot(x, offered, color=color, lw=0.8, alpha=0.7, label=f"{name} offered")
        rate.plot(x, _xy(rows, "achieved_rps", width_s)[1], color=color, lw=2.0, label=f"{name} achieved ok")
    lat.set_yscale("log")
    _plain_log(lat.yaxis)
    lat.set_ylabel("latency ms (from intended send)")
    rate.set_ylabel("requests/s")
    rate.set_xlabel(f"seconds since the plan started ({width_s:g} s bins; dotted: each workload's planned start/end)")
    for ax in (lat, rate):
        _marks(ax, timeline)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    rate.set_ylim(0, rate.get_ylim()[1] * 1.12)  # headroom: no rate line on the top border
    _trace_axis(lat, timeline)
    return _png(fig)
