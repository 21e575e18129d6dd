"""One name, one measure: the platform's init / peak memory and the handler's own are separate record fields.

Issue "Trustworthy runs": on a cold start the platform header `x-loadlab-init-ms` (338 ms: spawn, runtime
bootstrap, handler import and model load = REPORT Init Duration) and the body's `init_ms` (237 ms: the
handler's own, from its package import to model loaded) both landed in `init_ms`, whichever came last;
likewise `x-loadlab-max-memory-mb` (82: the platform's Max Memory Used) and the body's
`max_memory_used_mb` (88.4: the handler's own ru_maxrss). Now `init_ms` and `max_memory_used_mb` are the
platform's (REPORT) figures, from the headers or the REPORT line, and the handler's go to
`handler_init_ms` and `handler_peak_rss_mb`.
"""

from __future__ import annotations

import json
from pathlib import Path

from labkit.records import FIELD_NAMES, FUNCTION_FIELDS, RequestRecord, iter_records
from labkit.recordwriter import RecordWriter
from locustfiles.recording import Exchange, exchange_to_record

ROOT = Path(__file__).resolve().parents[2]
IDENTITY = {"run_id": "r", "source": "locust", "scenario": "s", "target": "local-faas", "worker": "w"}
COLD_HEADERS = {
    "x-loadlab-cold-start": "true",
    "x-loadlab-init-ms": "338.00",
    "x-loadlab-instance-id": "abc",
    "x-loadlab-duration-ms": "41.20",
    "x-loadlab-billed-ms": "42",
    "x-loadlab-max-memory-mb": "82",
    "x-loadlab-memory-mb": "1769",
    "x-loadlab-request-id": "f-1",
}
BODY = {"cold_start": True, "init_ms": 237.0, "max_memory_used_mb": 88.4, "memory_mb": 1769, "instance_id": "abc"}


def _record(status: int, body: dict[str, object], headers: dict[str, str]) -> RequestRecord:
    exchange = Exchange("q1", 100.0, 100.0, 100.4, status, json.dumps(body).encode(), headers, 10)
    return exchange_to_record(exchange, **IDENTITY)


def test_platform_and_handler_figures_land_in_their_own_fields() -> None:
    record = _record(200, BODY, COLD_HEADERS)
    assert (record.init_ms, record.handler_init_ms) == (338.0, 237.0)
    assert (record.max_memory_used_mb, record.handler_peak_rss_mb) == (82.0, 88.4)
    assert (record.memory_mb, record.cold_start, record.instance_id) == (1769, True, "abc")
    assert (record.duration_ms, record.billed_ms, record.function_request_id) == (41.2, 42, "f-1")


def test_a_failed_invocation_keeps_the_platform_figures() -> None:
    """An environment killed past its memory size: a 502 with no handler body, the platform's facts kept."""
    oom = {**COLD_HEADERS, "x-loadlab-max-memory-mb": "128", "x-loadlab-memory-mb": "128"}
    record = _record(502, {"message": "Internal Server Error"}, oom)
    assert not record.ok and record.error_kind == "http_5xx"
    assert (record.cold_start, record.init_ms, record.handler_init_ms) == (True, 338.0, None)
    assert (record.max_memory_used_mb, record.memory_mb) == (128.0, 128)


def test_body_fields_never_overwrite_the_platform_ones() -> None:
    assert FUNCTION_FIELDS["init_ms"] == "handler_init_ms"
    assert FUNCTION_FIELDS["max_memory_used_mb"] == "handler_peak_rss_mb"
    base = RequestRecord(run_id="r", request_id="q", source="s3-result", scenario="s", target="s3", init_ms=338.0)
    joined = base.with_function_fields({**BODY, "top5": []})
    assert (joined.init_ms, joined.handler_init_ms, joined.handler_peak_rss_mb) == (338.0, 237.0, 88.4)
    assert joined.max_memory_used_mb is None  # left for the REPORT line


def test_new_fields_round_trip_and_are_documented(tmp_path: Path) -> None:
    record = _record(200, BODY, COLD_HEADERS)
    with RecordWriter(tmp_path / "a.csv") as writer:
        writer.write(record)
    assert list(iter_records(tmp_path / "a.csv")) == [record]
    section = (ROOT / "README.md").read_text().split("## Record schema", 1)[1].split("\n## ", 1)[0]
    for name in ("handler_init_ms", "handler_peak_rss_mb", "x-loadlab-init-ms", "x-loadlab-max-memory-mb"):
        assert name in section
    assert {"handler_init_ms", "handler_peak_rss_mb"} <= set(FIELD_NAMES)
