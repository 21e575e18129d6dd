"""Lambda REPORT log lines: write them exactly as AWS Lambda does, and parse real CloudWatch variants.

The platform line Lambda writes after every invocation (text log format) looks like::

    REPORT RequestId: 3604209a-...\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 1024 MB\t
    Max Memory Used: 87 MB\tInit Duration: 345.67 ms\t

`Init Duration` appears only on cold starts. Real logs add variants this parser tolerates:
an `XRAY TraceId: ...\tSegmentId: ...\tSampled: true` suffix (same line or the next line),
SnapStart's `Restore Duration` / `Billed Restore Duration`, `Status: timeout` or
`Status: error\tError Type: Runtime.ExitError`, a timestamp/stream prefix added by exports,
tabs collapsed to spaces, and the JSON log format (`"type": "platform.report"`).
Billed Duration is the duration rounded up to the next millisecond (Lambda's billing since Dec 2020).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPORT_MARKER = "REPORT RequestId:"

_KEYS = (
    "Billed Restore Duration",
    "Restore Duration",
    "Billed Duration",
    "Init Duration",
    "Duration",
    "Memory Size",
    "Max Memory Used",
    "Status",
    "Error Type",
    "XRAY TraceId",
    "SegmentId",
    "Sampled",
    "RequestId",
)
_FIELD_RE = re.compile(
    r"(?P<key>" + "|".join(re.escape(key) for key in _KEYS) + r"): (?P<value>[^\s]+(?: (?:ms|MB)\b)?)"
)
_NUMBER_RE = re.compile(r"^(?P<number>-?\d+(?:\.\d+)?)(?: (?:ms|MB))?$")


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One parsed REPORT line; durations in milliseconds, memory in MB."""

    request_id: str
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None = None
    restore_duration_ms: float | None = None
    billed_restore_duration_ms: int | None = None
    status: str | None = None  # None (success), "timeout", "error"...
    error_type: str | None = None
    xray_trace_id: str | None = None
    prefix: str = ""  # whatever preceded "REPORT" on the line (timestamp, function, stream...)

    @property
    def cold_start(self) -> bool:
        """True when the line carries an Init Duration (a cold start)."""
        return self.init_duration_ms is not None


def billed_duration_ms(duration_ms: float) -> int:
    """Lambda's billed duration: the duration rounded up to the next whole millisecond (at least 1)."""
    return max(1, math.ceil(round(duration_ms, 6)))


def format_report_line(
    request_id: str,
    duration_ms: float,
    memory_size_mb: int,
    max_memory_used_mb: int,
    init_duration_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    """The REPORT line Lambda writes (no trailing newline), with tabs and the trailing tab as AWS does."""
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed_duration_ms(duration_ms)} ms",
        f"Memory Size: {memory_size_mb} MB",
        f"Max Memory Used: {max_memory_used_mb} MB",
    ]
    if init_duration_ms is not None:
        parts.append(f"Init Duration: {init_duration_ms:.2f} ms")
    if status is not None:
        parts.append(f"Status: {status}")
    if error_type is not None:
        parts.append(f"Error Type: {error_type}")
    return "\t".join(parts) + "\t"


def _number(fields: dict[str, str], key: str) -> float | None:
    raw = fields.get(key)
    if raw is None:
        return None
    match = _NUMBER_RE.match(raw)
    return float(match.group("number")) if match else None


def _parse_text(line: str) -> ReportLine | None:
    start = line.find(REPORT_MARKER)
    if start < 0:
        return None
    fields = {m.group("key"): m.group("value") for m in _FIELD_RE.finditer(line, start)}
    duration = _number(fields, "Duration")
    memory_size = _number(fields, "Memory Size")
    max_used = _number(fields, "Max Memory Used")
    request_id = fields.get("RequestId")
    if request_id is None or duration is None or memory_size is None or max_used is None:
        return None
    billed = _number(fields, "Billed Duration")
    billed_restore = _number(fields, "Billed Restore Duration")
    return ReportLine(
        request_id=request_id,
        duration_ms=duration,
        billed_duration_ms=int(billed) if billed is not None else billed_duration_ms(duration),
        memory_size_mb=int(memory_size),
        max_memory_used_mb=int(max_used),
        init_duration_ms=_number(fields, "Init Duration"),
        restore_duration_ms=_number(fields, "Restore Duration"),
        billed_restore_duration_ms=int(billed_restore) if billed_restore is not None else None,
        status=fields.get("Status"),
        error_type=fields.get("Error Type"),
        xray_trace_id=fields.get("XRAY TraceId"),
        prefix=line[:start].strip(),
    )


def _optional_float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _parse_json(line: str) -> ReportLine | None:
    """Lambda's JSON log format: {"type": "platform.report", "record": {"requestId", "metrics": {...}}}."""
    start = line.find("{")
    try:
        event = json.loads(line[start:])
    except json.JSONDecodeError:
        return None
    if not isinstance(event, dict) or event.get("type") != "platform.report":
        return None
    record = event.get("record") or {}
    metrics = record.get("metrics") or {}
    try:
        duration = float(metrics["durationMs"])
        restore = _optional_float(metrics.get("restoreDurationMs"))
        billed_restore = metrics.get("billedRestoreDurationMs")
        status = record.get("status")
        return ReportLine(
            request_id=str(record["requestId"]),
            duration_ms=duration,
            billed_duration_ms=int(metrics.get("billedDurationMs", billed_duration_ms(duration))),
            memory_size_mb=int(metrics["memorySizeMB"]),
            max_memory_used_mb=int(metrics["maxMemoryUsedMB"]),
            init_duration_ms=_optional_float(metrics.get("initDurationMs")),
            restore_duration_ms=restore,
            billed_restore_duration_ms=int(billed_restore) if billed_restore is not None else None,
            status=None if status in (None, "success") else str(status),
            error_type=record.get("errorType"),
            xray_trace_id=(record.get("tracing") or {}).get("value"),
            prefix=line[:start].strip(),
        )
    except (KeyError, TypeError, ValueError):
        return None


def parse_report_line(line: str) -> ReportLine | None:
    """Parse one REPORT line (text or JSON log format); None when the line is not a REPORT line."""
    if REPORT_MARKER in line:
        return _parse_text(line)
    if '"platform.report"' in line:
        return _parse_json(line)
    return None


def iter_report_lines(source: Path | str | Iterable[str]) -> Iterator[ReportLine]:
    """Every REPORT line in a log file (path) or an iterable of lines, in order; other lines skipped."""
    if isinstance(source, Path | str):
        with Path(source).open(encoding="utf-8", errors="replace") as handle:
            yield from iter_report_lines(handle)
        return
    for line in source:
        report = parse_report_line(line)
        if report is not None:
            yield report
