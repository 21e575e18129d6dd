"""Builders of real run dirs (RunDir + RecordWriter) and real-shaped REPORT lines for the analysis tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from labkit.records import RequestRecord
from labkit.reportlog import format_report_line
from labkit.rundir import RunDir

T0 = 1_795_434_000.0


def rec(i: int, target: str, latency_ms: float, start_s: float = 0.0, gap_s: float = 0.25, **kw) -> RequestRecord:
    intended = T0 + start_s + i * gap_s
    lag_s = kw.pop("lag_s", 0.001)
    return RequestRecord.timed(
        intended_send_unix_s=intended,
        actual_send_unix_s=intended + lag_s,
        completion_unix_s=intended + latency_ms / 1000,
        run_id="r",
        request_id=f"{target}-{i}",
        source="locust",
        scenario=kw.pop("scenario", "constant-load"),
        target=target,
        **kw,
    )


def write_run(root: Path, records: list[RequestRecord], status: str = "complete", config: dict | None = None) -> RunDir:
    run = RunDir.create(root, "t", config=config or {"demo": {"rate_rps": 4.0}})
    with run.writer("x") as writer:
        writer.write_all(records)
    if status == "complete":
        run.finish()
    return run


def platform_log_line(record: RequestRecord, function: str, init_ms: float | None) -> str:
    """A REPORT line as the local platform (and a CloudWatch export) writes it, with its prefix."""
    stamp = datetime.fromtimestamp(record.completion_unix_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    body = format_report_line(record.function_request_id, record.duration_ms, record.memory_mb or 1024, 90, init_ms)
    return f"{stamp}\t{function}\t2026/11/23/[$LATEST]{record.instance_id}\t{body}"


def faas_records(n: int = 60, cold_every: int = 20) -> list[RequestRecord]:
    """Function records with no cold flag in the body, but a request id and duration (REPORT lines say)."""
    out = []
    for i in range(n):
        cold = i % cold_every == 0
        out.append(rec(i, "local-faas", 300.0 if cold else 20.0 + i % 5, function_request_id=str(uuid.UUID(int=i)),
                       duration_ms=15.3 + i % 3, memory_mb=1024, instance_id=f"env{i // cold_every}"))  # fmt: skip
    return out


def mixed_records(n: int = 240) -> list:
    """Records of three targets with cold starts, errors, empty text and a quoted multi-line message."""
    records = []
    for i in range(n):
        target = ("faas", "server", "faas-b")[i % 3]
        cold = (i % 50 == 0) if i % 3 == 0 else None
        records.append(rec(i, target, 20.0 + (i * 37) % 101, gap_s=0.1, cold_start=cold,
                           instance_id=f"e{i % 4}" if i % 3 != 1 else "", memory_mb=1024 if i % 3 == 0 else None,
                           duration_ms=12.5 + i % 7, model_name="mobilenetv2", weights="random"))  # fmt: skip
    records[5].ok, records[5].error_kind, records[5].status_code = False, "http_5xx", 503
    records[7].ok, records[7].error_kind = False, "interrupted"
    records[9].error_message = 'a "quoted", multi\nline message'
    return records
