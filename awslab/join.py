"""Joining what the platform reported (REPORT lines, result objects) to the client records: pure functions.

Only empty fields are filled (a value the function reported itself is never overwritten), so joining
again is harmless. The key is `function_request_id` (= the REPORT line's RequestId = aws_request_id).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from labkit.records import FUNCTION_FIELDS, RequestRecord
from labkit.reportlog import ReportLine


def reports_by_id(reports: Iterable[ReportLine]) -> dict[str, ReportLine]:
    """Request id -> REPORT line (the last one wins: a retried invocation reports again)."""
    return {r.request_id: r for r in reports}


def with_report(record: RequestRecord, report: ReportLine | None) -> RequestRecord:
    """The record with its empty REPORT-side fields filled from `report`."""
    if report is None:
        return record
    candidates: dict[str, Any] = {
        "duration_ms": report.duration_ms,
        "billed_ms": report.billed_duration_ms,
        "memory_mb": report.memory_size_mb,
        "max_memory_used_mb": float(report.max_memory_used_mb),
        "init_ms": report.init_duration_ms,
        "cold_start": report.cold_start,
    }
    updates = {k: v for k, v in candidates.items() if v is not None and getattr(record, k) is None}
    return dataclasses.replace(record, **updates) if updates else record


def join_reports(records: list[RequestRecord], reports: dict[str, ReportLine]) -> tuple[list[RequestRecord], int]:
    """(records with REPORT fields filled, how many matched)."""
    out, matched = [], 0
    for record in records:
        report = reports.get(record.function_request_id) if record.function_request_id else None
        matched += report is not None
        out.append(with_report(record, report))
    return out, matched


def result_record(
    doc: dict[str, Any], run_id: str, upload: RequestRecord | None, report: ReportLine | None
) -> RequestRecord:
    """One `s3-infer` record for a result document (latency from the upload's intended send, if known)."""
    completion_unix_s = _number(doc.get("completed_unix_s"))
    intended_unix_s = upload.intended_send_unix_s if upload else _number(doc.get("received_unix_s"))
    actual_unix_s = upload.actual_send_unix_s if upload else intended_unix_s
    error = doc.get("error") if isinstance(doc.get("error"), dict) else None
    record = RequestRecord(
        run_id=run_id,
        request_id=f"result-{doc.get('input_key', '')}",
        source="s3-result",
        scenario=upload.scenario if upload else "s3-results",
        target="s3",
        operation="s3-infer",
        intended_send_unix_s=intended_unix_s,
        actual_send_unix_s=actual_unix_s,
        completion_unix_s=completion_unix_s,
        latency_ms=_delta_ms(intended_unix_s, completion_unix_s),
        service_latency_ms=_delta_ms(actual_unix_s, completion_unix_s),
        ok=error is None,
        status_code=int(doc.get("status_code") or 200),
        error_kind="" if error is None else "function_error",
        error_message="" if error is None else str(error.get("message", ""))[:500],
        object_key=str(doc.get("input_key", "")),
    ).with_function_fields({k: doc.get(k) for k in FUNCTION_FIELDS})
    return with_report(record, report)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _delta_ms(start_s: float | None, end_s: float | None) -> float | None:
    return None if start_s is None or end_s is None else (end_s - start_s) * 1000.0
