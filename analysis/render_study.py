"""The opening of a plan's report when the plan re-runs a published study: this run in the study's shape (one
row per workload and sub-run: its sweep values, latency, cold starts, execution and billed time, modelled cost,
speed and cost ranks) and one line per published claim ("published: ... / here: ...").

Pure functions of the summary's plan timeline (analysis.timeline) and groups.
"""

from __future__ import annotations

from typing import Any

from analysis.doc import Doc
from analysis.published import INFERENCE_OPERATIONS, claim_lines

DEFAULT_CALLS_PER_DAY = 1800  # the published break-even reference (pricing.yaml's, when the summary has it)


def _ms(stats: dict[str, Any] | None, key: str) -> str:
    value = (stats or {}).get(key)
    return "-" if value is None else f"{value:,.1f}"


def _ranks(values: list[float | None]) -> list[str]:
    """1 = lowest; '-' where there is no value."""
    order = sorted((v, i) for i, v in enumerate(values) if v is not None)
    ranks = ["-"] * len(values)
    for rank, (_, i) in enumerate(order, start=1):
        ranks[i] = str(rank)
    return ranks


def _calls_per_day(groups: list[dict[str, Any]]) -> int:
    for g in groups:
        reference = (g.get("breakeven") or {}).get("published_reference_calls_per_day")
        if reference:
            return int(reference)
    return DEFAULT_CALLS_PER_DAY


def _per_day(cost: dict[str, Any], calls_per_day: int) -> str:
    """A day's modelled cost at `calls_per_day`: per call for a function, the instance held 24 h for a server."""
    if cost.get("kind") == "server" and cost.get("usd_per_hour") is not None:
        return f"${cost['usd_per_hour'] * 24 * (cost.get('instances') or 1):,.2f} ({cost.get('instance_type')}, 24 h)"
    usd = cost.get("usd_per_million_ok")
    return "-" if usd is None else f"${usd * calls_per_day / 1e6:,.4f}"


def _cells(span: dict[str, Any], group: dict[str, Any], parameters: list[str], sized: bool, per_day: int) -> list[str]:
    cold, cost = group.get("cold_starts") or {}, group.get("cost") or {}
    calls = cost.get("invocations") or 0
    billed = f"{cost['billed_ms_total'] / calls:,.0f}" if calls and cost.get("billed_ms_total") else "-"
    usd = cost.get("usd_per_million_ok")
    share = f"{cold['cold']} of {cold['known']}" if cold.get("known") else "-"
    runtime = [] if "runtime" in parameters else [(group.get("identity") or {}).get("runtime") or "-"]
    size = [str(span.get("size") or "-")] if sized else []
    return [*(str(span["sweep"].get(p, "")) for p in parameters), span["workload"], *size,
            *runtime, f"{group['ok']} of {group['count']}", _ms(group.get("latency_ms"), "p50"),
            _ms(group.get("latency_ms"), "p95"), _ms(group.get("latency_ms"), "max"), share,
            _ms(cold.get("warm_latency_ms"), "p50"), _ms(cold.get("cold_latency_ms"), "p50"),
            _ms(cold.get("init_ms"), "p50"), _ms(group.get("duration_ms"), "p50"), billed,
            "-" if usd is None else f"${usd:,.2f}", _per_day(cost, per_day)]  # fmt: skip


def study_rows(timeline: dict[str, Any], groups: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """(header, rows): one row per workload of each sub-run that has an inference group."""
    by_scenario = {g["scenario"]: g for g in groups if g["operation"] in INFERENCE_OPERATIONS}
    spans = sorted((s for s in timeline.get("workloads") or [] if s["tag"] in by_scenario),
                   key=lambda s: (s.get("sub_run", 0), s.get("start_s", 0.0), s["tag"]))  # fmt: skip
    parameters = list(dict.fromkeys(k for span in spans for k in span["sweep"]))
    sized = any(s.get("size") is not None for s in spans)
    per_day = _calls_per_day(groups)
    rows = [_cells(s, by_scenario[s["tag"]], parameters, sized, per_day) for s in spans]
    p50 = [(by_scenario[s["tag"]].get("latency_ms") or {}).get("p50") for s in spans]
    usd = [(by_scenario[s["tag"]].get("cost") or {}).get("usd_per_million_ok") for s in spans]
    rows = [[*row, speed, cost] for row, speed, cost in zip(rows, _ranks(p50), _ranks(usd), strict=True)]
    header = [*parameters, "workload", *(["burst size"] if sized else []),
              *([] if "runtime" in parameters else ["runtime"]), "ok", "p50 ms", "p95 ms",
              "max ms", "cold starts", "warm p50 ms", "cold p50 ms", "init p50 ms", "execution p50 ms",
              "billed ms / call", "$ / million (modelled)", f"$ / day at {per_day:,} calls (modelled)", "speed rank",
              "cost rank"]  # fmt: skip
    return header, rows


def study_section(doc: Doc, timeline: dict[str, Any], groups: list[dict[str, Any]]) -> None:
    """The report's opening for a plan with `published` claims (nothing otherwise)."""
    if not timeline.get("published"):
        return
    doc.h(2, "The published study beside this run")
    header, rows = study_rows(timeline, groups)
    if rows:
        doc.p("This run in the study's shape: one row per workload of each sub-run (latency from the intended send "
              "over its successful requests; warm / cold from each request's cold-start flag; init and execution "
              "from the platform's REPORT line; billed time and cost modelled from list prices; rank 1 = fastest "
              "p50 / cheapest).")  # fmt: skip
        doc.table(header, rows)
    doc.p(
        "Each claim of the study this plan re-runs, with this run's figure beside it. This machine is not the "
        "study's: memory is emulated (a CPU share and a ceiling), weights are random, times are scaled down."
    )
    doc.ul(claim_lines(timeline["published"], timeline, groups))
