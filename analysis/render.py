"""From the summary (and the plots) to the report document: what a newcomer reads, top to bottom."""

from __future__ import annotations

from typing import Any

from analysis.doc import Doc, to_html, to_markdown
from analysis.fmt import ci_text as _ci
from analysis.fmt import fmt_bound, fmt_ms, fmt_observed, fmt_usd
from analysis.fmt import num as _f
from analysis.fmt import pct as _pct
from analysis.render_compare import comparison_section
from analysis.render_cost import cost_section
from analysis.render_cost import name as _name
from analysis.render_plan import plan_section
from analysis.render_study import study_section


def _img(doc: Doc, plots: dict[str, bytes], skipped: dict[str, str], name: str, caption: str) -> None:
    doc.img(plots.get(name), f"plots/{name}.png", caption, skipped.get(name))


def _overview(doc: Doc, groups: list[dict], with_run: bool) -> None:
    doc.h(2, "Groups at a glance")
    cut = any(g.get("interrupted") for g in groups)
    if cut:
        doc.p(
            "'interrupted': requests cut by the user's stop (Locust Stop, Ctrl-C), in flight with no answer; "
            "they are counted here and left out of the requests, the error rate, the latency and the SLA."
        )
    header = [
        "group",
        "requests",
        *(["interrupted"] if cut else []),
        "errors",
        "offered req/s",
        "achieved req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "cold starts",
        "SLA",
        "USD / million (modelled)",
    ]
    rows = []
    for g in groups:
        lat, cold, tp = g["latency_ms"], g["cold_starts"], g["throughput"]
        rows.append(
            [
                _name(g, with_run),
                str(g["count"]),
                *([str(g.get("interrupted", 0))] if cut else []),
                _pct(g["error_rate"]),
                _f(tp["offered_rps"], 2),
                _f(tp["achieved_rps"], 2),
                _f(lat.get("p50")),
                _f(lat.get("p95")),
                _f(lat.get("p99")),
                _f(lat.get("max")),
                f"{cold['cold']} of {cold['known']}" if cold.get("known") else "n/a",
                (g.get("sla") or {}).get("verdict", "-"),
                fmt_usd((g.get("cost") or {}).get("usd_per_million_ok")),
            ]
        )
    doc.table(header, rows)


def _latency(doc: Doc, groups: list[dict], with_run: bool, plots: dict[str, bytes], skipped: dict) -> None:
    doc.h(2, "Latency and throughput")
    doc.p(
        "Latency from the intended send time includes any wait before the request could be sent (no "
        "coordinated omission); latency from the actual send time is the service time alone. Percentiles are "
        "exact over the successful requests; the CI columns are distribution-free 95% intervals of p95 and p99 "
        "from order statistics ('? (too few)': not enough samples to bound it above)."
    )
    header = ["group", "from", "n", "p50", "p90", "p95", "p99", "p99.9", "max", "p95 95% CI", "p99 95% CI"]
    rows = []
    for g in groups:
        for label, key in (("intended send", "latency_ms"), ("actual send", "service_latency_ms")):
            s = g[key]
            rows.append(
                [
                    _name(g, with_run),
                    label,
                    str(s.get("count", 0)),
                    *(_f(s.get(k)) for k in ("p50", "p90", "p95", "p99", "p99_9", "max")),
                    _ci(s, "p95"),
                    _ci(s, "p99"),
                ]
            )
    doc.table(header, rows)
    header = ["group", "configured req/s", "offered req/s", "achieved req/s", "achieved / target", "errors by kind"]
    rows = [
        [
            _name(g, with_run),
            _f(g["throughput"]["configured_rps"], 2),
            _f(g["throughput"]["offered_rps"], 2),
            _f(g["throughput"]["achieved_rps"], 2),
            _pct(g["throughput"]["achieved_vs_target"]),
            ", ".join(f"{k}: {v}" for k, v in g["errors"].items()) or "none",
        ]
        for g in groups
    ]
    doc.table(header, rows)
    _img(doc, plots, skipped, "latency_over_time",
         "Latency percentiles per window with offered (line) and achieved (bars) request rates")  # fmt: skip
    _img(doc, plots, skipped, "latency_cdf", "Latency CDFs side by side")


def _worst_first(w: dict[str, Any]) -> tuple[float, float]:
    return (-(w["error_rate"] or 0.0), -(w["latency_p99"] if w["latency_p99"] is not None else -1.0))


def _windows(doc: Doc, groups: list[dict], with_run: bool, window: str, csv: str) -> None:
    doc.h(3, f"Per {window} s window, worst first")
    doc.p(
        f"Worst first: highest error rate, then highest p99. Every window of every length is in `{csv}` "
        "(one row per group and window, next to this report)."
    )
    header = ["group", "start s", "requests", "offered/s", "achieved/s", "errors", "p50", "p95", "p99", "cold"]
    windows = [(g, w) for g in groups for w in g["windows"].get(window, [])]
    windows.sort(key=lambda item: _worst_first(item[1]))
    rows = [
        [
            _name(g, with_run),
            _f(w["start_s"], 0),
            str(w["requests"]),
            _f(w["offered_rps"], 2),
            _f(w["achieved_rps"], 2),
            str(w["errors"]),
            _f(w["latency_p50"]),
            _f(w["latency_p95"]),
            _f(w["latency_p99"]),
            f"{w['cold_starts']}/{w['cold_known']}",
        ]
        for g, w in windows
    ]
    doc.table(header, rows, rest=csv)


def _concurrency_rows(groups: list[dict], with_run: bool) -> list[list[str]]:
    """Cold-start rate by requests in flight at send time, for groups that had cold starts."""
    return [
        [
            _name(g, with_run),
            f"{r['in_flight_from']:g}"
            + (
                f"-{r['in_flight_to'] - 1:g}"
                if r["in_flight_to"] and r["in_flight_to"] - 1 > r["in_flight_from"]
                else ""
            ),
            str(r["requests"]),
            str(r["cold"]),
            _pct(r["rate"]),
        ]
        for g in groups
        if g["cold_starts"].get("cold")
        for r in g["cold_starts"]["by_concurrency"]
    ]


def _keepalive_rows(groups: list[dict], with_run: bool) -> list[list[str]]:
    """The keep-alive curve (P(cold) per idle gap), plus requests with no previous completion."""
    rows = [
        [
            _name(g, with_run),
            f"{r['gap_s_from']:g} .. {r['gap_s_to']:g}" if r["gap_s_to"] is not None else f">= {r['gap_s_from']:g}",
            str(r["requests"]),
            str(r["cold"]),
            _pct(r["rate"]),
        ]
        for g in groups
        if g["cold_starts"].get("cold")
        for r in g["cold_starts"]["keepalive"]
    ]
    for g in groups:
        first = g["cold_starts"].get("no_previous_completion") or {}
        if g["cold_starts"].get("cold") and first.get("requests"):
            rows.append(
                [
                    _name(g, with_run),
                    "no previous completion (start-up, scale-out)",
                    str(first["requests"]),
                    str(first["cold"]),
                    _pct(first["cold"] / first["requests"]),
                ]
            )
    return rows


def _cold(doc: Doc, groups: list[dict], with_run: bool, plots: dict[str, bytes], skipped: dict) -> None:
    doc.h(2, "Cold starts")
    doc.p(
        "Source per group: 'function flag' (the function says so), 'REPORT lines' (Init Duration in the "
        "platform's REPORT log line), or inferred (first request of an instance, or latency > 3x median). "
        "Penalty = cold minus warm latency at the median. Concurrency = requests of the group in flight when "
        "the request was sent; idle gap = time since the group's previous completion."
    )
    header = ["group", "source", "cold / known", "rate (95% CI)", "cold p50", "warm p50", "penalty p50", "init p50"]
    rows = []
    for g in groups:
        c = g["cold_starts"]
        if not c.get("known"):
            rows.append([_name(g, with_run), c["source"], "-", "-", "-", "-", "-", "-"])
            continue
        ci = c["rate_ci95"]
        rows.append(
            [
                _name(g, with_run),
                c["source"],
                f"{c['cold']} / {c['known']}",
                f"{c['rate']:.1%} ({ci[0]:.1%} .. {ci[1]:.1%})",
                fmt_ms(c["cold_latency_ms"].get("p50")),
                fmt_ms(c["warm_latency_ms"].get("p50")),
                fmt_ms((c["penalty"] or {}).get("p50_ms")),
                fmt_ms(c["init_ms"].get("p50")),
            ]
        )
    doc.table(header, rows)
    rows = _concurrency_rows(groups, with_run)
    doc.table(["group (cold-start rate vs concurrency)", "in flight at send", "requests", "cold", "rate"], rows)
    rows = _keepalive_rows(groups, with_run)
    doc.table(["group (keep-alive curve)", "idle gap s", "requests", "cold", "P(cold)"], rows)
    _img(doc, plots, skipped, "cold_starts", "Cold starts per window")
    _img(doc, plots, skipped, "keepalive",
         "Keep-alive curve: P(cold start) vs idle gap, with 95% Clopper-Pearson intervals")  # fmt: skip


def _sla(doc: Doc, summary: dict[str, Any], with_run: bool, plots: dict[str, bytes]) -> None:
    sla = summary.get("sla") or {}
    doc.h(2, "SLA verdicts")
    if not sla.get("file"):
        doc.p("No SLA spec was used (give --sla FILE).")
        return
    gate = "gating: the exit code is 10 on a breach" if sla.get("gate") else "not gating (exit code 0 regardless)"
    doc.p(
        f"Spec `{sla['file']}`, {gate}. Overall: **{sla['overall']}**. 'pass'/'breach' compare the observed "
        f"figure with the bound; the confidence column says whether the sample decides it at "
        f"{sla['confidence']:.0%} (binomial test on the exceedances, as MLPerf's early stopping); 'min n' is the "
        "fewest samples that can conclude a pass at all."
    )
    header = ["group", "bound", "observed", "verdict", "confidence", "exceedances / n", "min n"]
    rows = [
        [
            _name(g, with_run),
            fmt_bound(c),
            fmt_observed(c),
            c["verdict"],
            c.get("confidence", "-"),
            f"{c['exceedances']} / {c['n']}" if "exceedances" in c else str(c.get("n", "-")),
            str(c.get("min_samples") or "-"),
        ]
        for g in summary["groups"]
        for c in (g.get("sla") or {}).get("checks", [])
    ]
    doc.table(header, rows)
    header = ["group", "window s", "windows", "violating", "time in violation s", "first violation at s"]
    rows = [
        [
            _name(g, with_run),
            _f(w["window_s"], 0),
            str(w["windows"]),
            str(w.get("violating_windows", 0)),
            _f(w.get("time_in_violation_s"), 0),
            _f(w.get("first_violation_s"), 0),
        ]
        for g in summary["groups"]
        if (w := (g.get("sla") or {}).get("windows"))
    ]
    doc.table(header, rows)
    skipped = summary.get("plots_not_drawn") or {}
    _img(doc, plots, skipped, "sla_windows", "SLA per window: bounded percentile vs its bound")


def _locust(doc: Doc, locust: list[dict[str, Any]]) -> None:
    doc.h(2, "Locust CSV (aggregated input)")
    for item in locust:
        doc.p(
            f"`{item['prefix']}`: {item['requests']} requests, {item['failures']} failures, "
            f"{_f(item['rps'], 2)} req/s over the run."
        )
        doc.table(["name", "requests", "failures", *item["percentile_labels"]], item["rows"])
        doc.ul([f"Can compute: {', '.join(item['can'])}.", f"Cannot compute: {', '.join(item['cannot'])}."])


def build_document(summary: dict[str, Any], plots: dict[str, bytes]) -> Doc:
    doc, groups = Doc(), summary["groups"]
    with_run = len(summary["runs"]) > 1
    doc.h(1, summary["title"])
    for run in summary["runs"]:
        doc.p(
            f"Run `{run['run_id']}`: scenario `{run.get('scenario', '')}`, status `{run.get('status', '')}`, git "
            f"`{run.get('git_sha', '')}`, machine {(run.get('machine') or {}).get('cpu_count')} CPUs; "
            f"{run.get('records', 0)} records."
        )
    if summary.get("missing"):
        doc.h(2, "Missing or partial inputs")
        doc.ul(summary["missing"])
    if summary.get("timeline"):
        study_section(doc, summary["timeline"], groups)
    doc.h(2, "What this report says")
    doc.ul(summary.get("verdicts", []))
    comparison_section(doc, summary, plots)
    if summary.get("timeline"):
        plan_section(doc, summary["timeline"], plots, groups)
    if groups:
        _overview(doc, groups, with_run)
        _latency(doc, groups, with_run, plots, summary.get("plots_not_drawn") or {})
        _windows(doc, groups, with_run, summary["table_window_s"], summary.get("windows_csv", "windows.csv"))
        _cold(doc, groups, with_run, plots, summary.get("plots_not_drawn") or {})
        _sla(doc, summary, with_run, plots)
        cost_section(doc, summary, with_run, plots)
    if summary.get("locust"):
        _locust(doc, summary["locust"])
    doc.h(2, "How these figures are computed")
    doc.ul(summary.get("notes", []))
    return doc


def render_markdown(summary: dict[str, Any], plots: dict[str, bytes] | None = None) -> str:
    return to_markdown(build_document(summary, plots or {}))


def render_html(summary: dict[str, Any], plots: dict[str, bytes] | None = None) -> str:
    return to_html(build_document(summary, plots or {}), summary["title"])
