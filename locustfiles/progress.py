"""Progress of a running load test, read from the record files as Locust writes them (every process's).

`RecordTail` reads only what was appended since the last look (complete lines), so it costs little and
works the same for one process or many. `RunProgress` prints a line per target while a plan runs.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable
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

    @property
    def arrivals(self) -> int:
        return self._arrivals

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


class RunProgress:
    """Progress lines for every target of a run while `experiments.runner.run_plan` runs it.

    `say` is handed to run_plan as its message function: it prints each message and, on the runner's
    `run dir PATH` message, starts a thread that prints one ProgressPrinter line per target (once it has
    records) every `interval_s`. `stop()` ends the thread and prints each target's last line.
    """

    def __init__(self, shape: AnyShape, targets: list[str], interval_s: float, say: Callable[[str], None]) -> None:
        self.shape, self.targets, self.interval_s, self._say = shape, targets, max(0.2, interval_s), say
        self.run_path: Path | None = None
        self.printers: list[ProgressPrinter] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._finished: set[str] = set()

    def say(self, message: str) -> None:
        self._say(message)
        if message.startswith("run dir ") and self._thread is None:
            self.run_path = Path(message.removeprefix("run dir ").strip())
            records_dir = self.run_path / "records"
            tails = {t: RecordTail(records_dir, f"locust-{t}-") for t in self.targets}
            self.printers = [ProgressPrinter(tail, self.shape, t) for t, tail in tails.items()]
            self._thread = threading.Thread(target=self._loop, name="load-progress", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._print(only_started=True)

    def _print(self, only_started: bool) -> None:
        """A line per target; in the loop only for targets that have started and not yet finished."""
        for printer in self.printers:
            line = printer.line()
            records = printer.tail.counts.records
            if not only_started or (records > 0 and printer.label not in self._finished):
                print(line, flush=True)
            if records >= printer.arrivals:
                self._finished.add(printer.label)

    def stop(self, final: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            if final:
                self._print(only_started=False)
