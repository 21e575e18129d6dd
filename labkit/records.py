"""The one request-record schema shared by every producer (Locust, replay, function side) and the analysis.

A record is flat, units are in field names, and errors are data (`ok`, `error_kind`, `error_message`),
never dropped. Records are stored as CSV files (one per producer process) under `runs/<id>/records/`,
written by labkit.recordwriter.RecordWriter (what a crash can lose is said there); read here.

Times are Unix epoch seconds (float, wall clock); durations are milliseconds.
`latency_ms` is measured from the *intended* send time (no coordinated omission);
`service_latency_ms` from the actual send time; `send_lag_ms` is how late the send was.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from functools import cached_property
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

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
    init_ms: float | None = None  # the platform's: REPORT Init Duration (spawn to ready), cold starts
    handler_init_ms: float | None = None  # the handler's own: its package import to model loaded (body init_ms)
    model_load_ms: float | None = None  # the part of handler_init_ms that resolved (fetched) and loaded the model
    preprocess_ms: float | None = None
    inference_ms: float | None = None
    handler_ms: float | None = None
    upstream_ms: float | None = None  # a chained pipeline: time in the downstream hops, as the function saw it
    hops: int | None = None  # a chained pipeline: how many downstream calls the function made
    duration_ms: float | None = None
    billed_ms: int | None = None
    memory_mb: int | None = None
    max_memory_used_mb: float | None = None  # the platform's: REPORT Max Memory Used (environment peak RSS)
    handler_peak_rss_mb: float | None = None  # the handler's own ru_maxrss (body max_memory_used_mb)
    instance_id: str = ""
    function_request_id: str = ""
    model_name: str = ""
    weights: str = ""  # random | pretrained | user
    model_source: str = ""  # builtin | path | s3 | dir
    runtime: str = ""  # onnxruntime | opencv | openvino
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
        """Copy the function-side fields a handler reports into this record (body key -> field: `FUNCTION_FIELDS`)."""
        updates = {name: body[key] for key, name in FUNCTION_FIELDS.items() if body.get(key) is not None}
        return dataclasses.replace(self, **updates)


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(RequestRecord))
# handler body key -> record field. The body's `init_ms` / `max_memory_used_mb` are the handler's own measures:
# they go to `handler_init_ms` / `handler_peak_rss_mb`, never to the platform's `init_ms` / `max_memory_used_mb`.
FUNCTION_FIELDS: dict[str, str] = {
    "cold_start": "cold_start",
    "init_ms": "handler_init_ms",
    "model_load_ms": "model_load_ms",
    "preprocess_ms": "preprocess_ms",
    "inference_ms": "inference_ms",
    "handler_ms": "handler_ms",
    "memory_mb": "memory_mb",
    "max_memory_used_mb": "handler_peak_rss_mb",
    "instance_id": "instance_id",
    "function_request_id": "function_request_id",
    "model_name": "model_name",
    "weights": "weights",
    "model_source": "model_source",
    "runtime": "runtime",
}
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


BAD_ROWS_LISTED = 5  # skipped bad rows named one by one (in ReadCounts.bad_at); the rest are only counted
FIELD_KINDS: dict[str, str] = {name: kind.split(" ")[0] for name, kind in _TYPES.items()}  # str|float|int|bool
NULLABLE: frozenset[str] = frozenset(name for name, kind in _TYPES.items() if "None" in kind)
_CHUNK_BYTES = 1 << 26


@dataclass
class ReadCounts:
    """What reading skipped: torn last records (a writer killed mid-row) and bad rows (only when asked to skip)."""

    torn: int = 0
    bad: int = 0
    torn_at: list[str] = field(default_factory=list)  # "file:line" of each torn record
    bad_at: list[str] = field(default_factory=list)  # "file:line: why" of the first bad rows

    def skipped(self, where: str, torn: bool = False) -> None:
        self.torn += torn
        self.bad += not torn
        if torn or self.bad <= BAD_ROWS_LISTED:
            (self.torn_at if torn else self.bad_at).append(where)


@dataclass(frozen=True)
class RecordsText:
    """A records file cut to its header and complete rows (what `scan_records` returns)."""

    path: Path
    header: list[str]
    body: bytes  # the header line and the kept rows, ready for a CSV parser
    raw: bytes  # the file as read
    starts: np.ndarray | None  # offset in `raw` of each kept row (None after a quick scan: not located)

    @cached_property
    def row_starts(self) -> np.ndarray:
        return self.starts if self.starts is not None else _locate(self.raw)[0]

    def line(self, row: int) -> int:
        """The physical line (1-based) where kept row `row` starts."""
        return _line_at(self.raw, int(self.row_starts[row]))

    def lines(self) -> np.ndarray:
        newlines = np.flatnonzero(np.frombuffer(self.raw, dtype=np.uint8) == ord("\n"))
        return np.searchsorted(newlines, self.row_starts) + 1

    def fields_match(self, rows: int) -> bool:
        """After a quick scan: whether the `rows` rows a parser found in `body` hold the header's field count in all.

        Exact when the parser rejects rows with too many fields (pandas does): a short row lowers the total.
        """
        return _commas_outside_quotes(self.body) == (rows + 1) * (len(self.header) - 1)


def _line_at(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def _row_ends(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Offset of the newline ending each complete CSV row and the row's field count (quoted fields respected)."""
    whole = np.frombuffer(data, dtype=np.uint8)
    ends, fields_per_row = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    inside, carry = 0, 0
    for start in range(0, whole.size, _CHUNK_BYTES):  # chunked: bounded memory on big files
        chunk = whole[start : start + _CHUNK_BYTES]
        newline, comma = chunk == ord("\n"), chunk == ord(",")
        if inside or data.find(b'"', start, start + _CHUNK_BYTES) >= 0:
            parity = (np.cumsum(chunk == ord('"'), dtype=np.uint8) + np.uint8(inside)) & 1  # wraps: parity is kept
            inside = int(parity[-1])
            newline &= parity == 0
            comma &= parity == 0
        row_end, commas = np.flatnonzero(newline), np.flatnonzero(comma)
        before = np.searchsorted(commas, row_end)
        counts = np.diff(before, prepend=0)
        if counts.size:
            counts[0] += carry
            carry = commas.size - int(before[-1])
        else:
            carry += commas.size
        ends.append(row_end + start)
        fields_per_row.append(counts + 1)
    return np.concatenate(ends), np.concatenate(fields_per_row)


def _locate(raw: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Start and end offsets and field counts of the non-blank complete rows after the header; end of the last."""
    ends, nfields = _row_ends(raw)
    starts = np.concatenate(([0], ends[:-1] + 1))[1:]
    last_end = int(ends[-1]) + 1 if ends.size else 0
    ends, nfields = ends[1:], nfields[1:]
    filled = ends - starts > (np.frombuffer(raw, np.uint8)[ends - 1] == ord("\r"))  # blank lines are no rows
    return starts[filled], ends[filled], nfields[filled], last_end


def _commas_outside_quotes(raw: bytes) -> int:
    whole, step, quoted = np.frombuffer(raw, dtype=np.uint8), 1 << 24, b'"' in raw
    commas, quotes = 0, [np.empty(0, np.int64)]
    for at in range(0, whole.size, step):  # cache-sized chunks: numpy counts faster than bytes.count
        chunk = whole[at : at + step]
        commas += int(np.count_nonzero(chunk == ord(",")))
        if quoted:
            quotes.append(np.flatnonzero(chunk == ord('"')) + at)
    edges = np.concatenate(quotes).tolist()  # an even number (quick scans cut there); quoted fields are few
    return commas - sum(map(raw.count, repeat(b","), edges[0::2], edges[1::2]))


def _quick_cut(raw: bytes) -> int:
    """Where the last complete row ends: just after a newline with an even number of quotes before it."""
    cut, quotes = len(raw), raw.count(b'"')
    while cut and (raw[cut - 1] != ord("\n") or quotes % 2):
        previous = raw.rfind(b"\n", 0, cut - 1) + 1
        quotes -= raw.count(b'"', previous, cut)
        cut = previous
    return cut


def _header(raw: bytes, path: Path) -> list[str]:
    try:
        header = next(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")), [])
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}:1: not UTF-8 text ({exc.reason})") from None
    unknown = [name for name in header if name not in _TYPES]
    if unknown:
        raise InputError(f"{path}:1: unknown columns {unknown}; expected a subset of {list(FIELD_NAMES)}")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise InputError(f"{path}:1: columns {twice} appear more than once; expected each record column once")
    return header


def _without(raw: bytes, cut: int, spans: list[tuple[int, int]]) -> bytes:
    """`raw[:cut]` without the (start, end) byte spans of skipped rows."""
    if not spans:
        return raw if cut == len(raw) else raw[:cut]
    edges = [0, *(edge for span in spans for edge in span), cut]
    return b"".join(raw[start:end] for start, end in zip(edges[0::2], edges[1::2], strict=True))


def scan_records(
    path: Path, *, skip_bad_rows: bool = False, counts: ReadCounts | None = None, hint: str = "", quick: bool = False
) -> RecordsText:
    """The first step of every records read: cut a torn last record, find rows with the wrong number of fields.

    A torn last record (no final newline, an unclosed quote, or a last row with fewer fields) is skipped and
    counted in `counts`. A row mid-file with the wrong number of fields is an InputError naming file and
    line (`hint` appended), or skipped and counted with `skip_bad_rows`. Vectorised: no per-row Python.
    `quick` only cuts the torn tail: the caller checks `fields_match` after parsing, else scans again.
    """
    counts = counts if counts is not None else ReadCounts()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read records file ({exc.strerror})") from None
    header_end = raw.find(b"\n") + 1
    if not header_end:  # empty, or the header itself torn
        return RecordsText(path, [], b"", raw, np.empty(0, np.int64))
    header = _header(raw[:header_end], path)
    if quick:
        cut = _quick_cut(raw)
        if cut < len(raw):
            counts.skipped(f"{path}:{_line_at(raw, cut)}", torn=True)
        return RecordsText(path, header, _without(raw, cut, []), raw, None)
    starts, ends, nfields, cut = _locate(raw)
    if cut == len(raw) and nfields.size and nfields[-1] < len(header):
        cut, starts, ends, nfields = int(starts[-1]), starts[:-1], ends[:-1], nfields[:-1]  # a short last row: torn
    if cut < len(raw):
        counts.skipped(f"{path}:{_line_at(raw, cut)}", torn=True)
    wrong = np.flatnonzero(nfields != len(header))
    for row in wrong[: 1 if not skip_bad_rows else BAD_ROWS_LISTED]:  # the rest only counted: lines cost O(n)
        where = f"{path}:{_line_at(raw, int(starts[row]))}: row has {nfields[row]} fields, expected {len(header)}"
        if not skip_bad_rows:
            raise InputError(f"{where} (as in the header): a short or malformed row{hint}")
        counts.skipped(where)
    counts.bad += max(wrong.size - BAD_ROWS_LISTED, 0)
    spans = [(int(starts[row]), int(ends[row]) + 1) for row in wrong]
    keep = nfields == len(header)
    return RecordsText(path, header, _without(raw, cut, spans), raw, starts[keep])


def iter_records(
    path: Path, *, skip_bad_rows: bool = False, counts: ReadCounts | None = None
) -> Iterator[RequestRecord]:
    """Read one records CSV, naming file and line in any error. A torn last record (crash) is skipped."""
    counts = counts if counts is not None else ReadCounts()
    text = scan_records(path, skip_bad_rows=skip_bad_rows, counts=counts)
    if not text.header:
        return
    try:
        reader = csv.DictReader(io.StringIO(text.body.decode("utf-8-sig"), newline=""))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        for row, line in zip(reader, text.lines(), strict=True):
            try:
                yield record_from_row(row, f"{path}:{line}")
            except InputError as exc:
                if not skip_bad_rows:
                    raise
                counts.skipped(str(exc))
    except ValueError:
        raise InputError(f"{path}: rows cannot be told apart (a stray quote?); expected RecordWriter's CSV") from None


def read_records(
    paths: Iterable[Path], *, skip_bad_rows: bool = False, counts: ReadCounts | None = None
) -> list[RequestRecord]:
    out: list[RequestRecord] = []
    for path in paths:
        out.extend(iter_records(path, skip_bad_rows=skip_bad_rows, counts=counts))
    return out
