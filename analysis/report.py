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

from analysis.coldstart import attach_report_lines, report_frame
from analysis.compare import verdicts
from analysis.comparison import order
from analysis.cost import memory_sweep, pricing_used, target_kind
from analysis.figures import cdfs, make_plots
from analysis.frame import load_frame, prepare
from analysis.groups import RECORD_COLUMNS, longest_extent
from analysis.inputs import read_locust_csv, report_log_records, run_report_lines
from analysis.labels import defining_fields, group_labels
from analysis.pricing import DEFAULT_PRICING, Pricing, load_pricing
from analysis.render import render_html, render_markdown
from analysis.sla import load_sla
from analysis.summary import AnalysisOptions, Curves, analyse
from analysis.timeline import plan_rates, plan_timeline
from analysis.windows import DEFAULT_WINDOWS_S, plot_window_s, windows_table
from labkit.config import DEFAULT_CONFIG_DIR
from labkit.errors import InputError
from labkit.records import ReadCounts
from labkit.reportlog import iter_report_lines
from labkit.rundir import RunDir

DEFAULT_SLA = DEFAULT_CONFIG_DIR / "sla.yaml"
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


def read_manifest(run: RunDir) -> dict[str, Any]:
    """The run's manifest.json, checked to be an object whose config, machine and versions are objects."""
    try:
        manifest = run.read_manifest()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{run.manifest_path}: cannot read the run's manifest ({exc})") from None
    if not isinstance(manifest, dict):
        raise InputError(
            f"{run.manifest_path}: expected a JSON object (run_id, status, config, ...), got {type(manifest).__name__}"
            "; restore the run's manifest.json from a copy"
        )
    for key in ("config", "machine", "versions"):
        if manifest.get(key) is not None and not isinstance(manifest[key], dict):
            raise InputError(f"{run.manifest_path}: {key!r}: expected a JSON object, got {manifest[key]!r}")
    return manifest


def _run_info(run: RunDir, frame: pd.DataFrame, missing: list[str]) -> dict[str, Any]:
    manifest = read_manifest(run)
    if manifest.get("status") != "complete":
        missing.append(f"{run.path}: the run did not complete (status {manifest.get('status')!r}); figures are partial")
    keys = ("run_id", "scenario", "status", "git_sha", "started_unix_s", "ended_unix_s", "machine", "versions")
    return {**{k: manifest.get(k) for k in keys}, "run_id": run.run_id, "records": len(frame), "manifest": manifest}


def _skipped(counts: ReadCounts, missing: list[str]) -> dict[str, int]:
    """Say what the reader skipped (in the report's missing-inputs list) and count it for summary.json."""
    if counts.torn:
        what = f"{counts.torn} torn record{'s' if counts.torn > 1 else ''} skipped (a writer stopped mid-row)"
        missing.append(f"{what}: " + ", ".join(counts.torn_at))
    if counts.bad:
        what = f"{counts.bad} bad row{'s' if counts.bad > 1 else ''} skipped (--skip-bad-rows)"
        missing.append(f"{what}: " + "; ".join(counts.bad_at) + ("; ..." if counts.bad > len(counts.bad_at) else ""))
    return {"torn": counts.torn, "bad_rows": counts.bad}


def load_run(
    run: RunDir, missing: list[str], extra_logs: tuple[Path, ...] = (), skip_bad_rows: bool = False
) -> tuple[pd.DataFrame, dict]:
    """A run's records (prepared, run_id forced to the dir's id) with its REPORT lines (and extra logs') joined."""
    files = run.record_files()
    if not files:
        missing.append(f"{run.records_dir}: no record files")
    reports, log_files = run_report_lines(run.logs_dir)
    for path in extra_logs:
        reports.extend(iter_report_lines(path))
        log_files.append(path)
    # function_request_id only joins REPORT lines: without any, not read (a string a record)
    columns = [name for name in RECORD_COLUMNS if reports or name != "function_request_id"]
    counts = ReadCounts()
    frame = load_frame(files, skip_bad_rows=skip_bad_rows, counts=counts, columns=columns)
    info = _run_info(run, frame, missing)
    info["records_skipped"] = _skipped(counts, missing)
    if files and frame.empty:
        missing.append(f"{run.records_dir}: record files hold no records")
    frame = prepare(frame)
    frame["run_id"] = _one_value(run.run_id, len(frame))
    frame, joined = attach_report_lines(frame, report_frame(reports))
    info["report_lines"] = {**joined, "files": [str(p) for p in log_files]}
    functions = frame["target"].map(target_kind).isin(["function"]) | (frame["operation"] == "s3-infer")
    if functions.any() and not reports:
        missing.append(
            f"{run.logs_dir}: no REPORT lines; billed durations come from the records only (or give --report-log FILE)"
        )
    return frame, info


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
    missing: list[str] = []
    frames, runs = [], []
    for path in run_paths:
        frame, info = load_run(RunDir.open(path), missing, options.report_logs, options.skip_bad_rows)
        frames.append(frame)
        runs.append(info)
    extra, locust = _external(options, missing, standalone=not run_paths)
    frames += extra
    runs += [
        {"run_id": str(f["run_id"].iloc[0]), "scenario": "report-log", "status": "imported", "records": len(f)}
        for f in extra
    ]
    runs += [
        {"run_id": Path(item["prefix"]).name, "scenario": "locust-csv", "status": "imported", "records": 0}
        for item in locust
    ]
    frame = pd.concat([f for f in frames if not f.empty], ignore_index=True) if any(len(f) for f in frames) else None
    sla = load_sla(options.sla_path) if options.sla_path else None
    pricing = load_pricing(options.pricing_path) if options.pricing_path else None
    rates = {k: v for info in runs for k, v in configured_rates(info.pop("manifest", {})).items()}
    rates |= {k: v for path in run_paths for k, v in plan_rates(path).items()}
    span_s = _longest_group_span_s(frame)
    plot_window = plot_window_s(span_s)
    table_window = max([w for w in options.windows_s if span_s / w >= 3], default=plot_window)
    windows = tuple(sorted(set(options.windows_s) | {plot_window}))
    analysis_options = AnalysisOptions(windows, sla, pricing, rates)
    curves: Curves = {}
    groups = analyse(frame, analysis_options, prepared=True, curves=curves) if frame is not None else []
    for group, label in zip(groups, group_labels(groups), strict=True):
        group["label"] = label
    with_run = len(runs) > 1
    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "title": _title(runs),
        "runs": runs,
        "record_count": 0 if frame is None else len(frame),
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
    if len(run_paths) == 1 and frame is not None:
        summary["timeline"] = plan_timeline(run_paths[0], frame)
    plots, skipped = make_plots(summary, cdfs(groups, curves)) if options.plots and frame is not None else ({}, {})
    summary["plots_not_drawn"] = skipped
    return summary, plots


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


def _one_value(value: str, n: int) -> pd.Categorical:
    """`value` n times, as one code a row (a column of n strings: ~9 bytes a row more, and slow to group by)."""
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), dtype=pd.CategoricalDtype(pd.Index([value])))


def _longest_group_span_s(frame: pd.DataFrame | None) -> float:
    return 0.0 if frame is None else longest_extent(frame, ("run_id", "target", "operation"), "t_s")


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
