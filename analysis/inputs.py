"""Inputs made elsewhere: CloudWatch REPORT lines (exports or plain text) and Locust's --csv outputs.

REPORT lines: plain lines (`REPORT RequestId: ...`), lines with an export prefix (timestamp, function,
stream: the local platform's `platform.log`), the text or JSON output of `aws logs filter-log-events`
(JSON: {"events": [{"timestamp", "logStreamName", "message"}]}). They give per invocation: duration,
billed duration, memory, max memory used, init duration (cold start), status. They do not give the
client-side latency.

Locust CSV (`PREFIX_stats.csv`, `PREFIX_stats_history.csv`) is aggregated: Locust rounds response times
into buckets (two significant digits) and measures from the actual send, so exact percentiles, CIs,
intended-send latency, per-request cold starts and exact SLA tests cannot be computed from it.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from labkit.errors import InputError
from labkit.records import FIELD_NAMES
from labkit.reportlog import iter_report_lines, parse_report_line

_ISO_RE = re.compile(r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?)\s+(?P<fn>[^\t ]+)?\s*(?P<stream>\S+)?")


def _prefix_context(prefix: str) -> tuple[float | None, str, str]:
    match = _ISO_RE.match(prefix)
    if not match:
        return None, "", ""
    ts = datetime.fromisoformat(match.group("ts").replace("Z", "+00:00")).timestamp()
    return ts, match.group("fn") or "", match.group("stream") or ""


def _json_events(text: str) -> list[tuple[str, float | None, str]] | None:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        return None
    return [
        (
            str(e.get("message", "")),
            e["timestamp"] / 1000 if "timestamp" in e else None,
            str(e.get("logStreamName", "")),
        )
        for e in doc["events"]
        if isinstance(e, dict)
    ]


def report_log_records(path: Path, function: str = "lambda", run_id: str = "report-log") -> pd.DataFrame:
    """REPORT lines of a log file or export as records (source report-log, operation invoke)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the REPORT log ({exc.strerror})") from None
    events = _json_events(text) if text.lstrip().startswith("{") else None
    rows = []
    items = events if events is not None else [(line, None, "") for line in text.splitlines()]
    for message, event_ts, stream in items:
        report = parse_report_line(message)
        if report is None:
            continue
        prefix_ts, fn, prefix_stream = _prefix_context(report.prefix)
        ts = event_ts if event_ts is not None else prefix_ts
        rows.append(
            {
                "run_id": run_id,
                "request_id": report.request_id,
                "source": "report-log",
                "scenario": "report-log",
                "target": fn or function,
                "operation": "invoke",
                "completion_unix_s": ts,
                "ok": report.status is None,
                "error_kind": "" if report.status is None else "function_error",
                "error_message": report.error_type or (report.status or ""),
                "cold_start": report.cold_start,
                "init_ms": report.init_duration_ms,
                "duration_ms": report.duration_ms,
                "billed_ms": report.billed_duration_ms,
                "memory_mb": report.memory_size_mb,
                "max_memory_used_mb": report.max_memory_used_mb,
                "instance_id": stream or prefix_stream,
                "function_request_id": report.request_id,
            }
        )
    if not rows:
        raise InputError(f"{path}: no REPORT lines found (expected Lambda 'REPORT RequestId: ...' lines)")
    frame = pd.DataFrame(rows).reindex(columns=list(FIELD_NAMES))
    frame["cold_start"] = frame["cold_start"].astype("boolean")
    return frame


def run_report_lines(logs_dir: Path) -> tuple[list, list[Path]]:
    """REPORT lines of a run: logs/functions/platform.log when present, else every *.log under logs/."""
    aggregate = logs_dir / "functions" / "platform.log"
    files = [aggregate] if aggregate.is_file() else sorted(logs_dir.rglob("*.log")) if logs_dir.is_dir() else []
    reports = []
    for path in files:
        reports.extend(iter_report_lines(path))
    return reports, [p for p in files if p.is_file()]


LOCUST_CAN = [
    "request and failure counts",
    "average request rate",
    "Locust's own rounded percentiles",
    "request rate and rounded percentiles per second (history)",
]
LOCUST_CANNOT = [
    "exact percentiles or their confidence intervals (Locust buckets response times)",
    "latency from the intended send time (Locust times from the actual send)",
    "cold starts (no per-request function data)",
    "binomial SLA tests (no per-request values)",
    "modelled Lambda cost (no billed durations)",
]


def _read_locust_table(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        raise InputError(f"{path}: not found (give --locust-csv the --csv PREFIX Locust was run with)") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"{path}: not a Locust CSV ({exc})") from None


def _check_numbers(stats: pd.DataFrame, path: Path) -> None:
    if stats.empty:
        raise InputError(f"{path}: no rows (expected one per request name and an 'Aggregated' row)")
    for column in ("Request Count", "Failure Count", "Requests/s"):
        values = pd.to_numeric(stats[column], errors="coerce")
        bad = values.isna() | (values < 0)
        if column != "Requests/s":
            bad |= values % 1 != 0
        if bad.any():
            row = int(bad.to_numpy().argmax())
            expected = "a count" if column != "Requests/s" else "a number >= 0"
            raise InputError(f"{path}:{row + 2}: {column!r}: expected {expected}, got {stats[column].iloc[row]!r}")


def read_locust_csv(prefix: Path) -> dict[str, Any]:
    """Summarise `PREFIX_stats.csv` (and `PREFIX_stats_history.csv` when present)."""
    stats_path = Path(f"{prefix}_stats.csv")
    stats = _read_locust_table(stats_path)
    needed = {"Name", "Request Count", "Failure Count", "Requests/s"}
    if not needed <= set(stats.columns):
        raise InputError(f"{stats_path}: missing Locust columns {sorted(needed - set(stats.columns))}")
    _check_numbers(stats, stats_path)
    labels = [c for c in stats.columns if c.endswith("%")]
    rows = [
        [str(r["Name"]), str(int(r["Request Count"])), str(int(r["Failure Count"])), *(str(r[c]) for c in labels)]
        for _, r in stats.iterrows()
    ]
    total = stats[stats["Name"] == "Aggregated"]
    total = total.iloc[0] if len(total) else stats.iloc[-1]
    history_path = Path(f"{prefix}_stats_history.csv")
    history = _read_locust_table(history_path) if history_path.is_file() else None
    rps = float(total["Requests/s"])
    return {
        "prefix": str(prefix),
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "rps": rps if math.isfinite(rps) else None,
        "percentile_labels": labels,
        "rows": rows,
        "history_rows": 0 if history is None else len(history),
        "can": LOCUST_CAN,
        "cannot": LOCUST_CANNOT,
    }
