"""A published study's claims beside this run's figures: one line per claim of the plan's `published:` list,
"published: ... / here: ... (measured | modelled)". Pure functions of plan.json's claims, the plan timeline
(which workload and sweep values each scenario stands for) and the summary's groups.

A claim given as plain text is listed with "here: not checked automatically"; a claim with `here:` names the
figure to compute (experiments.plan.HERE_KINDS).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from analysis.compare import fmt_ms, fmt_usd

Groups = list[dict[str, Any]]
Claim = dict[str, Any]  # the plan's {claim, here, labels}
INFERENCE_OPERATIONS = ("predict", "s3-infer")


def _tagged(timeline: dict[str, Any] | None, groups: Groups) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(span, group) of every workload of the timeline that has an inference group."""
    by_scenario = {g["scenario"]: g for g in groups if g["operation"] in INFERENCE_OPERATIONS}
    spans = (timeline or {}).get("workloads") or []
    return [(s, by_scenario[s["tag"]]) for s in spans if s["tag"] in by_scenario]


def _model(span: dict[str, Any], group: dict[str, Any]) -> str:
    models = group.get("models") or []
    return str(span["sweep"].get("model") or (models[0] if models else "model"))


def _warm_p50(group: dict[str, Any]) -> float | None:
    warm = (group.get("cold_starts") or {}).get("warm_latency_ms") or {}
    return warm.get("p50") if warm.get("p50") is not None else (group.get("latency_ms") or {}).get("p50")


def warm_p50_by_memory(timeline: dict[str, Any] | None, groups: Groups, claim: Claim) -> tuple[str, str] | None:
    rows: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for span, group in _tagged(timeline, groups):
        memory, p50 = span["sweep"].get("memory_mb"), _warm_p50(group)
        if memory is not None and p50 is not None:
            rows[_model(span, group)][int(memory)].append(p50)
    if not rows:
        return None
    parts = [f"{model}: " + ", ".join(f"{mb} MB {fmt_ms(min(v))}" for mb, v in sorted(by_mb.items()))
             for model, by_mb in sorted(rows.items())]  # fmt: skip
    return "warm p50 by memory (the fastest workload of each setting): " + "; ".join(parts), "measured"


def cheapest_by_memory(timeline: dict[str, Any] | None, groups: Groups, claim: Claim) -> tuple[str, str] | None:
    best: dict[int, tuple[float, str]] = {}
    for span, group in _tagged(timeline, groups):
        memory, usd = span["sweep"].get("memory_mb"), (group.get("cost") or {}).get("usd_per_million_ok")
        if memory is None or usd is None:
            continue
        if int(memory) not in best or usd < best[int(memory)][0]:
            best[int(memory)] = (usd, _model(span, group))
    if not best:
        return None
    parts = [f"{mb} MB {model} ({fmt_usd(usd)}/million)" for mb, (usd, model) in sorted(best.items())]
    return "cheapest at each memory: " + ", ".join(parts), "modelled"


def cold_vs_warm(timeline: dict[str, Any] | None, groups: Groups, claim: Claim) -> tuple[str, str] | None:
    colds = [g for g in groups if ((g.get("cold_starts") or {}).get("cold_latency_ms") or {}).get("p50")]
    if not colds:
        return None
    parts = []
    for g in colds:
        c = g["cold_starts"]
        parts.append(f"{g.get('label', g['scenario'])}: cold p50 {fmt_ms(c['cold_latency_ms']['p50'])} "
                     f"vs warm p50 {fmt_ms(_warm_p50(g))} ({c['cold']} cold of {c['known']})")  # fmt: skip
    return "; ".join(parts), "measured"


def function_vs_server(timeline: dict[str, Any] | None, groups: Groups, claim: Claim) -> tuple[str, str] | None:
    found: dict[str, dict[str, Any]] = {}  # the busiest group of each side: its steady load, not a probe
    for g in groups:
        if g["operation"] == "predict" and g["target"] in ("local-faas", "lambda", "local-server", "ec2"):
            kind = "function" if g["target"] in ("local-faas", "lambda") else "server"
            if kind not in found or g.get("count", 0) > found[kind].get("count", 0):
                found[kind] = g
    if len(found) < 2:
        return None
    fn, sv = found["function"], found["server"]
    text = (f"function p50 {fmt_ms(fn['latency_ms'].get('p50'))} (warm {fmt_ms(_warm_p50(fn))}) vs server p50 "
            f"{fmt_ms(sv['latency_ms'].get('p50'))}")  # fmt: skip
    return text, "measured"


def cold_by_workload(timeline: dict[str, Any] | None, groups: Groups, claim: Claim) -> tuple[str, str] | None:
    parts, tagged = [], _tagged(timeline, groups)
    probes = [(s, g) for s, g in tagged if s.get("kind") in ("cold-probe", "burst")]
    for span, group in probes or tagged:  # the workloads made to show cold starts, when the plan has any
        cold = group.get("cold_starts") or {}
        if cold.get("known"):
            init = (cold.get("init_ms") or {}).get("p50")
            parts.append(f"{span['tag']}: {cold.get('cold', 0)} cold of {cold['known']}"
                         f"{f', init p50 {fmt_ms(init)}' if init is not None else ''}")  # fmt: skip
    return ("; ".join(parts), "measured") if parts else None


def _size_rows(timeline: dict[str, Any] | None, groups: Groups) -> dict[int, dict[str, list[dict[str, Any]]]]:
    sizes: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for span, group in _tagged(timeline, groups):
        if span.get("kind") == "burst" and span.get("size") is not None:
            phase = "cold" if (group.get("cold_starts") or {}).get("cold") else "warm"
            sizes[int(span["size"])][phase].append(group)
    return sizes


def cold_by_burst_size(timeline: dict[str, Any] | None, groups: Groups, claim: Claim) -> tuple[str, str] | None:
    """Per burst size: cold starts of its cold bursts, their init time (REPORT Init Duration), p50 cold vs warm."""
    parts = []
    for size, phases in sorted(_size_rows(timeline, groups).items()):
        cold = [g["cold_starts"] for g in phases.get("cold", [])]
        known, starts = sum(c.get("known") or 0 for c in cold), sum(c.get("cold") or 0 for c in cold)
        inits = [(c.get("init_ms") or {}).get("p50") for c in cold]
        init_max = [(c.get("init_ms") or {}).get("max") for c in cold]
        p50 = {phase: [(g.get("latency_ms") or {}).get("p50") for g in gs] for phase, gs in phases.items()}
        text = f"size {size}: {starts} cold of {known}"
        if any(v is not None for v in inits):
            text += f", init p50 {fmt_ms(max(v for v in inits if v is not None))}"
            text += f" (max {fmt_ms(max(v for v in init_max if v is not None))})" if any(init_max) else ""
        for phase in ("cold", "warm"):
            values = [v for v in p50.get(phase, []) if v is not None]
            text += f", {phase} burst p50 {fmt_ms(max(values))}" if values else ""
        parts.append(text)
    return ("; ".join(parts), "measured") if parts else None


def rank_by_p50(timeline: dict[str, Any] | None, groups: Groups, claim: Claim) -> tuple[str, str] | None:
    """The labelled workloads (claim `labels`: record scenario -> name) from fastest to slowest p50."""
    labels = claim.get("labels") or {}
    found = [(g["latency_ms"]["p50"], labels[g["scenario"]]) for g in groups
             if g["operation"] in INFERENCE_OPERATIONS and g["scenario"] in labels
             and (g.get("latency_ms") or {}).get("p50") is not None]  # fmt: skip
    if not found:
        return None
    order = " > ".join(f"{name} ({fmt_ms(p50)})" for p50, name in sorted(found))
    return f"fastest first by p50: {order}", "measured"


def break_even(timeline: dict[str, Any] | None, groups: Groups, claim: Claim) -> tuple[str, str] | None:
    """Calls per day where a function's modelled cost per call equals an instance's price (pricing.yaml)."""
    parts = []
    for g in groups:
        rows = (g.get("breakeven") or {}).get("rows") or []
        per_call = (g.get("breakeven") or {}).get("function_usd_per_request")
        if not rows or not per_call or g["operation"] not in INFERENCE_OPERATIONS:
            continue
        wanted = [r for r in rows if r["instance_type"] == claim.get("instance_type")]
        row = (wanted or rows)[0]
        parts.append(f"{g['scenario']}: ${per_call:.2e} per call -> {row['breakeven_requests_per_day']:,.0f} calls/day "
                     f"vs {row['instance_type']} (${row['usd_per_hour']}/h)")  # fmt: skip
    return ("; ".join(parts), "modelled") if parts else None


def _name(span: dict[str, Any]) -> str:
    """A workload of a sub-run by its sweep values (`resnet50 / opencv`), else by its tag."""
    return " / ".join(str(v) for v in span["sweep"].values()) or span["tag"]


def response_vs_execution(timeline: dict[str, Any] | None, groups: Groups, claim: Claim) -> tuple[str, str] | None:
    """Per workload and sub-run, fastest first: response p50 (client side) vs execution p50 (REPORT Duration)."""
    rows = []
    for span, group in _tagged(timeline, groups):
        response, execution = (group.get("latency_ms") or {}).get("p50"), (group.get("duration_ms") or {}).get("p50")
        if response is not None:
            rows.append((response, f"{_name(span)} {fmt_ms(response)} (execution {fmt_ms(execution)})"))
    if not rows:
        return None
    return "response p50 (execution p50), fastest first: " + "; ".join(text for _, text in sorted(rows)), "measured"


def cost_per_million(timeline: dict[str, Any] | None, groups: Groups, claim: Claim) -> tuple[str, str] | None:
    """Per workload and sub-run, cheapest first: $/million by that formula (billed GB-s and requests)."""
    rows = []
    for span, group in _tagged(timeline, groups):
        cost = group.get("cost") or {}
        if cost.get("usd_per_million_ok") is not None and cost.get("kind") != "server":  # a function (+ its S3)
            rows.append((cost["usd_per_million_ok"], f"{_name(span)} {fmt_usd(cost['usd_per_million_ok'])}"))
    if not rows:
        return None
    what = "$ per million (billed GB-s x $/GB-s + requests; an upload's S3 GET and PUT too), cheapest first: "
    return what + ", ".join(text for _, text in sorted(rows)), "modelled"


HERE: dict[str, Callable[[dict[str, Any] | None, Groups, Claim], tuple[str, str] | None]] = {
    "warm_p50_by_memory": warm_p50_by_memory,
    "cheapest_by_memory": cheapest_by_memory,
    "cold_vs_warm": cold_vs_warm,
    "function_vs_server": function_vs_server,
    "cold_by_workload": cold_by_workload,
    "cold_by_burst_size": cold_by_burst_size,
    "rank_by_p50": rank_by_p50,
    "break_even": break_even,
    "response_vs_execution": response_vs_execution,
    "cost_per_million": cost_per_million,
}


def claim_lines(published: list[Any], timeline: dict[str, Any] | None, groups: Groups) -> list[str]:
    """One line per claim: what the study published and what this run measured (or modelled) beside it."""
    lines = []
    for item in published:
        entry: Claim = {"claim": item} if isinstance(item, str) else item
        claim, kind = entry.get("claim", ""), entry.get("here")
        here = HERE[kind](timeline, groups, entry) if kind in HERE else None
        if here is None:
            reason = "not checked automatically" if kind is None else f"no {kind.replace('_', ' ')} in this run"
            lines.append(f"published: {claim} / here: {reason}")
        else:
            lines.append(f"published: {claim} / here: {here[0]} ({here[1]})")
    return lines
