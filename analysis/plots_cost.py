"""Cost and comparison figures (PNG bytes): the memory sweep, cost vs requests/day with the break-even,
and the baseline-vs-others bars. Pure functions from summaries to images; a sentence instead of an image
when there are too few points to show the chart's idea."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib import ticker

from analysis.plots import COLORS, OUTSIDE, _png, latency_axis, plt, short


def cost_vs_memory(sweep: dict[str, Any]) -> bytes | str | None:
    """Modelled cost per million and p95 per memory setting, the balanced optimum marked."""
    rows = sweep.get("rows") or []
    if not rows:
        return None
    memory = [r["memory_mb"] for r in rows]
    if len(set(memory)) < 2:
        return (
            f"one memory setting only ({memory[0]} MB, ${rows[0]['usd_per_million_ok']:.2f}/million): a sweep "
            "chart needs the same load at two or more settings (a plan with `sweep: {parameter: memory_mb, ...}`)"
        )
    fig, ax = plt.subplots(figsize=(11, 3.8))
    ax.plot(memory, [r["usd_per_million_ok"] for r in rows], marker="o", color=COLORS[0], label="USD / million")
    ax.set_xlabel("function memory MB")
    ax.set_ylabel("modelled USD per million requests")
    ax.set_xticks(memory)
    speed = ax.twinx()
    speed.plot(memory, [r["p95_ms"] for r in rows], marker="s", color=COLORS[1], label="p95 ms")
    speed.set_ylabel("p95 latency ms")
    speed.set_ylim(0, max(r["p95_ms"] for r in rows) * 1.2)
    ax.set_ylim(0, max(r["usd_per_million_ok"] for r in rows) * 1.2)
    if sweep.get("optimum") is not None:
        ax.axvline(sweep["optimum"], color="grey", ls="--", lw=1, label="balanced optimum")
    handles = [*ax.get_legend_handles_labels()[0], *speed.get_legend_handles_labels()[0]]
    ax.legend(handles, [h.get_label() for h in handles], loc="upper left", bbox_to_anchor=(1.08, 1.0), frameon=False)
    ax.set_title("Memory sweep: modelled cost and p95 latency per memory setting", loc="left")
    return _png(fig)


INSTANCE_COLORS = ("#7f7f7f", "#bcbd22", "#e377c2", "#8c564b", "#17becf", "#ff7f0e")


def _si(value: float, _: Any = None) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def _instance_lines(ax: Any, items: list[dict[str, Any]], days: float) -> None:
    """One dashed line per instance type (a month of one instance); with one function, its break-even named."""
    for i, r in enumerate(items[0]["breakeven"]["rows"]):
        month = r["usd_per_hour"] * 24 * days
        text = f"one {r['instance_type']} (\\${r['usd_per_hour']}/h): \\${month:,.0f}/month"
        x = r["breakeven_requests_per_day"]
        if len(items) == 1 and np.isfinite(x):
            text += f"; break-even {x:,.0f}/day"
        ax.axhline(month, color=INSTANCE_COLORS[i % len(INSTANCE_COLORS)], ls="--", lw=1.2, label=text)


def cost_vs_requests(groups: list[dict[str, Any]]) -> bytes | str | None:
    """Per function group: a month of the function vs requests/day, each instance type's month, break-evens."""
    items = [g for g in groups if (g.get("breakeven") or {}).get("curve")][:4]
    if not items:
        return None
    fig, ax = plt.subplots(figsize=(11, 4.4))
    days = items[0]["breakeven"]["days_per_month"]
    _instance_lines(ax, items, days)
    for i, g in enumerate(items):
        curve, color = g["breakeven"]["curve"], COLORS[i % len(COLORS)]
        ax.plot(curve["requests_per_day"], curve["function_usd_per_month"], color=color, lw=2.2,
                label=f"function: {short(g.get('label', g['target']), 50)}")  # fmt: skip
        for r in g["breakeven"]["rows"]:
            x = r["breakeven_requests_per_day"]
            if np.isfinite(x) and x <= curve["requests_per_day"][-1]:
                ax.plot([x], [r["usd_per_hour"] * 24 * days], "o", color=color, ms=7, mec="black", zorder=3)
    ax.axvline(1800, color="grey", lw=0.8, ls=":", label="published study: ~1,800 calls/day")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(_si))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"\\${v:g}"))
    ax.set_xlabel("requests per day (steady load, log scale)")
    ax.set_ylabel("modelled USD per month (log scale)")
    ax.grid(alpha=0.3, which="major")
    ax.set_title("Cost vs load: the function pays per request, an instance per hour (dots: break-even)", loc="left")
    ax.legend(**OUTSIDE)
    return _png(fig)


def comparison_bars(ordered: list[dict[str, Any]]) -> bytes | str | None:
    """Baseline on top: p50/p95/p99 per group (horizontal bars) and modelled USD per million beside it."""
    if len(ordered) < 2:
        return None
    names = [short(g.get("label", g["target"]), 48) for g in ordered]
    names[0] += " (baseline)"
    y = np.arange(len(ordered))[::-1]
    height = 1.2 + 0.75 * len(ordered)
    fig, (lat, usd) = plt.subplots(1, 2, figsize=(11, height), sharey=True, gridspec_kw={"width_ratios": [3, 2]})
    values = []
    for i, (key, color) in enumerate((("p50", COLORS[2]), ("p95", COLORS[0]), ("p99", COLORS[1]))):
        widths = np.array([g["latency_ms"].get(key) or np.nan for g in ordered], dtype=float)
        values.append(widths)
        lat.barh(y + (1 - i) * 0.27, widths, height=0.27, color=color, label=key)
    latency_axis(lat, np.concatenate(values), axis="x")
    if lat.get_xscale() != "log":
        lat.set_xlim(0, np.nanmax(np.concatenate(values)) * 1.1)
    lat.set_xlabel("latency ms (from intended send)")
    lat.set_yticks(y)
    lat.set_yticklabels(names)
    lat.legend(frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3)
    cost = np.array([(g.get("cost") or {}).get("usd_per_million_ok") or np.nan for g in ordered], dtype=float)
    usd.barh(y, cost, height=0.6, color=COLORS[3])
    for yi, value in zip(y, cost, strict=True):
        if np.isfinite(value):
            usd.annotate(f"${value:,.2f}", (value, yi), textcoords="offset points", xytext=(4, 0), va="center")
    usd.set_xlim(0, np.nanmax(np.append(cost, 1e-9)) * 1.3)
    usd.set_xlabel("modelled USD per million ok requests")
    for ax in (lat, usd):
        ax.grid(axis="x", alpha=0.3)
    return _png(fig)
