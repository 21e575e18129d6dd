"""Columnar copies of a run's records written while the run goes, so that its report parses little CSV.

`Compactor(records_dir)` is a thread (started by `with`) that every `interval_s` looks at each records file and,
once `min_bytes` of whole rows have been flushed past what its cache segments hold, or once its newest rows have
waited `max_age_s`, parses them into the cache (analysis.colcache): at most `max_bytes` a round, in one thread of
its own at a lower priority (nice +10), so the load generators, which live in other processes, keep the CPU
they need. Rows cut by age join the chain's last segment while it holds less than `min_bytes` (it is rewritten
with them), so a file keeps about one segment per `min_bytes`, and a report parses at most the last
`max_age_s` (and a round) of each file, whatever the rate; a slowly growing file costs at most one `min_bytes`
segment rewritten per `max_age_s`. It only reads the CSV files; a file that does not parse clean there is left
to the report (which reads it the exact way). A round is bounded (files x max_bytes); the thread ends with the
`with` block, after its current round.

`python -m analysis.compactor RECORDS_DIR` runs one in a process of its own, until SIGTERM (or SIGINT, or its
parent's end): for a run whose own process must not parse (the Locust web UI's, one gevent loop), started as a
child of the run's context, which stops it before the report reads the copy.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading
import time
from pathlib import Path
from types import TracebackType

from analysis import colcache
from analysis.fastread import header_of, parse_rows

MIN_BYTES = 16 << 20  # parse once this much is new (~70k rows of 40 columns)
MAX_BYTES = 128 << 20  # at most this much a segment (a bounded buffer, a bounded round)
INTERVAL_S = 5.0
MAX_AGE_S = 30.0  # rows wait at most this long (and a round) before they are in the copy, however slow the file grows


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


def extend(path: Path, min_bytes: int = MIN_BYTES, max_bytes: int = MAX_BYTES, grow_below: int = 0) -> int | None:
    """Add to `path`'s cache the whole rows past its chain if there are `min_bytes` of them (at most `max_bytes`);
    the CSV offset its chain now ends at, or None when nothing was added. When the chain's last segment holds
    fewer than `grow_below` bytes of the CSV (and every column), it is replaced by one holding its rows and the
    new ones, so a chain extended often by a little keeps at most one small segment, at its end. Parsed in the
    calling thread (pyarrow's own threads left out: the compactor's thread is the one at low priority)."""
    import pyarrow as pa

    found = header_of(path, final_newline=False)
    if found is None:
        return None
    header, header_end = found
    with path.open("rb") as handle:  # the chain's check, the rows and the new segment's check from one open file
        links = colcache.chain(handle, path, header, header_end)
        start = links[-1].end if links else header_end
        if os.fstat(handle.fileno()).st_size - start < min_bytes:
            return None
        handle.seek(start)
        chunk = handle.read(max_bytes)
        cut = whole_rows(chunk)
        if cut == 0:
            return None
        rows = memoryview(chunk)[:cut]
        table = parse_rows(lambda: pa.BufferReader(rows), header, None, threads=False)
        if table is None:
            return None
        first = start
        if links and links[-1].end - links[-1].start < grow_below:
            held = colcache.segment_table(links[-1], header)
            if held is not None:  # (else: a damaged segment; the new rows start a segment of their own)
                # one batch per BATCH_ROWS, not one per piece: a reader converts few large chunks fast
                table = pa.concat_tables([held, table]).unify_dictionaries().combine_chunks()
                first = links[-1].start
        return start + cut if colcache.write_segment(handle, path, table, first, start + cut) else None


class Compactor:
    """The thread that extends the cache of every `*.csv` in `records_dir` while a run goes (see module)."""

    def __init__(self, records_dir: Path, interval_s: float = INTERVAL_S, min_bytes: int = MIN_BYTES,
                 max_bytes: int = MAX_BYTES, max_age_s: float = MAX_AGE_S) -> None:  # fmt: skip
        self.records_dir, self.interval_s, self.max_age_s = records_dir, interval_s, max_age_s
        self.min_bytes, self.max_bytes = min_bytes, max_bytes
        self.segments_written = 0
        self._last_cut_s: dict[Path, float] = {}  # per file: when it was last extended (or first seen), monotonic
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="records-compactor", daemon=True)

    def run_once(self, now_s: float | None = None) -> int:
        """One round over the files (at `now_s`, monotonic; default now); the segments written. A file is
        extended once `min_bytes` are new, or whatever is new once it waited `max_age_s` since its last cut."""
        now_s = time.monotonic() if now_s is None else now_s
        written = 0
        for path in sorted(self.records_dir.glob("*.csv")):
            if self._stop.is_set():
                break
            due = now_s - self._last_cut_s.setdefault(path, now_s) >= self.max_age_s
            with contextlib.suppress(OSError):  # a file gone or unreadable now: the report will say
                if extend(path, 1 if due else self.min_bytes, self.max_bytes, grow_below=self.min_bytes) is not None:
                    self._last_cut_s[path] = now_s
                    written += 1
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


MAX_PROCESS_S = 7 * 24 * 3600.0  # a compactor process ends by itself after this long, whatever happens


def main(argv: list[str] | None = None) -> int:
    """The compactor of RECORDS_DIR in this process, until SIGTERM / SIGINT, its parent's end or --max-s."""
    parser = argparse.ArgumentParser(prog="python -m analysis.compactor", description=main.__doc__)
    parser.add_argument("records_dir", type=Path, help="a run's records/ dir")
    parser.add_argument("--interval-s", type=float, default=INTERVAL_S, help="between rounds (default %(default)s)")
    parser.add_argument("--min-bytes", type=int, default=MIN_BYTES, help="new rows parsed once this much is new")
    parser.add_argument("--max-age-s", type=float, default=MAX_AGE_S, help="or once the newest waited this long")
    parser.add_argument("--max-s", type=float, default=MAX_PROCESS_S, help="end after this long (default 7 days)")
    args = parser.parse_args(argv)
    if not args.records_dir.is_dir():
        parser.error(f"{args.records_dir}: not a directory (a run's records/ dir)")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    parent, deadline = os.getppid(), time.monotonic() + args.max_s
    with Compactor(args.records_dir, args.interval_s, args.min_bytes, max_age_s=args.max_age_s) as compactor:
        while not stop.wait(1.0) and os.getppid() == parent and time.monotonic() < deadline:
            pass
    print(f"compactor of {args.records_dir}: segments written: {compactor.segments_written}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
