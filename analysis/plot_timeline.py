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
    """(legend label, rows, color) per workload series. A sweep's sub-runs run one after another: there the
    same workload keeps its color and label in every sub-run (the sub-runs are told apart by their marks)."""
    spans = [s for s in timeline["workloads"] if s.get("series")]
    swept = len({s.get("sub_run", 0) for s in spans}) > 1
    colors: dict[str, str] = {}
    out = []
    for i, span in enumerate(spans):
        key = span["workload"] if swept else span["tag"]
        for op, rows in sorted(span["series"].items()):
            name = key if len(span["series"]) == 1 else f"{key} {op}"
            shift = 3 if op == "s3-infer" else 0
            colors.setdefault(name, COLORS[(len(colors) if swept else i + shift) % len(COLORS)])
            out.append((name, rows, colors[name]))
    return out


def _sub_run_labels(ax: Any, timeline: dict[str, Any]) -> None:
    """Each sub-run's sweep values, written up its start line."""
    starts: dict[int, tuple[float, dict[str, Any]]] = {}
    for span in timeline["workloads"]:
        sub_run = span.get("sub_run", 0)
        if span.get("sweep") and (sub_run not in starts or span["start_s"] < starts[sub_run][0]):
            starts[sub_run] = (span["start_s"], span["sweep"])
    for start_s, sweep in starts.values():
        text = " · ".join(f"{key} {value}" for key, value in sweep.items())
        ax.text(
            start_s,
            0.98,
            f" {text}",
            transform=ax.get_xaxis_transform(),
            rotation=90,
            va="top",
            ha="left",
            fontsize=7,
            color="0.25",
            bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1},
        )


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
    seen: set[str] = set()
    for name, rows, color in lines:
        first = name not in seen  # a swept workload's later sub-runs add no legend entries
        seen.add(name)
        for key, style in (("p50_ms", "-"), ("p99_ms", "--")):
            x, y = _xy(rows, key, width_s)
            lat.plot(x, y, style, color=color, lw=1.4, label=f"{name} {key[:3]}" if first else "_nolegend_")
        x, offered = _xy(rows, "offered_rps", width_s)
        rate.plot(x, offered, color=color, lw=0.8, alpha=0.7, label=f"{name} offered" if first else "_nolegend_")
        rate.plot(x, _xy(rows, "achieved_rps", width_s)[1], color=color, lw=2.0,
                  label=f"{name} achieved ok" if first else "_nolegend_")  # fmt: skip
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
    _sub_run_labels(lat, timeline)
    _trace_axis(lat, timeline)
    return _png(fig)
