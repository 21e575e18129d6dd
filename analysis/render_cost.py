"""The report's cost section (modelled, never a bill): prices used, cost per group, break-even with the
cost vs requests/day chart, and the memory sweep table (also shown in the comparison section)."""

from __future__ import annotations

from typing import Any

from analysis.doc import Doc
from analysis.fmt import fmt_usd, num


def is_sweep(sweep: dict[str, Any]) -> bool:
    """Two or more memory settings: a sweep worth a table and a chart of its own near the top."""
    return len({r["memory_mb"] for r in sweep.get("rows") or []}) > 1


def name(g: dict[str, Any], with_run: bool) -> str:
    """The group's label (analysis.labels), else target / scenario / operation."""
    if g.get("label"):
        return str(g["label"])
    text = f"{g['target']} / {g['scenario']} / {g['operation']}"
    return f"{g['run_id']}: {text}" if with_run else text


def _prices_text(prices: dict[str, Any]) -> str:
    return (
        f"Every figure in this section is MODELLED from list prices ({prices['region']}, {prices['as_of']}; "
        f"checked: {prices['checked'] or 'not yet'}; file `{prices['file']}`), not billed. Prices used: Lambda "
        f"${prices['lambda_usd_per_gb_s_tier1']:.10f}/GB-s ({prices['architecture']}, first tier) + "
        f"${prices['lambda_usd_per_million_requests']:.2f}/million requests; front {prices['front']} "
        f"${prices['front_usd_per_million_tier1']:.2f}/million; S3 PUT ${prices['s3_put_usd_per_thousand']}/1000, "
        f"GET ${prices['s3_get_usd_per_thousand']}/1000; server {prices['server_instance_type']} "
        f"${prices['server_usd_per_hour']}/hour, per-second billing, 60 s minimum; free tier "
        f"{'included' if prices['include_free_tier'] else 'not included'}."
    )


def _cost_rows(groups: list[dict], with_run: bool) -> list[list[str]]:
    rows = []
    for g in groups:
        c = g.get("cost") or {}
        basis = c.get("billed_basis") or (
            f"{c['instances']} x {c['instance_type']} for {c['billed_s']:.0f} s billed"
            if c.get("kind") == "server"
            else c.get("note", "S3 requests")
        )
        rows.append(
            [
                name(g, with_run),
                c.get("kind", "-"),
                fmt_usd(c.get("total_usd")),
                fmt_usd(c.get("usd_per_million_ok")),
                num(c.get("gb_s"), 3),
                basis,
            ]
        )
    return rows


def memory_sweep_table(doc: Doc, sweep: dict[str, Any], heading: bool = True) -> None:
    rows = [
        [
            str(r["memory_mb"]),
            r["label"],
            num(r["billed_ms_mean"]),
            num(r["p50_ms"]),
            num(r["p95_ms"]),
            fmt_usd(r["usd_per_million_ok"]),
            num(r["score"], 2),
            "optimum" if r.get("optimum", r["memory_mb"] == sweep.get("optimum")) else "",
        ]
        for r in sweep.get("rows", [])
    ]
    if rows and heading:
        doc.h(3, "Memory sweep")
    if rows:
        doc.p(
            f"{sweep['rule']}. One row per memory setting found among the runs given; run the same load at "
            "several memory settings (and pass all runs) to see the trade-off."
        )
    doc.table(["memory MB", "group", "billed ms mean", "p50 ms", "p95 ms", "USD / million", "score", ""], rows)


def cost_section(doc: Doc, summary: dict[str, Any], with_run: bool, plots: dict[str, bytes]) -> None:
    cost = summary.get("cost") or {}
    doc.h(2, "Cost (modelled)")
    prices = cost.get("pricing")
    if not prices:
        doc.p("No pricing file: cost not modelled.")
        return
    doc.p(_prices_text(prices))
    rows = _cost_rows(summary["groups"], with_run)
    doc.table(["group", "priced as", "run cost", "per million ok", "GB-s", "basis"], rows)
    rows = [
        [
            name(g, with_run),
            r["instance_type"],
            f"${r['usd_per_hour']}",
            f"{r['breakeven_requests_per_day']:,.0f}",
            f"{r['breakeven_requests_per_day'] / 1800:,.1f}x",
        ]
        for g in summary["groups"]
        for r in (g.get("breakeven") or {}).get("rows", [])
    ]
    if rows:
        doc.p(
            "Break-even: requests per day at which a month of the function costs as much as a month of one "
            "instance (function cheaper below). A published study found about 1,800 calls/day for a small "
            "model; the last column is ours relative to that (different model, memory and prices)."
        )
    doc.table(["function", "vs instance", "instance $/h", "break-even requests/day", "vs 1,800/day"], rows)
    skipped = summary.get("plots_not_drawn") or {}
    doc.img(plots.get("cost_vs_requests"), "plots/cost_vs_requests.png",
            "Modelled monthly cost vs requests/day: the function vs one instance of each type, break-even marked",
            skipped.get("cost_vs_requests"))  # fmt: skip
    if not is_sweep(cost.get("memory_sweep") or {}):  # else the comparison section shows it
        memory_sweep_table(doc, cost.get("memory_sweep") or {})
        doc.img(plots.get("cost_vs_memory"), "plots/cost_vs_memory.png", "Modelled cost and p95 per memory setting",
                skipped.get("cost_vs_memory"))  # fmt: skip
