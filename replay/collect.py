"""Collecting the S3-triggered function's results while the replay runs, and the final join.

`ResultCollector` polls the results bucket in a background thread for the uploads that went through
and appends every result document to `logs/s3-results.jsonl` in the run dir as it arrives (flushed per
line), so a crash keeps what was collected. `drain(timeout_s)` waits for the rest after the last upload.

`final_join` is pure: the uploads (one ok record per slot), the result documents and the REPORT lines
-> one `s3-infer` record per upload: completion time, cold start, end-to-end latency from the intended
send time, and the REPORT fields matched by function_request_id (duration_ms, billed_ms, memory_mb,
max_memory_used_mb). A slot without a result is a `missing_result` record, never dropped.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from labkit.records import RequestRecord
from labkit.recordwriter import RecordWriter, cut_torn_tail
from labkit.reportlog import ReportLine, iter_report_lines
from replay.results import fetch_results, join_results

RESULTS_LOG = "s3-results.jsonl"


def repair_tail(path: Path) -> None:
    """Cut a torn last line (a kill mid-write) so appending starts on a fresh line."""
    cut_torn_tail(path)


def read_result_docs(path: Path) -> dict[str, dict[str, Any]]:
    """input key -> result document, from a results log (the first document per key wins)."""
    docs: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return docs
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn line from a crash
        if isinstance(doc, dict) and isinstance(doc.get("input_key"), str):
            docs.setdefault(doc["input_key"], doc)
    return docs


class ResultCollector:
    """See the module docstring. `on_found(n)` is told how many new results arrived."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        log_path: Path,
        on_found: Callable[[int], None] = lambda n: None,
        poll_s: float = 1.0,
    ) -> None:
        self.s3, self.bucket, self.poll_s, self.on_found = s3, bucket, poll_s, on_found
        repair_tail(log_path)
        self.docs = read_result_docs(log_path)
        self._log = log_path.open("a", encoding="utf-8")
        self._wanted: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="replay-results", daemon=True)
        self.poll_errors = 0
        self.last_error = ""

    def start(self) -> ResultCollector:
        self._thread.start()
        return self

    def want(self, keys: Iterable[str]) -> None:
        with self._lock:
            self._wanted.update(k for k in keys if k not in self.docs)

    def pending(self) -> list[str]:
        with self._lock:
            return sorted(self._wanted - self.docs.keys())

    def poll_once(self) -> int:
        pending = self.pending()
        if not pending:
            return 0
        try:
            found = fetch_results(self.s3, self.bucket, pending)
        except (BotoCoreError, ClientError, json.JSONDecodeError) as exc:
            self.poll_errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            return 0
        with self._lock:
            new = {k: v for k, v in found.items() if k not in self.docs}
            for key, doc in new.items():
                self.docs[key] = doc
                self._log.write(json.dumps({**doc, "input_key": key}) + "\n")
            self._log.flush()
        if new:
            self.on_found(len(new))
        return len(new)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.poll_once()

    def drain(self, timeout_s: float) -> list[str]:
        """Stop the background polling, then poll until nothing is pending or `timeout_s`; the missing keys."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30.0)
        deadline = time.monotonic() + timeout_s
        while True:
            self.poll_once()
            if not self.pending() or time.monotonic() >= deadline:
                return self.pending()
            time.sleep(min(self.poll_s, max(0.0, deadline - time.monotonic())))

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if not self._log.closed:
                self._log.close()


def report_lines(paths: Iterable[Path]) -> dict[str, ReportLine]:
    """function request id -> REPORT line, from every readable log file given."""
    found: dict[str, ReportLine] = {}
    for path in paths:
        if path.is_file():
            for line in iter_report_lines(path):
                found[line.request_id] = line
    return found


def final_uploads(records: Iterable[RequestRecord]) -> list[RequestRecord]:
    """The first ok `s3-put` record of every object key (retries and resumes leave one per slot)."""
    seen: dict[str, RequestRecord] = {}
    for record in records:
        if record.operation == "s3-put" and record.ok and record.object_key not in seen:
            seen[record.object_key] = record
    return list(seen.values())


def _with_report(record: RequestRecord, report: ReportLine | None) -> RequestRecord:
    if report is None:
        return record
    return dataclasses.replace(
        record,
        duration_ms=report.duration_ms,
        billed_ms=report.billed_duration_ms,
        memory_mb=report.memory_size_mb,
        max_memory_used_mb=float(report.max_memory_used_mb),
        init_ms=record.init_ms if record.init_ms is not None else report.init_duration_ms,
    )


def final_join(
    uploads: list[RequestRecord],
    docs: dict[str, dict[str, Any]],
    reports: dict[str, ReportLine],
    missing_note: Callable[[str], str],
) -> list[RequestRecord]:
    """One `s3-infer` record per upload (see the module docstring); `missing_note(key)` explains absences."""
    out = []
    for record in join_results(uploads, docs):
        if record.error_kind == "missing_result":
            out.append(dataclasses.replace(record, error_message=missing_note(record.object_key)))
        else:
            out.append(_with_report(record, reports.get(record.function_request_id)))
    return out


def write_records_atomically(path: Path, records: Iterable[RequestRecord]) -> int:
    """Replace `path` with exactly `records` (a rewrite never leaves a half file behind)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    with RecordWriter(tmp) as writer:
        writer.write_all(records)
        count = writer.count
    tmp.replace(path)
    return count
