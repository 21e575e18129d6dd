"""The report's plan section: every workload of a plan on one wall-clock axis (see analysis.timeline)."""

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


def plan_section(doc: Doc, timeline: dict[str, Any], plots: dict[str, bytes]) -> None:
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
    doc.img(plots.get("timeline"), "plots/timeline.png",
            "Every workload on one wall-clock axis: latency (p50 solid, p99 dashed) and offered/achieved rates; "
            "the top axis is the replayed trace's own time (GMT)")  # fmt: skip
