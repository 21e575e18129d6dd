"""Figures as PNG bytes (matplotlib, Agg backend): pure functions from summaries to images.

Each function returns None when it has nothing to draw, so a partial run still gets the plots it can, or a
sentence saying why a chart that belongs in the report was not drawn (too few points to show its idea).
Legends sit outside the data (right of the axes), fonts are readable at the report's width.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

DPI = 100
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9,
                     "xtick.labelsize": 9, "ytick.labelsize": 9})  # fmt: skip
OUTSIDE = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "frameon": False}  # legend right of the axes
BELOW = {"loc": "upper left", "bbox_to_anchor": (0.0, -0.2), "frameon": False}  # long group names: under the axes
MIN_WINDOWS = 3  # a time chart of fewer windows shows no trend


def label(group: dict[str, Any], with_run: bool = False) -> str:
    """The group's label (analysis.labels: what defines it), else target / operation."""
    if group.get("label"):
        return str(group["label"])
    text = f"{group['target']} / {group['operation']}"
    return f"{group['run_id']}: {text}" if with_run else text


def short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def latency_axis(ax: Any, values: np.ndarray, axis: str = "y") -> None:
    """Log scale (plain tick labels at 1-2-5 steps) when the values span more than 10x, else linear from 0."""
    finite = values[np.isfinite(values) & (values > 0)]
    target = ax.yaxis if axis == "y" else ax.xaxis
    if finite.size and finite.max() / finite.min() > 10:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
        target.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        target.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        target.set_minor_formatter(ticker.NullFormatter())
    elif axis == "y":
        ax.set_ylim(0, (finite.max() * 1.15) if finite.size else 1)


def _plain_log(axis: Any) -> None:
    """Log-scale tick labels as plain numbers (20, 50, 100), not 2 x 10^1."""
    formatter = ticker.FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_formatter(formatter)
    axis.set_minor_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}" if str(f"{v:g}")[0] in "25" else ""))


def _png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # a legend taller than its axes (a plan with dozens of workloads) cannot be laid out tightly: the default
        # layout stays, and bbox_inches="tight" still saves the whole legend
        warnings.filterwarnings("ignore", message="Tight layout not applied", category=UserWarning)
        fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _rows(group: dict[str, Any], window: str) -> list[dict[str, Any]]:
    return group.get("windows", {}).get(window, [])


def _series(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=float)


def _rate_bars(ax: Any, rows: list[dict[str, Any]], t: np.ndarray) -> Any:
    """Achieved (bars) and offered (step line) req/s on a second axis, headroom above so no line sits on the top."""
    rate = ax.twinx()
    achieved, offered = _series(rows, "achieved_rps"), _series(rows, "offered_rps")
    duration = _series(rows, "duration_s")
    rate.bar(t, achieved, width=duration * 0.9, align="edge", alpha=0.15, color="grey", label="achieved req/s")
    edges = np.append(t, t[-1] + duration[-1])
    rate.step(edges, np.append(offered, offered[-1]), where="post", color="black", lw=1, label="offered req/s")
    top = np.nanmax(np.concatenate([achieved, offered, [1e-9]]))
    rate.set_ylim(0, top * 1.3)
    rate.set_ylabel("req/s")
    return rate


def latency_over_time(groups: list[dict[str, Any]], window: str, with_run: bool = False) -> bytes | str | None:
    """Per group: p50/p95/p99 per window and the offered/achieved rate on a second axis."""
    groups = [g for g in groups if _rows(g, window)]
    if not groups:
        return None
    if max(len(_rows(g, window)) for g in groups) < MIN_WINDOWS:
        return f"fewer than {MIN_WINDOWS} windows of {window} s: too short a run to show latency over time"
    fig, axes = plt.subplots(len(groups), 1, figsize=(11, 2.9 * len(groups)), squeeze=False)
    for ax, group in zip(axes[:, 0], groups, strict=True):
        rows = _rows(group, window)
        t = _series(rows, "start_s")
        keys = (("latency_p50", COLORS[2]), ("latency_p95", COLORS[0]), ("latency_p99", COLORS[1]))
        for key, color in keys:
            ax.plot(t + float(window) / 2, _series(rows, key), marker="o", ms=3, color=color, label=key[8:])
        latency_axis(ax, np.concatenate([_series(rows, k) for k, _ in keys]))
        ax.set_ylabel("latency ms")
        ax.set_title(short(label(group, with_run), 90), loc="left")
        rate = _rate_bars(ax, rows, t)
        lines, bars = ax.get_legend_handles_labels(), rate.get_legend_handles_labels()
        ax.legend(lines[0] + bars[0], lines[1] + bars[1], loc="upper left", bbox_to_anchor=(1.08, 1.0), frameon=False)
    axes[-1, 0].set_xlabel(f"seconds since the group's first request ({window} s windows)")
    return _png(fig)


def latency_cdfs(cdfs: dict[str, np.ndarray]) -> bytes | str | None:
    """Empirical CDFs of latency side by side (e.g. function vs server), log x."""
    cdfs = {k: v for k, v in cdfs.items() if v.size}
    if not cdfs:
        return None
    if max(v.size for v in cdfs.values()) < 10:
        return "fewer than 10 successful requests per group: too few for a distribution"
    fig, ax = plt.subplots(figsize=(11, 4))
    for (name, values), color in zip(cdfs.items(), COLORS, strict=False):
        ax.step(values, np.arange(1, values.size + 1) / values.size, where="post", color=color, label=short(name))
    latency_axis(ax, np.concatenate(list(cdfs.values())), axis="x")
    ax.set_xlabel("latency ms (from the intended send time)")
    ax.set_ylabel("fraction of requests")
    for level in (0.5, 0.95, 0.99):
        ax.axhline(level, color="grey", lw=0.5, ls=":")
        va = {0.99: "bottom", 0.95: "top"}.get(level, "center")  # p95 and p99 lie close: one above, one below
        ax.text(1.0, level, f" p{level * 100:g}", transform=ax.get_yaxis_transform(), va=va, color="grey")
    ax.set_ylim(0, 1.02)
    ax.set_title("Latency distribution (CDF) per group", loc="left")
    ax.legend(**BELOW)
    return _png(fig)


def cold_starts_over_time(groups: list[dict[str, Any]], window: str, with_run: bool = False) -> bytes | str | None:
    groups = [g for g in groups if g["cold_starts"].get("known") and _rows(g, window)]
    if not groups:
        return None
    if not any(g["cold_starts"].get("cold") for g in groups):
        return "no cold starts in any group"
    fig, ax = plt.subplots(figsize=(11, 3.6))
    width = float(window) / (len(groups) + 1)
    for i, (group, color) in enumerate(zip(groups, COLORS, strict=False)):
        rows = _rows(group, window)
        t = _series(rows, "start_s") + i * width
        name = f"{short(label(group, with_run))} ({group['cold_starts']['source']})"
        ax.bar(t, _series(rows, "cold_starts"), width=width, align="edge", color=color, label=name)
    ax.set_xlabel("seconds since the group's first request")
    ax.set_ylabel(f"cold starts per {window} s")
    ax.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_title("Cold starts over time", loc="left")
    ax.legend(**BELOW)
    return _png(fig)


def _keepalive_points(ax: Any, group: dict[str, Any], color: str, dodge: float, name: str) -> None:
    rows = group["cold_starts"]["keepalive"]
    lo = np.array([max(r["gap_s_from"], 1e-3) for r in rows])
    hi = np.array([r["gap_s_to"] if r["gap_s_to"] is not None else r["gap_s_from"] * 3 for r in rows])
    mid = np.sqrt(lo * hi) * dodge
    rate = np.array([r["rate"] for r in rows])
    ci = np.array([r["rate_ci95"] for r in rows], dtype=float)
    ax.errorbar(mid, rate, yerr=[rate - ci[:, 0], ci[:, 1] - rate], marker="o", capsize=3, color=color, label=name)
    for x, y, r, top in zip(mid, rate, rows, ci[:, 1], strict=True):  # n= above the CI's top, or below a high point
        below = top > 0.85
        ax.annotate(f"n={r['requests']}", (x, y if below else top), textcoords="offset points", ha="center",
                    xytext=(0, -13 if below else 5), fontsize=8, color=color)  # fmt: skip


def keepalive_curve(groups: list[dict[str, Any]], with_run: bool = False) -> bytes | str | None:
    """Chance of a cold start vs the idle gap since the previous completion, with 95% CIs."""
    groups = [g for g in groups if g["cold_starts"].get("keepalive") and g["cold_starts"].get("cold")]
    if not groups:
        return None
    if max(len(g["cold_starts"]["keepalive"]) for g in groups) < 2:
        return "every request fell in one idle-gap bin: a curve needs requests after gaps of several lengths"
    fig, ax = plt.subplots(figsize=(11, 4))
    for i, (group, color) in enumerate(zip(groups, COLORS, strict=False)):
        dodge = 1.18 ** (i - (len(groups) - 1) / 2)  # groups side by side within a bin, not on top of each other
        _keepalive_points(ax, group, color, dodge, short(label(group, with_run)))
    ax.set_xscale("log")
    edges = {r["gap_s_from"] for g in groups for r in g["cold_starts"]["keepalive"]} - {0.0}
    edges |= {r["gap_s_to"] for g in groups for r in g["cold_starts"]["keepalive"] if r["gap_s_to"]}
    ax.set_xticks(sorted(edges))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.grid(axis="x", alpha=0.3)
    ax.set_ylim(-0.16, 1.15)
    ax.set_xlabel("idle gap since the previous completion (s, log scale; ticks: bin edges)")
    ax.set_ylabel("P(cold start)")
    ax.set_title("Keep-alive curve: chance of a cold start after an idle gap (95% CIs)", loc="left")
    ax.legend(**BELOW)
    return _png(fig)


def sla_windows(groups: list[dict[str, Any]], with_run: bool = False) -> bytes | str | None:
    """Per group with a latency bound: the bounded percentile per SLA window, the bound, violations shaded."""
    items = []
    for g in groups:
        sla = g.get("sla") or {}
        keys = [k for k in ("p99_ms", "p95_ms", "p90_ms", "p50_ms") if k in sla.get("rule", {})]
        if keys and _rows(g, f"{sla['windows']['window_s']:g}"):
            items.append((g, keys[0], sla))
    if not items:
        return None
    window = f"{items[0][2]['windows']['window_s']:g}"
    if max(len(_rows(g, f"{sla['windows']['window_s']:g}")) for g, _, sla in items) < MIN_WINDOWS:
        return f"fewer than {MIN_WINDOWS} SLA windows of {window} s: the run is too short to show violations over time"
    fig, axes = plt.subplots(len(items), 1, figsize=(11, 2.6 * len(items)), squeeze=False)
    for ax, (group, key, sla) in zip(axes[:, 0], items, strict=True):
        window = f"{sla['windows']['window_s']:g}"
        rows = _rows(group, window)
        t = _series(rows, "start_s")
        ax.plot(
            t + float(window) / 2,
            _series(rows, f"latency_p{key[1:-3]}"),
            marker="o",
            ms=3,
            color=COLORS[0],
            label=f"{key[:-3]} per window",
        )
        ax.axhline(sla["rule"][key], color=COLORS[1], ls="--", label=f"bound {sla['rule'][key]:g} ms")
        for i in sla["windows"]["violating"]:
            ax.axvspan(t[i], t[i] + float(window), color=COLORS[1], alpha=0.15, lw=0)
        ax.set_xlim(0, t[-1] + float(window))
        top = np.nanmax(np.append(_series(rows, f"latency_p{key[1:-3]}"), sla["rule"][key]))
        ax.set_ylim(0, top * 1.15)
        ax.set_ylabel("ms")
        ax.set_title(f"{short(label(group, with_run), 80)}: verdict {sla['verdict']}", loc="left")
        ax.legend(**OUTSIDE)
    axes[-1, 0].set_xlabel("seconds since the group's first request (shaded: a window violating any bound)")
    return _png(fig)
