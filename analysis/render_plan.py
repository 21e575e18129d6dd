"""The report's plan section: every workload of a plan on one wall-clock axis (see analysis.timeline), and the
latency floor measured for the run (`--calibrate`: calibration.json, locustfiles.calibrate) when there is one."""

from __future__ import annotations

from typing import Any

from analysis.doc import Doc
from analysis.timeline import trace_time


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _rows(timeline: dict[str, Any]) -> list[list[str]]:
    rows = []
    for span in timeline["workloads"]:
        sweep = ", ".join(f"{k} {v}" for k, v in span["sweep"].items()) or "-"
        clock = span.get("trace_clock")
        trace = ""
        if clock:
            t0 = timeline["t0_unix_s"]
            trace = f"{trace_time(clock, span['start_s'], t0)}-{trace_time(clock, span['planned_end_s'], t0)} GMT"
        rows.append([span["tag"], span["kind"], sweep, _s(span["start_s"]), _s(span["planned_end_s"]),
                     f"{span['records']:,}", _s(span.get("first_send_s")), _s(span.get("last_completion_s")),
                     trace or "-"])  # fmt: skip
    return rows


def _p(stats: dict[str, Any] | None, key: str) -> str:
    value = (stats or {}).get(key)
    return "-" if value is None else f"{value:,.1f}"


def sweep_rows(timeline: dict[str, Any], groups: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """One row per sub-run and workload of a sweep: its values, then warm p50/p95, cold p50 and init, billed ms
    per call, $/million (modelled) of the workload's inference group."""
    parameters = list(dict.fromkeys(k for span in timeline["workloads"] for k in span["sweep"]))
    by_scenario = {g["scenario"]: g for g in groups if g["operation"] in ("predict", "s3-infer")}
    rows = []
    for span in timeline["workloads"]:
        group = by_scenario.get(span["tag"])
        if not span["sweep"] or group is None:
            continue
        cold, cost = group.get("cold_starts") or {}, group.get("cost") or {}
        calls = cost.get("invocations") or 0
        billed = f"{cost['billed_ms_total'] / calls:,.0f}" if calls and cost.get("billed_ms_total") else "-"
        usd = cost.get("usd_per_million_ok")
        rows.append([*(str(span["sweep"].get(p, "")) for p in parameters), span["workload"], str(group["ok"]),
                     _p(cold.get("warm_latency_ms"), "p50"), _p(cold.get("warm_latency_ms"), "p95"),
                     _p(cold.get("cold_latency_ms"), "p50"), _p(cold.get("init_ms"), "p50"), billed,
                     "-" if usd is None else f"${usd:,.2f}"])  # fmt: skip
    header = [*parameters, "workload", "ok", "warm p50 ms", "warm p95 ms", "cold p50 ms", "init p50 ms",
              "billed ms / call", "$ / million (modelled)"]  # fmt: skip
    return header, rows


def calibration_rows(calibration: dict[str, Any]) -> list[list[str]]:
    """One row per origin (intended send, actual send): the client's own added latency p50/p90/p99 (ms)."""
    rows = []
    for label, key in (("intended send", "from_intended"), ("actual send", "from_actual")):
        added = calibration.get(key) or {}
        rows.append([label, *(_ms(added.get(f"{p}_ms")) for p in ("p50", "p90", "p99"))])
    return rows


def _ms(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:,.2f}"


def calibration_section(doc: Doc, calibration: dict[str, Any]) -> None:
    doc.h(3, "Latency floor (this tool on this machine)")
    processes = calibration.get("processes", 1)
    doc.p(f"Measured with `--calibrate`: this toolkit's own dispatcher sent {calibration.get('rate_rps', 0):g} req/s "
          f"({processes} process{'es' if processes != 1 else ''}) for {calibration.get('duration_s', 0):g} s to a "
          "null endpoint on 127.0.0.1 that answers at once; "
          f"{calibration.get('count', 0)} of {calibration.get('scheduled', 0)} requests ok, "
          f"{calibration.get('errors', 0)} errors. The latency it recorded is the tool's own share (Locust, the HTTP "
          "client, loopback; the null server's own time, p50 "
          f"{_ms(calibration.get('server_p50_ms'))} ms, included): every latency of this report includes about this "
          "much of the tool's own time (more when the machine is busy).")  # fmt: skip
    doc.table(["latency from", "p50 ms", "p90 ms", "p99 ms"], calibration_rows(calibration))


def plan_section(doc: Doc, timeline: dict[str, Any], plots: dict[str, bytes],
                 groups: list[dict[str, Any]] | None = None) -> None:  # fmt: skip
    doc.h(2, "The plan: every workload on one clock")
    overlap = timeline.get("overlap") or {}
    text = (f"Plan `{timeline['plan']}`: times are seconds since the plan's common start; the workloads ran at the "
            "same time against the same targets, so each one's figures include the others' interference.")  # fmt: skip
    if overlap.get("share") is not None:
        text += (f" All of them were scheduled to send together for {overlap['together_s']:.1f} s, "
                 f"{overlap['share']:.0%} of the shortest workload's {overlap['shortest_s']:.1f} s.")  # fmt: skip
    doc.p(text)
    header = ["workload", "kind", "sweep", "start s", "planned end s", "records", "first send s", "last completion s",
              "trace time"]  # fmt: skip
    doc.table(header, _rows(timeline))
    if timeline.get("calibration"):
        calibration_section(doc, timeline["calibration"])
    sweep_header, sweep = sweep_rows(timeline, groups or [])
    if sweep and not timeline.get("published"):  # a study's plan shows it, wider, at the report's top
        doc.p("The sweep, one row per sub-run and workload (warm / cold from each request's cold-start flag; "
              "billed ms and cost from the platform's REPORT lines and config/pricing.yaml list prices):")  # fmt: skip
        doc.table(sweep_header, sweep)
    doc.img(plots.get("timeline"), "plots/timeline.png",
            "Every workload on one wall-clock axis: latency (p50 solid, p99 dashed) and offered/achieved rates; "
            "the top axis is the replayed trace's own time (GMT)")  # fmt: skip
