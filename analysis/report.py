"""From a run dir to report.md, report.html and summary.json inside it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.frame import load_frame
from analysis.render import render_html, render_markdown
from analysis.summary import summarize
from labkit.errors import InputError
from labkit.rundir import RunDir


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    html: Path
    summary_json: Path


def build_summary(run: RunDir) -> dict[str, Any]:
    manifest = run.read_manifest()
    files = run.record_files()
    missing = []
    if not files:
        missing.append(f"{run.records_dir}: no record files")
    frame = load_frame(files)
    if files and frame.empty:
        missing.append(f"{run.records_dir}: record files hold no records")
    if manifest.get("status") != "complete":
        missing.append(f"the run did not complete (status {manifest.get('status')!r}); figures are partial")
    return {"run": manifest, "groups": summarize(frame), "missing": missing, "record_count": len(frame)}


def write_report(run_path: Path) -> ReportFiles:
    run = RunDir.open(run_path)
    summary = build_summary(run)
    if summary["record_count"] == 0:
        raise InputError(f"{run.path}: no records to report on ({'; '.join(summary['missing'])})")
    out = ReportFiles(run.path / "report.md", run.path / "report.html", run.path / "summary.json")
    out.markdown.write_text(render_markdown(summary), encoding="utf-8")
    out.html.write_text(render_html(summary), encoding="utf-8")
    out.summary_json.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    return out
