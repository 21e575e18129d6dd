"""Columnar copies of a run's records written while the run goes, so that its report parses little CSV.

`Compactor(records_dir)` is a thread (started by `with`) that every `interval_s` looks at each records file and,
once `min_bytes` of whole rows have been flushed past what its cache segments hold, parses them into a new
segment (analysis.colcache): at most `max_bytes` a round, in one thread of its own at a lower priority
(nice +10), so the load generators, which live in other processes, keep the CPU they need. It only reads
the CSV files; a file that does not parse clean there is left to the report (which reads it the exact way).
A round is bounded (files x max_bytes); the thread ends with the `with` block, after its current round.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from types import TracebackType

from analysis import colcache
from analysis.fastread import header_of, parse_rows

MIN_BYTES = 16 << 20  # parse once this much is new (~70k rows of 40 columns)
MAX_BYTES = 128 << 20  # at most this much a segment (a bounded buffer, a bounded round)
INTERVAL_S = 5.0


def whole_rows(chunk: bytes) -> int:
    """The length of `chunk`'s prefix that ends a row: after a newline outside quotes (an even count of
    quote characters before it, as CSV doubles quotes inside quoted fields); 0 when there is none. Each byte
    is counted once, however many newlines from the end fall inside quotes."""
    newline = chunk.rfind(b"\n")
    quotes = chunk.count(b'"', 0, newline) if newline >= 0 else 0
    while newline >= 0 and quotes % 2:
        before = chunk.rfind(b"\n", 0, newline)
        quotes -= chunk.count(b'"', max(before, 0), newline)
        newline = before
    return newline + 1


def extend(path: Path, min_bytes: int = MIN_BYTES, max_bytes: int = MAX_BYTES) -> bool:
    """Add one segment to `path`'s cache if `min_bytes` of whole rows are past its chain; whether it did. Parsed
    in the calling thread (pyarrow's own threads left out: the compactor's thread is the one at low priority)."""
    import pyarrow as pa

    found = header_of(path, final_newline=False)
    if found is None:
        return False
    header, header_end = found
    with path.open("rb") as handle:  # the chain's check, the rows and the new segment's check from one open file
        start = colcache.chain_end(handle, path, header, header_end)
        if os.fstat(handle.fileno()).st_size - start < min_bytes:
            return False
        handle.seek(start)
        chunk = handle.read(max_bytes)
        cut = whole_rows(chunk)
        if cut == 0:
            return False
        rows = memoryview(chunk)[:cut]
        table = parse_rows(lambda: pa.BufferReader(rows), header, None, threads=False)
        return table is not None and colcache.write_segment(handle, path, table, start, start + cut)


class Compactor:
    """The thread that extends the cache of every `*.csv` in `records_dir` while a run goes (see module)."""

    def __init__(self, records_dir: Path, interval_s: float = INTERVAL_S, min_bytes: int = MIN_BYTES,
                 max_bytes: int = MAX_BYTES) -> None:  # fmt: skip
        self.records_dir, self.interval_s = records_dir, interval_s
        self.min_bytes, self.max_bytes = min_bytes, max_bytes
        self.segments_written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="records-compactor", daemon=True)

    def run_once(self) -> int:
        """One round over the files; the segments written."""
        written = 0
        for path in sorted(self.records_dir.glob("*.csv")):
            if self._stop.is_set():
                break
            with contextlib.suppress(OSError):  # a file gone or unreadable now: the report will say
                written += extend(path, self.min_bytes, self.max_bytes)
        self.segments_written += written
        return written

    def _run(self) -> None:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # this thread only (Linux)
        while not self._stop.wait(self.interval_s):
            self.run_once()

    @property
    def native_id(self) -> int | None:
        """The thread's id in the OS (None before it starts)."""
        return self._thread.native_id

    def __enter__(self) -> Compactor:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self._stop.set()
        self._thread.join()
