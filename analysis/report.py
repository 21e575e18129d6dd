"""From run dirs (and outside inputs) to report.md, report.html (self-contained), summary.json and plots/*.png.

One run: the files go into the run dir. Several runs: one comparison report into `out_dir`.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.compare import verdicts
from analysis.comparison import order
from analysis.cost import memory_sweep, pricing_used
from analysis.frame import prepare
from analysis.groups import extents, longest_extent, merged_extents
from analysis.inputs import read_locust_csv, report_log_records
from analysis.labels import defining_fields, group_labels
from analysis.partwise import analyse_parts
from analysis.pricing import DEFAULT_PRICING, Pricing, load_pricing
from analysis.render import render_html, render_markdown
from analysis.runread import EXTENT_KEYS, open_run_records
from analysis.sla import DEFAULT_SLA, load_sla
from analysis.summary import AnalysisOptions, Curves
from analysis.timeline import has_plan_timeline, plan_rates, plan_timeline
from analysis.windows import DEFAULT_WINDOWS_S, plot_window_s, windows_table
from labkit.errors import InputError
from labkit.rundir import RunDir

SCHEMA = "loadlab-analysis/1"
WINDOWS_CSV = "windows.csv"
NOTES = [
    "Latency: from each request's intended send time (open model, no coordinated omission) and from the actual "
    "send time; exact percentiles over the raw successful requests (numpy linear interpolation); 95% CIs of "
    "tail percentiles from order statistics (binomial ranks, distribution-free).",
    "Throughput: offered = intended sends per second; achieved = successful completions per second; target = "
    "the rate in the run's manifest config when recorded, else the offered rate.",
    "Windows: requests are assigned by intended send time to fixed windows counted from each group's first request.",
    "Cold starts: function flag, else REPORT lines (Init Duration), else inferred (first request per instance, "
    "else latency > 3x median); the source is named per group.",
    "SLA: pass/breach compares the observed figure with the bound; confidence is a one-sided binomial test on "
    "the exceedances at the spec's confidence (MLPerf early-stopping style).",
    "Cost: modelled from config/pricing.yaml list prices (never a bill); Lambda GB-s from billed ms (1 ms "
    "granularity) x memory; EC2 per second with a 60 s minimum over the group's span.",
    "Interrupted: requests in flight when the user stopped the load (error_kind 'interrupted') are counted per "
    "group and left out of every other figure (error rate, SLA, latency, cost): the stop is not the server's error.",
]


@dataclass(frozen=True)
class ReportOptions:
    windows_s: tuple[float, ...] = DEFAULT_WINDOWS_S
    sla_path: Path | None = DEFAULT_SLA
    gate: bool = False
    pricing_path: Path | None = DEFAULT_PRICING
    report_logs: tuple[Path, ...] = ()
    locust_csv: tuple[Path, ...] = ()
    plots: bool = True
    skip_bad_rows: bool = False


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    html: Path
    summary_json: Path
    plots: tuple[Path, ...] = ()
    sla_verdict: str = "no data"
    summary: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def configured_rates(manifest: dict[str, Any]) -> dict[tuple[str, str], float]:
    """Target rates recorded in a run's manifest config: (run_id, operation) -> req/s."""
    config = manifest.get("config") or {}
    run_id = str(manifest.get("run_id", ""))
    out = {}
    for section in ("demo", "load", ""):
        body = config.get(section, {}) if section else config
        if not isinstance(body, dict):
            continue
        shape = body.get("shape", "constant")
        if (shape.get("shape") if isinstance(shape, dict) else shape) != "constant":
            continue  # a ramp or trace has no single target rate: the offered rate per window is used
        if isinstance(body.get("rate_rps"), int | float):
            out.setdefault((run_id, "predict"), float(body["rate_rps"]))
        if isinstance(body.get("upload_rate_rps"), int | float):
            out.setdefault((run_id, "s3-put"), float(body["upload_rate_rps"]))
    return out


def _external(options: ReportOptions, missing: list[str], standalone: bool) -> tuple[list[pd.DataFrame], list]:
    """REPORT-log files as records of their own (when no run dir is given) and Locust CSV summaries."""
    frames = []
    for path in options.report_logs if standalone else ():
        frame = prepare(report_log_records(path, run_id=path.stem))
        frame["cold_from_report"] = True
        frames.append(frame)
        missing.append(f"{path}: REPORT lines only: no client-side latency; durations, cold starts and cost only")
    locust = [read_locust_csv(prefix) for prefix in options.locust_csv]
    return frames, locust


def _sweep(groups: list[dict[str, Any]], with_run: bool) -> dict[str, Any]:
    rows = []
    for g in groups:
        cost = g.get("cost") or {}
        if cost.get("kind") != "function" or len(g["memory_mb"]) != 1 or not g["latency_ms"].get("count"):
            continue
        label = g.get("label") or (f"{g['run_id']}: {g['target']}" if with_run else g["target"])
        rows.append(
            {
                "memory_mb": g["memory_mb"][0],
                "label": label,
                "p50_ms": g["latency_ms"]["p50"],
                "p95_ms": g["latency_ms"]["p95"],
                "usd_per_million_ok": cost.get("usd_per_million_ok"),
                "billed_ms_mean": cost["billed_ms_total"] / max(cost["invocations"], 1),
            }
        )
    return memory_sweep(rows)


def _overall(groups: list[dict[str, Any]]) -> str:
    found = {(g.get("sla") or {}).get("verdict", "no data") for g in groups}
    return "breach" if "breach" in found else "pass" if "pass" in found else "no data"


def build_summary(run_paths: list[Path], options: ReportOptions) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The summary dict (summary.json) and the plots of the runs and outside inputs."""
    readings = [open_run_records(RunDir.open(p), options.report_logs, options.skip_bad_rows) for p in run_paths]
    outside: list[str] = []
    extra, locust = _external(options, outside, standalone=not run_paths)
    runs = [reading.info for reading in readings]
    runs += [
        {"run_id": str(f["run_id"].iloc[0]), "scenario": "report-log", "status": "imported", "records": len(f)}
        for f in extra
    ]
    runs += [
        {"run_id": Path(item["prefix"]).name, "scenario": "locust-csv", "status": "imported", "records": 0}
        for item in locust
    ]
    sla = load_sla(options.sla_path) if options.sla_path else None
    pricing = load_pricing(options.pricing_path) if options.pricing_path else None
    rates = {k: v for info in runs for k, v in configured_rates(info.pop("manifest", {})).items()}
    rates |= {k: v for path in run_paths for k, v in plan_rates(path).items()}
    found = [r.extents for r in readings] + [extents(f, EXTENT_KEYS, "t_s") for f in extra]
    span_s = longest_extent(merged_extents(found))
    plot_window = plot_window_s(span_s)
    table_window = max([w for w in options.windows_s if span_s / w >= 3], default=plot_window)
    windows = tuple(sorted(set(options.windows_s) | {plot_window}))
    analysis_options = AnalysisOptions(windows, sla, pricing, rates)
    timeline_of = run_paths[0] if len(run_paths) == 1 and has_plan_timeline(run_paths[0]) else None
    curves: Curves = {}
    groups, record_count, kept = analyse_parts(readings, extra, analysis_options, curves, timeline_of is not None)
    missing = [line for reading in readings for line in reading.missing] + outside  # said once every part was read
    for group, label in zip(groups, group_labels(groups), strict=True):
        group["label"] = label
    with_run = len(runs) > 1
    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "title": _title(runs),
        "runs": runs,
        "record_count": record_count,
        "records_skipped": {k: sum(r.get("records_skipped", {}).get(k, 0) for r in runs) for k in ("torn", "bad_rows")},
        "missing": missing,
        "windows_s": [f"{w:g}" for w in windows],
        "plot_window_s": f"{plot_window:g}",
        "table_window_s": f"{table_window:g}",
        "groups": groups,
        "verdicts": verdicts(groups, with_run),
        "notes": NOTES,
        "locust": locust,
        "sla": {
            "file": str(options.sla_path) if sla else None,
            "gate": options.gate,
            "overall": _overall(groups),
            "confidence": sla.confidence if sla else None,
        },
        "cost": _cost_summary(groups, pricing, with_run),
    }
    summary["comparison"] = _comparison(groups, [r["run_id"] for r in runs])
    if len(run_paths) == 1 and record_count:
        summary["timeline"] = plan_timeline(run_paths[0], pd.concat(kept, ignore_index=True)) if kept else None
    plots, skipped = _plots(summary, groups, curves) if options.plots and record_count else ({}, {})
    summary["plots_not_drawn"] = skipped
    return summary, plots


def _plots(summary: dict[str, Any], groups: list[dict[str, Any]], curves: Curves) -> tuple[dict[str, bytes], dict]:
    """The report's figures (analysis.figures). matplotlib is imported only now, once the parts are analysed and let
    go of: its ~30 MB are not beside a part's records (a report of 1 M records: peak RSS ~230 -> ~205 MB)."""
    from analysis.figures import cdfs, make_plots

    return make_plots(summary, cdfs(groups, curves))


def _cost_summary(groups: list[dict[str, Any]], pricing: Pricing | None, with_run: bool) -> dict[str, Any]:
    return {
        "modelled": True,
        "pricing": pricing_used(pricing) if pricing else None,
        "memory_sweep": _sweep(groups, with_run) if pricing else None,
    }


def _comparison(groups: list[dict[str, Any]], run_ids: list[str]) -> dict[str, Any]:
    """Which groups the report compares (indices into groups, baseline first), why that baseline, what varies."""
    ordered, why = order(groups, run_ids)
    if len(ordered) < 2:
        return {"groups": [], "baseline_reason": None, "varies": []}
    index = {id(g): i for i, g in enumerate(groups)}
    return {"groups": [index[id(g)] for g in ordered], "baseline_reason": why, "varies": defining_fields(ordered)}


def _title(runs: list[dict[str, Any]]) -> str:
    if len(runs) == 1:
        return f"Run {runs[0]['run_id']}"
    return f"Comparison of {len(runs)} inputs: " + ", ".join(r["run_id"] for r in runs)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_outputs(out_dir: Path, summary: dict[str, Any], plots: dict[str, bytes]) -> ReportFiles:
    """Write the report files into `out_dir`; an InputError naming the path (and `--out DIR`) if it cannot."""
    try:
        return _write_outputs(out_dir, summary, plots)
    except OSError as exc:
        where = exc.filename or out_dir
        raise InputError(
            f"{where}: cannot write the report there ({exc.strerror or exc}); "
            "give a writable output directory with --out DIR"
        ) from None


def _write_outputs(out_dir: Path, summary: dict[str, Any], plots: dict[str, bytes]) -> ReportFiles:
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_dir = out_dir / "plots"
    written = []
    if plots:
        plot_dir.mkdir(exist_ok=True)
        for name, png in plots.items():
            (plot_dir / f"{name}.png").write_bytes(png)
            written.append(plot_dir / f"{name}.png")
    summary["plots"] = {name: f"plots/{name}.png" for name in plots}
    table = windows_table(summary["groups"])
    if not table.empty:
        table.to_csv(out_dir / WINDOWS_CSV, index=False, float_format="%.6g")
        summary["windows_csv"] = WINDOWS_CSV
    files = ReportFiles(
        out_dir / "report.md",
        out_dir / "report.html",
        out_dir / "summary.json",
        tuple(written),
        summary["sla"]["overall"],
        summary,
    )
    files.markdown.write_text(render_markdown(summary, plots), encoding="utf-8")
    files.html.write_text(render_html(summary, plots), encoding="utf-8")
    text = json.dumps(_json_safe(summary), indent=1, allow_nan=False)
    files.summary_json.write_text(text + "\n", encoding="utf-8")
    return files


def write_reports(paths: list[Path], options: ReportOptions, out_dir: Path | None = None) -> ReportFiles:
    """Report on runs (and outside inputs): one run -> into its dir; otherwise into `out_dir`."""
    summary, plots = build_summary(paths, options)
    if summary["record_count"] == 0 and not summary["locust"]:
        raise InputError(
            f"{', '.join(map(str, paths)) or 'inputs'}: no records to report on "
            f"({'; '.join(summary['missing']) or 'empty'})"
        )
    if out_dir is None:
        out_dir = paths[0] if len(paths) == 1 else Path("runs") / f"comparison-{time.strftime('%Y%m%d-%H%M%S')}"
    return write_outputs(out_dir, summary, plots)


def write_report(run_path: Path, options: ReportOptions | None = None) -> ReportFiles:
    """The report of one run dir, written into it (what `make demo` and `make report` call)."""
    return write_reports([run_path], options or ReportOptions())
