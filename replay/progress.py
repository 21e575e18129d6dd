"""Live counters of a replay and their one-line readout on stderr.

`ReplayStats` is thread-safe: senders call `attempt_done`, the result collector `results_found`.
`ProgressLine` redraws one line in place on a TTY (carriage return) and prints plain lines every
`plain_every_s` otherwise (logs, CI, pipes), so output stays readable in both.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from labkit.records import RequestRecord

LIVE_WINDOW = 2000  # the live lag percentiles cover the most recent sends


@dataclass(frozen=True)
class StatsSnapshot:
    total: int
    already_done: int
    sent: int
    ok: int
    failed: int  # slots whose last attempt failed (not retried further)
    retries: int
    results: int
    lag_p50_ms: float | None
    lag_p99_ms: float | None
    lag_max_ms: float | None
    elapsed_s: float


def lag_percentiles_ms(lags_ms: list[float] | np.ndarray) -> tuple[float | None, float | None, float | None]:
    """(p50, p99, max) of schedule lags in ms; Nones when there are none."""
    if len(lags_ms) == 0:
        return None, None, None
    values = np.asarray(lags_ms, dtype=np.float64)
    p50, p99 = np.percentile(values, [50, 99])
    return float(p50), float(p99), float(values.max())


class ReplayStats:
    """Counts of one replay segment; the lag is the first attempt's (the scheduler's own lateness)."""

    def __init__(self, total: int, already_done: int = 0) -> None:
        self.total = total
        self.already_done = already_done
        self._lock = threading.Lock()
        self._recent_lags_ms: deque[float] = deque(maxlen=LIVE_WINDOW)
        self.all_lags_ms: list[float] = []
        self._sent = self._ok = self._failed = self._retries = self._results = 0
        self._started_s = time.monotonic()

    def attempt_done(self, record: RequestRecord, attempt: int) -> None:
        with self._lock:
            if attempt == 1:
                self._sent += 1
                if record.send_lag_ms is not None:
                    self._recent_lags_ms.append(record.send_lag_ms)
                    self.all_lags_ms.append(record.send_lag_ms)
            else:
                self._retries += 1
            if record.ok:
                self._ok += 1

    def slot_failed(self) -> None:
        """A slot whose last attempt failed (no more retries in this segment)."""
        with self._lock:
            self._failed += 1

    def results_found(self, count: int) -> None:
        with self._lock:
            self._results += count

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            p50, p99, peak = lag_percentiles_ms(list(self._recent_lags_ms))
            return StatsSnapshot(
                total=self.total,
                already_done=self.already_done,
                sent=self._sent,
                ok=self._ok,
                failed=self._failed,
                retries=self._retries,
                results=self._results,
                lag_p50_ms=p50,
                lag_p99_ms=p99,
                lag_max_ms=peak,
                elapsed_s=time.monotonic() - self._started_s,
            )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def format_progress(snap: StatsSnapshot, results_expected: bool) -> str:
    """One line: done/total, rate, lag p50/p99/max, failures, retries, results."""
    done = snap.already_done + snap.ok + snap.failed
    pct = 100.0 * done / snap.total if snap.total else 100.0
    rate = snap.sent / snap.elapsed_s if snap.elapsed_s > 0 else 0.0
    parts = [
        f"uploads {done}/{snap.total} ({pct:.0f}%)",
        f"{rate:.1f}/s",
        f"lag p50 {_ms(snap.lag_p50_ms)} p99 {_ms(snap.lag_p99_ms)} max {_ms(snap.lag_max_ms)} ms",
        f"failed {snap.failed}",
        f"retries {snap.retries}",
    ]
    if results_expected:
        parts.append(f"results {snap.results}")
    return "replay: " + " | ".join(parts)


class ProgressLine:
    """Redraws the readout every `every_s` in a background thread until `close()`."""

    def __init__(
        self,
        stats: ReplayStats,
        results_expected: bool,
        stream: TextIO | None = None,
        every_s: float = 0.5,
        plain_every_s: float = 5.0,
    ) -> None:
        self.stats = stats
        self.results_expected = results_expected
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = every_s if self.tty else plain_every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="replay-progress", daemon=True)

    def start(self) -> ProgressLine:
        self._thread.start()
        return self

    def draw(self, final: bool = False) -> None:
        line = format_progress(self.stats.snapshot(), self.results_expected)
        if self.tty:
            self.stream.write("\r\x1b[2K" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.draw()

    def close(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(2.0)
            self.draw(final=True)
