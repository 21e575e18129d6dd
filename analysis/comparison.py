"""Baseline vs the others: which inference groups a report compares, its baseline, the ratios, the words.

A report compares when it holds two or more inference groups (predict, invoke, s3-infer with requests):
several runs, or several groups of one run (a memory sweep, function vs server, two models). The baseline:
with several runs, the first inference group of the first run given on the command line; in one run, the
server group when there is one (function vs server), else the one with the least memory, else the first.
Every figure of the others is shown with its ratio to the baseline's. Pure: summaries in, rows and text out.
"""

from __future__ import annotations

from typing import Any

from analysis.cost import target_kind
from analysis.fmt import ci_text, fmt_ms, fmt_ratio, fmt_usd, num, pct, ratio
from analysis.labels import defining_fields

INFERENCE_OPERATIONS = ("predict", "invoke", "s3-infer")
FIELD_WORDS = {"target": "target", "model": "model", "weights": "weights", "runtime": "runtime",
               "memory": "memory size", "scenario": "scenario", "operation": "operation"}  # fmt: skip


def comparable(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [g for g in groups if g["operation"] in INFERENCE_OPERATIONS and g["latency_ms"].get("count")]


def _memory(group: dict[str, Any]) -> int:
    return group["memory_mb"][0] if group.get("memory_mb") else 0


def order(groups: list[dict[str, Any]], run_ids: list[str]) -> tuple[list[dict[str, Any]], str]:
    """The comparable groups, baseline first, and why that one is the baseline."""
    found = comparable(groups)
    if len(found) < 2:
        return found, ""
    rank = {run_id: i for i, run_id in enumerate(run_ids)}
    found.sort(key=lambda g: (rank.get(g["run_id"], len(rank)), _memory(g)))
    if len({g["run_id"] for g in found}) > 1:
        return found, "the first run given"
    servers = [g for g in found if target_kind(g["target"]) == "server"]
    if servers and len(servers) < len(found):
        base = servers[0]
        return [base, *[g for g in found if g is not base]], "the server (function vs server)"
    if len({_memory(g) for g in found}) > 1:
        return found, "the least memory"
    return found, "the first group"


def _cost(group: dict[str, Any]) -> float | None:
    return (group.get("cost") or {}).get("usd_per_million_ok")


def _cold(group: dict[str, Any]) -> tuple[float | None, float | None]:
    cold = group["cold_starts"]
    return cold.get("rate"), (cold.get("penalty") or {}).get("p50_ms")


def figures(group: dict[str, Any]) -> dict[str, float | None]:
    lat = group["latency_ms"]
    rate, penalty = _cold(group)
    return {"p50": lat.get("p50"), "p95": lat.get("p95"), "p99": lat.get("p99"), "cold_rate": rate,
            "cold_penalty_ms": penalty, "error_rate": group["error_rate"], "usd_per_million": _cost(group)}  # fmt: skip


def _cell(text: str, value: float | None, base: float | None, is_base: bool) -> str:
    if is_base or text == "-":
        return text
    return f"{text} ({fmt_ratio(ratio(value, base))})"


def table(ordered: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: the baseline, then each other group with every figure's ratio to the baseline's."""
    header = ["group (first: baseline)", "n", "p50 ms", "p95 ms [95% CI]", "p99 ms [95% CI]", "cold-start share",
              "cold penalty p50", "error rate", "USD / million (modelled)"]  # fmt: skip
    base = figures(ordered[0])
    rows = []
    for i, g in enumerate(ordered):
        f, lat, is_base = figures(g), g["latency_ms"], i == 0
        rows.append([
            g.get("label", g["target"]) + (" (baseline)" if is_base else ""),
            str(lat.get("count", 0)),
            _cell(num(f["p50"]), f["p50"], base["p50"], is_base),
            _cell(f"{num(f['p95'])} [{ci_text(lat, 'p95')}]", f["p95"], base["p95"], is_base),
            _cell(f"{num(f['p99'])} [{ci_text(lat, 'p99')}]", f["p99"], base["p99"], is_base),
            _cell(pct(f["cold_rate"]), f["cold_rate"], base["cold_rate"], is_base),
            _cell(num(f["cold_penalty_ms"]), f["cold_penalty_ms"], base["cold_penalty_ms"], is_base),
            _cell(pct(f["error_rate"]), f["error_rate"], base["error_rate"], is_base),
            _cell(fmt_usd(f["usd_per_million"]), f["usd_per_million"], base["usd_per_million"], is_base),
        ])  # fmt: skip
    return header, rows


def _versus(g: dict[str, Any], base: dict[str, Any]) -> str:
    f, b = figures(g), figures(base)
    parts = [f"p50 {fmt_ms(f['p50'])} ({fmt_ratio(ratio(f['p50'], b['p50']))})",
             f"p95 {fmt_ms(f['p95'])} ({fmt_ratio(ratio(f['p95'], b['p95']))})",
             f"p99 {fmt_ms(f['p99'])} ({fmt_ratio(ratio(f['p99'], b['p99']))})"]  # fmt: skip
    if f["cold_rate"] is not None:
        parts.append(f"cold starts {pct(f['cold_rate'])} (baseline {pct(b['cold_rate'])})")
    parts.append(f"errors {pct(f['error_rate'])} (baseline {pct(b['error_rate'])})")
    if f["usd_per_million"] is not None and b["usd_per_million"] is not None:
        cost_ratio = fmt_ratio(ratio(f["usd_per_million"], b["usd_per_million"]))
        parts.append(f"{fmt_usd(f['usd_per_million'])}/million ({cost_ratio})")
    return f"**{g.get('label', g['target'])}**: " + ", ".join(parts) + "."


def _best(ordered: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    known = [g for g in ordered if figures(g)[key] is not None]
    return min(known, key=lambda g: figures(g)[key]) if known else None


MAX_VERSUS_SENTENCES = 5  # more groups than this: the extremes in words, every group in the table


def sentences(ordered: list[dict[str, Any]], why: str) -> list[str]:
    """The comparison in words: what varies, the baseline, each other group against it, who is best."""
    fields = [FIELD_WORDS[f] for f in defining_fields(ordered)] or ["nothing recorded (same setup)"]
    base = ordered[0]
    out = [
        f"{len(ordered)} inference groups that differ in {', '.join(fields)}; the baseline is "
        f"**{base.get('label', base['target'])}** ({why}); ratios are other / baseline (below 1x: lower)."
    ]
    if len(ordered) <= MAX_VERSUS_SENTENCES + 1:
        out += [_versus(g, base) for g in ordered[1:]]
    else:  # a sweep: the table below has every group; the words keep to the extremes
        slow = max((g for g in ordered if figures(g)["p95"] is not None), key=lambda g: figures(g)["p95"], default=None)
        if slow is not None:
            out.append(f"Highest p95: {_versus(slow, base).rstrip('.')} (every group: the table below).")
    fast, cheap = _best(ordered, "p95"), _best(ordered, "usd_per_million")
    if fast is not None:
        text = f"Lowest p95: **{fast.get('label', fast['target'])}** ({fmt_ms(figures(fast)['p95'])})"
        if cheap is not None:
            text += f"; cheapest per million: **{cheap.get('label', cheap['target'])}** "
            text += f"({fmt_usd(figures(cheap)['usd_per_million'])}, modelled)"
        out.append(text + ".")
    return out
