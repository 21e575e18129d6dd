"""The one request-record schema shared by every producer (Locust, replay, function side) and the analysis.

A record is flat, units are in field names, and errors are data (`ok`, `error_kind`, `error_message`),
never dropped. Records are stored as CSV files (one per producer process) under `runs/<id>/records/`;
each row is flushed when written so a crash or Ctrl-C loses nothing already recorded.

Times are Unix epoch seconds (float, wall clock); durations are milliseconds.
`latency_ms` is measured from the *intended* send time (no coordinated omission);
`service_latency_ms` from the actual send time; `send_lag_ms` is how late the send was.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TextIO

from labkit.errors import InputError

SCHEMA_VERSION = 1

# error_kind vocabulary (free text is allowed, these are the ones the toolkit itself writes)
ERROR_KINDS = (
    "",  # no error
    "http_4xx",
    "http_5xx",
    "throttled",  # 429 / TooManyRequestsException
    "timeout",
    "connection",
    "function_error",  # the function raised or its environment crashed
    "missing_result",  # an upload whose inference result never arrived
    "bad_response",  # a 2xx whose body could not be parsed
    "dropped",  # an open-model send that could not be issued (concurrency cap)
)


@dataclass(slots=True)
class RequestRecord:
    """One request, from whichever side saw it. Fields a source cannot know stay None / ""."""

    run_id: str
    request_id: str
    source: str  # locust | replay | function | s3-result | report-log
    scenario: str
    target: str  # local-faas | local-server | lambda | ec2 | local-s3 | s3
    operation: str = "predict"  # predict | s3-put | s3-infer
    intended_send_unix_s: float | None = None
    actual_send_unix_s: float | None = None
    completion_unix_s: float | None = None
    latency_ms: float | None = None
    service_latency_ms: float | None = None
    send_lag_ms: float | None = None
    ok: bool = True
    status_code: int | None = None
    error_kind: str = ""
    error_message: str = ""
    request_bytes: int | None = None
    response_bytes: int | None = None
    # function side (from the response body, the result object or the REPORT log line)
    cold_start: bool | None = None
    init_ms: float | None = None
    preprocess_ms: float | None = None
    inference_ms: float | None = None
    handler_ms: float | None = None
    duration_ms: float | None = None
    billed_ms: int | None = None
    memory_mb: int | None = None
    max_memory_used_mb: float | None = None
    instance_id: str = ""
    function_request_id: str = ""
    model_name: str = ""
    weights: str = ""  # random | pretrained | user
    object_key: str = ""
    worker: str = ""  # the load-generator process that produced the record

    @classmethod
    def timed(
        cls,
        *,
        intended_send_unix_s: float,
        actual_send_unix_s: float,
        completion_unix_s: float,
        **kwargs: Any,
    ) -> RequestRecord:
        """Build a record from the three client-side instants, deriving the three durations."""
        return cls(
            intended_send_unix_s=intended_send_unix_s,
            actual_send_unix_s=actual_send_unix_s,
            completion_unix_s=completion_unix_s,
            latency_ms=(completion_unix_s - intended_send_unix_s) * 1000.0,
            service_latency_ms=(completion_unix_s - actual_send_unix_s) * 1000.0,
            send_lag_ms=(actual_send_unix_s - intended_send_unix_s) * 1000.0,
            **kwargs,
        )

    def with_function_fields(self, body: dict[str, Any]) -> RequestRecord:
        """Copy the function-side fields a handler reports (see `FUNCTION_FIELDS`) into this record."""
        updates = {name: body[name] for name in FUNCTION_FIELDS if body.get(name) is not None}
        return dataclasses.replace(self, **updates)


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(RequestRecord))
FUNCTION_FIELDS: tuple[str, ...] = (
    "cold_start",
    "init_ms",
    "preprocess_ms",
    "inference_ms",
    "handler_ms",
    "memory_mb",
    "max_memory_used_mb",
    "instance_id",
    "function_request_id",
    "model_name",
    "weights",
)
_TYPES: dict[str, str] = {f.name: str(f.type) for f in fields(RequestRecord)}


def _encode(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _decode(name: str, text: str, where: str) -> Any:
    kind = _TYPES[name]
    if text == "" and "None" in kind:
        return None
    try:
        if kind.startswith("bool"):
            if text not in ("true", "false"):
                raise ValueError("expected true or false")
            return text == "true"
        if kind.startswith("float"):
            return float(text)
        if kind.startswith("int"):
            return int(text)
    except ValueError as exc:
        raise InputError(f"{where}: field {name!r}: cannot read {text!r} ({exc})") from None
    return text


def record_to_row(record: RequestRecord) -> list[str]:
    return [_encode(getattr(record, name)) for name in FIELD_NAMES]


def record_from_row(row: dict[str, str], where: str) -> RequestRecord:
    missing = [name for name in ("run_id", "request_id", "source", "scenario", "target") if name not in row]
    if missing:
        raise InputError(f"{where}: missing required columns {missing}; expected the record header")
    values = {name: _decode(name, row[name], where) for name in FIELD_NAMES if name in row}
    return RequestRecord(**values)


class RecordWriter:
    """Appends records to one CSV file, flushing every row (nothing lost on a crash or Ctrl-C)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        new_file = not path.exists() or path.stat().st_size == 0
        self._file: TextIO = open(path, "a", newline="", encoding="utf-8")  # noqa: SIM115
        self._csv = csv.writer(self._file)
        self.count = 0
        if new_file:
            self._csv.writerow(FIELD_NAMES)
            self._file.flush()

    def write(self, record: RequestRecord) -> None:
        self._csv.writerow(record_to_row(record))
        self._file.flush()
        self.count += 1

    def write_all(self, records: Iterable[RequestRecord]) -> None:
        for record in records:
            self.write(record)

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_records(path: Path) -> Iterator[RequestRecord]:
    """Read one records CSV, naming file and line in any error. A torn last line (crash) is skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read records file ({exc.strerror})") from None
    torn_tail = bool(text) and not text.endswith("\n")
    lines = text.splitlines(keepends=True)
    if torn_tail:
        lines = lines[:-1]
    reader = csv.DictReader(io.StringIO("".join(lines)))
    if reader.fieldnames is None:
        return
    unknown = [name for name in reader.fieldnames if name not in _TYPES]
    if unknown:
        raise InputError(f"{path}:1: unknown columns {unknown}; expected a subset of {list(FIELD_NAMES)}")
    for row in reader:
        yield record_from_row(row, f"{path}:{reader.line_num}")


def read_records(paths: Iterable[Path]) -> list[RequestRecord]:
    out: list[RequestRecord] = []
    for path in paths:
        out.extend(iter_records(path))
    return out
