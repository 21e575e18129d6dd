"""Rendering summaries as Markdown and a self-contained HTML page (pure: summaries in, text out)."""

from __future__ import annotations

import html
from typing import Any

COLUMNS = (
    ("target", "target"),
    ("scenario", "scenario"),
    ("operation", "operation"),
    ("requests", "count"),
    ("errors %", "error_pct"),
    ("rps", "achieved_rps"),
    ("p50 ms", "p50"),
    ("p95 ms", "p95"),
    ("p99 ms", "p99"),
    ("max ms", "max"),
    ("cold starts", "cold"),
    ("instances", "instances"),
)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def table_rows(groups: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for g in groups:
        lat = g["latency_ms"]
        cold = g["cold_starts"]
        flat = {
            **g,
            "error_pct": 100.0 * g["error_rate"],
            "p50": lat.get("p50"),
            "p95": lat.get("p95"),
            "p99": lat.get("p99"),
            "max": lat.get("max"),
            "cold": f"{cold['cold']} of {cold['known']}" if cold["known"] else "n/a",
        }
        rows.append([_fmt(flat.get(key)) for _, key in COLUMNS])
    return rows


def _notes(summary: dict[str, Any]) -> list[str]:
    notes = [
        "Latency is measured from each request's intended send time (open model: no coordinated omission); "
        "percentiles are exact over the raw successful requests (numpy linear interpolation).",
        "Cold starts are the function's own flag (first invocation in its execution environment).",
    ]
    models = sorted({m for g in summary["groups"] for m in g["models"]})
    if any("random" in m for m in models):
        notes.append(
            f"Models: {', '.join(models)}. Random weights: the top-5 labels are meaningless; "
            "timings are those of the real architecture."
        )
    return notes


def render_markdown(summary: dict[str, Any]) -> str:
    manifest = summary["run"]
    lines = [
        f"# Run {manifest['run_id']}",
        "",
        f"Scenario `{manifest.get('scenario', '')}`, status `{manifest.get('status', '')}`, "
        f"git `{manifest.get('git_sha', '')}`, machine {manifest.get('machine', {}).get('cpu_count')} CPUs.",
        "",
        "| " + " | ".join(h for h, _ in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(summary["groups"])]
    lines += ["", "## How these figures are computed", ""] + [f"- {n}" for n in _notes(summary)]
    missing = summary.get("missing", [])
    if missing:
        lines += ["", "## Missing", ""] + [f"- {m}" for m in missing]
    return "\n".join(lines) + "\n"


def render_html(summary: dict[str, Any]) -> str:
    manifest = summary["run"]
    head = "".join(f"<th>{html.escape(h)}</th>" for h, _ in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in table_rows(summary["groups"])
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in _notes(summary))
    missing = "".join(f"<li>{html.escape(m)}</li>" for m in summary.get("missing", []))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Run {html.escape(manifest['run_id'])}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head><body>"
        f"<h1>Run {html.escape(manifest['run_id'])}</h1><table><tr>{head}</tr>{body}</table>"
        f"<h2>How these figures are computed</h2><ul>{notes}</ul>"
        + (f"<h2>Missing</h2><ul>{missing}</ul>" if missing else "")
        + "</body></html>\n"
    )
