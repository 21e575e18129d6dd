"""Open-loop scheduling: every send happens at its intended time, whatever earlier sends are doing.

`run_open_loop` runs a fixed pool of worker threads that *pull* the next schedule slot from a shared
cursor, sleep until that slot's intended time, and send. A slow send occupies one worker only; the
others keep sending on time. Only when every worker is busy at once is a send late, and then its lag
(actual - intended) is what the caller records: sends are never skipped and never re-timed.

`stop` (a threading.Event) ends scheduling: sleeping workers wake and return without sending their
slot; a worker in the middle of a send finishes it. The caller joins with a bound (`join_s`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

MIN_WORKERS = 4
MAX_WORKERS = 256
ASSUMED_LATENCY_S = 0.25  # the PUT latency the default pool is sized for (Little's law: rate x latency)

Send = Callable[[int, float], None]  # (schedule index, intended send unix s)


def workers_for_rate(peak_rps: float, latency_s: float = ASSUMED_LATENCY_S, cap: int = MAX_WORKERS) -> int:
    """A pool big enough to keep `peak_rps` in flight at `latency_s` per send, with headroom, bounded."""
    if not math.isfinite(peak_rps) or peak_rps <= 0:
        return MIN_WORKERS
    return max(MIN_WORKERS, min(cap, math.ceil(peak_rps * latency_s * 2) + 2))


@dataclass
class LoopOutcome:
    """What the loop did: slots sent, slots left unsent (stop), workers still busy after the join bound."""

    sent: int = 0
    unsent: int = 0
    stuck_workers: int = 0
    errors: list[str] = field(default_factory=list)


class _Cursor:
    def __init__(self, count: int) -> None:
        self._next = 0
        self._count = count
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            if self._next >= self._count:
                return None
            slot, self._next = self._next, self._next + 1
            return slot


def _worker(
    cursor: _Cursor,
    indexes: Sequence[int],
    intended_unix_s: Sequence[float],
    send: Send,
    stop: threading.Event,
    outcome: LoopOutcome,
    lock: threading.Lock,
) -> None:
    while not stop.is_set():
        slot = cursor.take()
        if slot is None:
            return
        due_unix_s = float(intended_unix_s[slot])
        wait_s = due_unix_s - time.time()
        if wait_s > 0 and stop.wait(wait_s):
            with lock:
                outcome.unsent += 1
            return
        try:
            send(int(indexes[slot]), due_unix_s)
        except Exception as exc:  # a send must record its own errors; anything else is a bug to report
            with lock:
                outcome.errors.append(f"index {indexes[slot]}: {type(exc).__name__}: {exc}")
        with lock:
            outcome.sent += 1


def start_open_loop(
    indexes: Sequence[int],
    intended_unix_s: Sequence[float],
    send: Send,
    workers: int,
    stop: threading.Event,
) -> tuple[list[threading.Thread], LoopOutcome]:
    """Start the worker threads (daemon) and return them with the outcome they fill in."""
    if len(indexes) != len(intended_unix_s):
        raise ValueError("indexes and intended_unix_s differ in length")
    cursor, outcome, lock = _Cursor(len(indexes)), LoopOutcome(), threading.Lock()
    threads = [
        threading.Thread(
            target=_worker,
            args=(cursor, indexes, intended_unix_s, send, stop, outcome, lock),
            name=f"replay-send-{n}",
            daemon=True,
        )
        for n in range(max(1, min(workers, len(indexes) or 1)))
    ]
    for thread in threads:
        thread.start()
    return threads, outcome


def join_workers(threads: list[threading.Thread], outcome: LoopOutcome, join_s: float) -> LoopOutcome:
    """Wait up to `join_s` in total for the workers; count those still busy."""
    deadline = time.monotonic() + join_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    outcome.stuck_workers = sum(thread.is_alive() for thread in threads)
    return outcome


def run_open_loop(
    indexes: Sequence[int],
    intended_unix_s: Sequence[float],
    send: Send,
    workers: int,
    stop: threading.Event | None = None,
    join_s: float = 30.0,
) -> LoopOutcome:
    """Send every slot at its intended time (blocking); see the module docstring."""
    stop = stop or threading.Event()
    threads, outcome = start_open_loop(indexes, intended_unix_s, send, workers, stop)
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    finally:
        stop.set()
        join_workers(threads, outcome, join_s)
    return outcome
