"""Plain-words verdicts: per group, and function vs server on the same load (pure: summaries in, sentences out)."""

from __future__ import annotations

from typing import Any

from analysis.cost import PUBLISHED_BREAKEVEN_CALLS_PER_DAY, target_kind
from analysis.fmt import fmt_bound, fmt_ms, fmt_observed, fmt_usd

__all__ = ["fmt_bound", "fmt_ms", "fmt_observed", "fmt_usd", "verdicts"]


def name(group: dict[str, Any], with_run: bool) -> str:
    """The group's label (what defines it, see analysis.labels), else target and operation."""
    if group.get("label"):
        return str(group["label"])
    text = f"{group['target']} {group['operation']}"
    return f"{text} ({group['run_id']})" if with_run else text


def _interrupted(group: dict[str, Any]) -> str:
    cut = group.get("interrupted") or 0
    if not cut:
        return ""
    return (
        f" {cut} request{'s' if cut > 1 else ''} cut by the user's stop (interrupted) "
        "shown apart: not errors, not in the latency figures."
    )


def group_sentence(group: dict[str, Any], with_run: bool) -> str:
    return _sla_sentence(group, with_run) + _interrupted(group)


def _sla_sentence(group: dict[str, Any], with_run: bool) -> str:
    sla = group.get("sla")
    if not sla or not sla["checks"]:
        return f"{name(group, with_run)}: no SLA bounds apply."
    failed = [c for c in sla["checks"] if c["verdict"] == "breach"]
    unsure = [c for c in sla["checks"] if c.get("confidence") == "inconclusive"]
    if failed:
        parts = ", ".join(f"{fmt_bound(c)} (observed {fmt_observed(c)})" for c in failed)
        text = f"{name(group, with_run)}: **BREACHES** the SLA: {parts}."
    elif sla["verdict"] == "pass":
        text = f"{name(group, with_run)}: meets every SLA bound ({len(sla['checks'])} checked)."
    else:
        text = f"{name(group, with_run)}: no data to judge the SLA."
    if unsure:
        need = max((c.get("min_samples") or 0) for c in unsure)
        text += (
            f" Not conclusive at {sla_confidence(group):.0%} confidence for {len(unsure)} bound(s): "
            f"{group['count']} requests; the most demanding of them needs at least {need} to conclude."
        )
    return text


def sla_confidence(group: dict[str, Any]) -> float:
    return 0.95 if not group.get("sla") else group["sla"].get("confidence", 0.95)


def _pairs(groups: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    functions = [g for g in groups if target_kind(g["target"]) == "function" and g["operation"] == "predict"]
    servers = [g for g in groups if target_kind(g["target"]) == "server" and g["operation"] == "predict"]
    pairs = []
    for fn in functions:
        same = [s for s in servers if s["scenario"] == fn["scenario"]] or servers
        if same:
            pairs.append((fn, same[0]))
    return pairs


def _latency_sentence(fn: dict[str, Any], sv: dict[str, Any], with_run: bool) -> str:
    a, b = fn["latency_ms"], sv["latency_ms"]
    if not a.get("count") or not b.get("count"):
        return "One side has no successful requests: no latency comparison."
    faster = name(sv, with_run) if b["p50"] <= a["p50"] else name(fn, with_run)
    text = (
        f"Latency: median {fmt_ms(a['p50'])} on {name(fn, with_run)} vs {fmt_ms(b['p50'])} on "
        f"{name(sv, with_run)} ({faster} is faster at the median); p99 {fmt_ms(a['p99'])} vs "
        f"{fmt_ms(b['p99'])}."
    )
    cold = fn["cold_starts"]
    if cold.get("cold") and cold.get("penalty"):
        text += (
            f" The function had {cold['cold']} cold start(s) in {cold['known']} requests "
            f"({cold['rate']:.1%}), each about {fmt_ms(cold['penalty']['p50_ms'])} slower at the median "
            f"(source: {cold['source']})."
        )
    return text


def _cost_sentence(fn: dict[str, Any], sv: dict[str, Any]) -> str:
    fc, sc = fn.get("cost") or {}, sv.get("cost") or {}
    if not fc.get("usd_per_million_ok") or not sc.get("usd_per_million_ok"):
        return "Cost: not modelled for one of the two (no pricing or no successful requests)."
    cheaper = "the function" if fc["usd_per_million_ok"] < sc["usd_per_million_ok"] else "the server"
    text = (
        f"Cost (modelled, list prices): at this load {fmt_usd(fc['usd_per_million_ok'])} per million requests "
        f"on the function vs {fmt_usd(sc['usd_per_million_ok'])} on {sc['instances']} x {sc['instance_type']} "
        f"held for the run; {cheaper} is cheaper here."
    )
    rows = {r["instance_type"]: r for r in (fn.get("breakeven") or {}).get("rows", [])}
    row = rows.get(sc["instance_type"])
    if row:
        text += (
            f" Break-even vs one {row['instance_type']}: {row['breakeven_requests_per_day']:,.0f} requests/day "
            f"(the function is cheaper below that, if one instance keeps up); a published study found about "
            f"{PUBLISHED_BREAKEVEN_CALLS_PER_DAY:,} calls/day for a small model."
        )
    return text


MAX_GROUP_SENTENCES = 6  # more groups (a sweep): one SLA sentence for all, the details in "SLA verdicts"


def _sla_overview(groups: list[dict[str, Any]], with_run: bool) -> list[str]:
    breaching = [g for g in groups if (g.get("sla") or {}).get("verdict") == "breach"]
    passing = [g for g in groups if (g.get("sla") or {}).get("verdict") == "pass"]
    text = (f"SLA: {len(passing)} of {len(groups)} groups meet every bound, {len(breaching)} breach at least one "
            "(each group's bounds, observed figures and confidence: section SLA verdicts).")  # fmt: skip
    if breaching:
        worst = ", ".join(name(g, with_run) for g in breaching[:3])
        text += f" Breaching, for example: {worst}{' ...' if len(breaching) > 3 else ''}."
    return [text] + [s for g in groups if (s := _interrupted(g).strip())]


def verdicts(groups: list[dict[str, Any]], with_run: bool = False) -> list[str]:
    """The report's opening paragraph: function vs server per scenario first, then the SLA per group (one
    sentence for all of them when there are many, e.g. a sweep)."""
    out = []
    for fn, sv in _pairs(groups):
        out.append(f"Function vs server ({fn['scenario']}): " + _latency_sentence(fn, sv, with_run))
        out.append(_cost_sentence(fn, sv))
    if len(groups) > MAX_GROUP_SENTENCES:
        return out + _sla_overview(groups, with_run)
    return out + [group_sentence(g, with_run) for g in groups]
