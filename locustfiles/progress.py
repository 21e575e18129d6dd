"""Progress of a running load test, read from the record files as Locust writes them (every process's).

`RecordTail` reads only what was appended since the last look (complete lines), so it costs little and
works the same for one process or many.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

from locustfiles.shapes import AnyShape


@dataclass
class TailCounts:
    records: int = 0
    answered: int = 0  # a response (any status) or a transport error: the request was sent
    ok: int = 0
    dropped: int = 0
    errors: int = 0  # sent but not ok
    first_intended_unix_s: float | None = None


@dataclass
class RecordTail:
    """Counts of the records in `records_dir` whose file names start with `prefix`."""

    records_dir: Path
    prefix: str
    counts: TailCounts = field(default_factory=TailCounts)
    _offsets: dict[Path, int] = field(default_factory=dict)
    _columns: dict[Path, list[str]] = field(default_factory=dict)

    def poll(self) -> TailCounts:
        for path in sorted(self.records_dir.glob(f"{self.prefix}*.csv")):
            self._read_new(path)
        return self.counts

    def _read_new(self, path: Path) -> None:
        with path.open("rb") as handle:
            handle.seek(self._offsets.get(path, 0))
            chunk = handle.read()
        end = chunk.rfind(b"\n") + 1
        if end == 0:
            return
        self._offsets[path] = self._offsets.get(path, 0) + end
        rows = list(csv.reader(io.StringIO(chunk[:end].decode("utf-8", "replace"))))
        if path not in self._columns and rows:
            self._columns[path], rows = rows[0], rows[1:]
        columns = {name: i for i, name in enumerate(self._columns.get(path, []))}
        for row in rows:
            if len(row) == len(columns):
                self._count(row, columns)

    def _count(self, row: list[str], columns: dict[str, int]) -> None:
        c = self.counts
        c.records += 1
        if row[columns["error_kind"]] == "dropped":
            c.dropped += 1
        elif row[columns["ok"]] == "true":
            c.ok += 1
            c.answered += 1
        else:
            c.errors += 1
            c.answered += 1
        intended = row[columns["intended_send_unix_s"]]
        if intended:
            value = float(intended)
            c.first_intended_unix_s = min(value, c.first_intended_unix_s or value)


@dataclass
class ProgressPrinter:
    """Prints one line per call: elapsed, target rate, records, achieved rate since last call, errors."""

    tail: RecordTail
    shape: AnyShape
    label: str
    _last: tuple[float, int] | None = None
    _arrivals: int = 0
    _first_offset_s: float = 0.0

    def __post_init__(self) -> None:
        offsets = self.shape.arrival_offsets_s()
        self._arrivals = int(offsets.size)
        self._first_offset_s = float(offsets[0]) if offsets.size else 0.0

    def __call__(self) -> None:
        print(self.line(), flush=True)

    def line(self, now_unix_s: float | None = None) -> str:
        now = time.time() if now_unix_s is None else now_unix_s
        c = self.tail.poll()
        start_unix_s = c.first_intended_unix_s - self._first_offset_s if c.first_intended_unix_s else now
        elapsed_s = now - start_unix_s
        last_t, last_answered = self._last or (now, c.answered)
        achieved = (c.answered - last_answered) / (now - last_t) if now > last_t else 0.0
        self._last = (now, c.answered)
        target_rps = self.shape.target_rate_rps(elapsed_s) if 0 <= elapsed_s <= self.shape.duration_s else 0.0
        return (f"[load {time.strftime('%H:%M:%S')}] {self.label}: {elapsed_s:5.0f}/{self.shape.duration_s:.0f} s  "
                f"target {target_rps:6.1f} rps  achieved {achieved:6.1f} rps  records {c.records}/{self._arrivals}  "
                f"ok {c.ok}  errors {c.errors}  dropped {c.dropped}")  # fmt: skip
