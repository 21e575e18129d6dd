"""Figures as PNG bytes (matplotlib, Agg backend): pure functions from summaries to images.

Each function returns None when it has nothing to draw, so a partial run still gets the plots it can.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

DPI = 100
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


def label(group: dict[str, Any], with_run: bool = False) -> str:
    text = f"{group['target']} / {group['operation']}"
    return f"{group['run_id']}: {text}" if with_run else text


def _plain_log(axis: Any) -> None:
    """Log-scale tick labels as plain numbers (20, 50, 100), not 2 x 10^1."""
    formatter = ticker.FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_formatter(formatter)
    axis.set_minor_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}" if str(f"{v:g}")[0] in "25" else ""))


def _png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def _rows(group: dict[str, Any], window: str) -> list[dict[str, Any]]:
    return group.get("windows", {}).get(window, [])


def _series(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=float)


def latency_over_time(groups: list[dict[str, Any]], window: str, with_run: bool = False) -> bytes | None:
    """Per group: p50/p95/p99 per window (log scale) and the offered/achieved rate on a second axis."""
    groups = [g for g in groups if _rows(g, window)]
    if not groups:
        return None
    fig, axes = plt.subplots(len(groups), 1, figsize=(10, 2.8 * len(groups)), squeeze=False)
    for ax, group in zip(axes[:, 0], groups, strict=True):
        rows = _rows(group, window)
        t = _series(rows, "start_s")
        for key, color in (("latency_p50", COLORS[2]), ("latency_p95", COLORS[0]), ("latency_p99", COLORS[1])):
            ax.plot(
                t + float(window) / 2,
                _series(rows, key),
                marker="o",
                ms=3,
                color=color,
                label=key.replace("latency_", ""),
            )
        ax.set_yscale("log")
        _plain_log(ax.yaxis)
        ax.set_ylabel("latency ms")
        ax.set_title(f"{label(group, with_run)}: latency per {window} s window and request rate", fontsize=10)
        rate = ax.twinx()
        rate.bar(
            t,
            _series(rows, "achieved_rps"),
            width=_series(rows, "duration_s") * 0.9,
            align="edge",
            alpha=0.15,
            color="grey",
            label="achieved req/s",
        )
        edges = np.append(t, t[-1] + _series(rows, "duration_s")[-1])
        offered = _series(rows, "offered_rps")
        rate.step(edges, np.append(offered, offered[-1]), where="post", color="black", lw=1, label="offered req/s")
        rate.set_ylabel("req/s")
        lines = ax.get_legend_handles_labels()
        bars = rate.get_legend_handles_labels()
        ax.legend(lines[0] + bars[0], lines[1] + bars[1], fontsize=7, loc="upper right", ncol=5)
    axes[-1, 0].set_xlabel("seconds since the group's first request")
    return _png(fig)


def latency_cdfs(cdfs: dict[str, np.ndarray]) -> bytes | None:
    """Empirical CDFs of latency side by side (e.g. function vs server), log x."""
    cdfs = {k: v for k, v in cdfs.items() if v.size}
    if not cdfs:
        return None
    fig, ax = plt.subplots(figsize=(10, 4))
    for (name, values), color in zip(cdfs.items(), COLORS, strict=False):
        ax.step(values, np.arange(1, values.size + 1) / values.size, where="post", color=color, label=name)
    ax.set_xscale("log")
    _plain_log(ax.xaxis)
    ax.set_xlabel("latency ms (from the intended send time, log scale)")
    ax.set_ylabel("fraction of requests")
    for level in (0.5, 0.95, 0.99):
        ax.axhline(level, color="grey", lw=0.5, ls=":")
        ax.text(ax.get_xlim()[0], level, f" p{level * 100:g}", va="bottom", fontsize=7, color="grey")
    ax.set_title("Latency distribution (CDF) per target", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def cold_starts_over_time(groups: list[dict[str, Any]], window: str, with_run: bool = False) -> bytes | None:
    groups = [g for g in groups if g["cold_starts"].get("known") and _rows(g, window)]
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(10, 3.6))
    width = float(window) / (len(groups) + 1)
    for i, (group, color) in enumerate(zip(groups, COLORS, strict=False)):
        rows = _rows(group, window)
        t = _series(rows, "start_s") + i * width
        ax.bar(
            t,
            _series(rows, "cold_starts"),
            width=width,
            align="edge",
            color=color,
            label=f"{label(group, with_run)} ({group['cold_starts']['source']})",
        )
    ax.set_xlabel("seconds since the group's first request")
    ax.set_ylabel(f"cold starts per {window} s")
    ax.set_title("Cold starts over time", fontsize=10)
    ax.legend(fontsize=7)
    return _png(fig)


def keepalive_curve(groups: list[dict[str, Any]], with_run: bool = False) -> bytes | None:
    """Chance of a cold start vs the idle gap since the previous completion, with 95% CIs."""
    groups = [g for g in groups if g["cold_starts"].get("keepalive") and g["cold_starts"].get("cold")]
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(10, 3.8))
    for group, color in zip(groups, COLORS, strict=False):
        rows = group["cold_starts"]["keepalive"]
        lo = np.array([max(r["gap_s_from"], 1e-3) for r in rows])
        hi = np.array([r["gap_s_to"] if r["gap_s_to"] is not None else r["gap_s_from"] * 3 for r in rows])
        mid = np.sqrt(lo * hi)
        rate = np.array([r["rate"] for r in rows])
        ci = np.array([r["rate_ci95"] for r in rows], dtype=float)
        ax.errorbar(
            mid,
            rate,
            yerr=[rate - ci[:, 0], ci[:, 1] - rate],
            marker="o",
            capsize=3,
            color=color,
            label=label(group, with_run),
        )
        for x, y, r in zip(mid, rate, rows, strict=True):
            ax.annotate(f"n={r['requests']}", (x, y), fontsize=6, textcoords="offset points", xytext=(3, 4))
    ax.set_xscale("log")
    edges = sorted({r["gap_s_from"] for g in groups for r in g["cold_starts"]["keepalive"]} - {0.0})
    edges += [r["gap_s_to"] for g in groups for r in g["cold_starts"]["keepalive"] if r["gap_s_to"]]
    ax.set_xticks(sorted(set(edges)))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("idle gap since the previous completion (s, log scale)")
    ax.set_ylabel("P(cold start)")
    ax.set_title("Keep-alive curve: chance of a cold start after an idle gap", fontsize=10)
    ax.legend(fontsize=7)
    return _png(fig)


def cost_vs_memory(sweep: dict[str, Any]) -> bytes | None:
    rows = sweep.get("rows") or []
    if not rows:
        return None
    memory = [r["memory_mb"] for r in rows]
    fig, ax = plt.subplots(figsize=(10, 3.6))
    ax.plot(memory, [r["usd_per_million_ok"] for r in rows], marker="o", color=COLORS[0], label="USD / million")
    ax.set_xlabel("function memory MB")
    ax.set_ylabel("modelled USD per million requests")
    speed = ax.twinx()
    speed.plot(memory, [r["p95_ms"] for r in rows], marker="s", color=COLORS[1], label="p95 ms")
    speed.set_ylabel("p95 latency ms")
    if sweep.get("optimum") is not None:
        ax.axvline(sweep["optimum"], color="grey", ls="--", lw=1, label="balanced optimum")
    handles = [*ax.get_legend_handles_labels()[0], *speed.get_legend_handles_labels()[0]]
    ax.legend(handles, [h.get_label() for h in handles], fontsize=8)
    ax.set_title("Memory sweep: modelled cost and p95 latency per memory setting", fontsize=10)
    if len(rows) == 1:
        ax.text(
            0.02,
            0.9,
            f"one memory setting only ({memory[0]} MB, ${rows[0]['usd_per_million_ok']:.2f}/million):"
            " run the load at other settings and pass all runs for a sweep",
            transform=ax.transAxes,
            fontsize=8,
        )
    return _png(fig)


def sla_windows(groups: list[dict[str, Any]], with_run: bool = False) -> bytes | None:
    """Per group with a latency bound: the bounded percentile per SLA window, the bound, violations shaded."""
    items = []
    for g in groups:
        sla = g.get("sla") or {}
        keys = [k for k in ("p99_ms", "p95_ms", "p90_ms", "p50_ms") if k in sla.get("rule", {})]
        if keys and _rows(g, f"{sla['windows']['window_s']:g}"):
            items.append((g, keys[0], sla))
    if not items:
        return None
    fig, axes = plt.subplots(len(items), 1, figsize=(10, 2.4 * len(items)), squeeze=False)
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
        ax.set_ylim(0, None)
        ax.set_ylabel("ms")
        ax.set_title(
            f"{label(group, with_run)}: SLA windows ({window} s; shaded = any bound violated), "
            f"verdict {sla['verdict']}",
            fontsize=9,
        )
        ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("seconds since the group's first request")
    return _png(fig)
