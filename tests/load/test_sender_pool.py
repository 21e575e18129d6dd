"""locustfiles.pacing.SenderPool: long-lived greenlets with the concurrency of one greenlet per arrival (no Locust)."""

from __future__ import annotations

import time

import gevent
import numpy as np
from gevent import GreenletExit

from locustfiles.pacing import SenderPool, run_schedule


def test_sends_run_at_once_side_by_side_up_to_the_size_on_reused_greenlets() -> None:
    pool, running, seen = SenderPool(3), [], set()

    def send(index: int) -> None:
        seen.add(id(gevent.getcurrent()))
        running.append(index)
        gevent.sleep(0.05)

    for index in range(3):
        pool.spawn(send, index)
    assert pool.full() and not pool.wait_available(timeout=0.0)
    gevent.sleep(0.01)
    assert sorted(running) == [0, 1, 2] and pool.busy == 3  # all three in flight together
    assert pool.wait_available(timeout=5.0) and not pool.full()
    for index in range(3, 9):
        pool.wait_available(timeout=5.0)
        pool.spawn(send, index)
    assert pool.join(timeout=5.0) and pool.busy == 0
    assert sorted(running) == list(range(9)) and len(seen) == 3


def test_an_error_in_one_send_leaves_the_pool_working() -> None:
    pool, done = SenderPool(1), []

    def send(index: int) -> None:
        if index == 0:
            raise ValueError("boom")
        done.append(index)

    pool.spawn(send, 0)
    assert pool.wait_available(timeout=5.0)
    pool.spawn(send, 1)
    assert pool.join(timeout=5.0) and done == [1]


def test_kill_raises_greenlet_exit_in_the_sends_in_flight() -> None:
    pool, interrupted = SenderPool(4), []

    def send(index: int) -> None:
        try:
            gevent.sleep(10)
        except GreenletExit:
            interrupted.append(index)
            raise

    for index in range(2):
        pool.spawn(send, index)
    gevent.sleep(0.01)
    pool.kill(block=True, timeout=5)
    assert sorted(interrupted) == [0, 1]


def test_the_cap_policy_holds_with_the_sender_pool() -> None:
    sent, dropped = [], []

    def send(index: int, _intended_unix_s: float) -> None:
        sent.append(index)
        gevent.sleep(2.0)

    def drop(index: int, _intended_unix_s: float, reason: str) -> None:
        dropped.append((index, reason))

    pool = SenderPool(2)
    stats = run_schedule(np.arange(10) * 0.02, np.arange(10), time.time(), pool, send, drop, max_lag_s=0.1)
    pool.kill(block=True, timeout=5)
    assert stats.sent == 2 and stats.dropped_cap == 8 and sorted(sent) == [0, 1]
    assert all("in flight (the cap)" in reason for _, reason in dropped)
