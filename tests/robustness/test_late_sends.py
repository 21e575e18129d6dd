"""A send is dropped when it would go out more than max_lag_s late, checked at the moment of sending: a
greenlet spawned on time but started late (the process was busy) must not send (it was sent 1.1-1.4 s late
with a 1.0 s max lag before)."""

from __future__ import annotations

import time

import numpy as np
from gevent.pool import Pool

from locustfiles.pacing import run_schedule


def test_a_send_started_late_by_a_busy_process_is_dropped_not_sent() -> None:
    sent: list[tuple[int, float]] = []
    dropped: list[tuple[int, str]] = []

    def send(index: int, intended_unix_s: float) -> None:
        sent.append((index, time.time() - intended_unix_s))
        if index == 0:
            time.sleep(1.5)  # blocks the whole process (not a gevent sleep): like a CPU-bound stall

    def drop(index: int, intended_unix_s: float, reason: str) -> None:
        dropped.append((index, reason))

    pool = Pool(size=10)
    start = time.time() + 0.05
    stats = run_schedule(np.array([0.0, 0.001, 0.002]), np.arange(3), start, pool, send, drop, max_lag_s=1.0)
    pool.join(timeout=10)
    assert [i for i, _ in sent] == [0]
    assert sorted(i for i, _ in dropped) == [1, 2]
    assert all("late" in reason for _, reason in dropped)
    assert stats.sent == 1 and stats.dropped_late == 2
    assert max(lag for _, lag in sent) < 1.0
