"""Writing records: one CSV file per producer, appended row by row (flushed in batches when asked), a torn last
line from an earlier kill cut before appending."""

from __future__ import annotations

import csv
import operator
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from labkit.records import FIELD_NAMES, RequestRecord

_ROW_OF = operator.attrgetter(*FIELD_NAMES)  # a record's values in FIELD_NAMES order, in one call


def cut_torn_tail(path: Path, chunk_bytes: int = 1 << 16) -> int:
    """Cut a torn last line (what a kill mid-write leaves) so that appending starts on a fresh line; the
    number of bytes cut (0 when the file ends with a newline or does not exist)."""
    if not path.is_file():
        return 0
    with path.open("r+b") as handle:
        end = handle.seek(0, os.SEEK_END)
        position = end
        while position > 0:
            start = max(0, position - chunk_bytes)
            handle.seek(start)
            block = handle.read(position - start)
            if position == end and block.endswith(b"\n"):
                return 0
            newline = block.rfind(b"\n")
            if newline >= 0:
                position = start + newline + 1
                break
            position = start
        handle.truncate(position)
        return end - position


class RecordWriter:
    """Appends records to one CSV file. A torn last line left by an earlier writer is cut first, so it cannot
    glue onto the next row.

    Rows are encoded as they are written and reach the file in batches: at a write once `flush_interval_s` has
    passed since the last flush, at `flush()` and at `close()` (which also fsyncs). With `flush_interval_s` 0
    (the default) every row is flushed as written. A producer of thousands of records per second sets it (the
    Locust processes: 0.1 s, and a greenlet calls `flush()` every 0.1 s while requests are few); Ctrl-C and
    SIGTERM lose nothing there, as Locust's stop closes the writer.

    What a kill -9 (or a crash that skips `close()`) can lose: the rows written since the last flush, that is
    the records completed in the last `flush_interval_s` (longer only if the process was too busy to run its
    flush on time); never a row already flushed. The kill can also leave one torn last line (a batch over the
    1 MiB buffer reaches the OS in pieces): readers skip it (counted as torn) and the next writer of the file
    cuts it.
    Not thread-safe: one writer per thread, or a lock around it (replay's LockedWriter).
    """

    def __init__(self, path: Path, flush_interval_s: float = 0.0) -> None:
        self.path = path
        self.flush_interval_s = flush_interval_s
        path.parent.mkdir(parents=True, exist_ok=True)
        cut_torn_tail(path)
        new_file = not path.exists() or path.stat().st_size == 0
        # 1 MiB: a flush interval of rows (0.1 s at 20,000 records/s) reaches the OS at the flush, in one write
        self._file: TextIO = open(path, "a", newline="", encoding="utf-8", buffering=1 << 20)  # noqa: SIM115
        self._csv = csv.writer(self._file)
        self._due_mono_s = time.monotonic() + flush_interval_s
        self.count = 0
        if new_file:
            self._csv.writerow(FIELD_NAMES)
            self._file.flush()

    @property
    def closed(self) -> bool:
        return self._file.closed

    def write(self, record: RequestRecord) -> None:
        # the same text as record_to_row: csv writes None as "" and a float as its repr; bools are spelled out
        self._csv.writerow([("true" if v else "false") if v.__class__ is bool else v for v in _ROW_OF(record)])
        self.count += 1
        if self.flush_interval_s <= 0 or time.monotonic() >= self._due_mono_s:
            self.flush()

    def write_all(self, records: Iterable[RequestRecord]) -> None:
        for record in records:
            self.write(record)

    def flush(self) -> None:
        """Hand the buffered rows to the OS now (a no-op once closed)."""
        if not self._file.closed:
            self._file.flush()
            self._due_mono_s = time.monotonic() + self.flush_interval_s

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
