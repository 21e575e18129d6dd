"""The open-model pacing policy with real gevent greenlets (sends that take a known time)."""

import time

import gevent
import numpy as np
from gevent.pool import Pool

from locustfiles.pacing import run_schedule


def _collect(send_s: float):
    sent: dict[int, tuple[float, float]] = {}  # index -> (intended, actual)
    dropped: dict[int, str] = {}

    def send(index: int, intended_unix_s: float) -> None:
        sent[index] = (intended_unix_s, time.time())
        gevent.sleep(send_s)

    def drop(index: int, _intended_unix_s: float, reason: str) -> None:
        dropped[index] = reason

    return sent, dropped, send, drop


def test_sends_on_schedule_even_when_each_reply_is_slow():
    offsets = np.arange(20) * 0.05  # 20 rps for 1 s, each request takes 0.5 s: ~10 in flight
    sent, dropped, send, drop = _collect(send_s=0.5)
    pool = Pool(size=50)
    start = time.time() + 0.05
    stats = run_schedule(offsets, np.arange(20), start, pool, send, drop, max_lag_s=1.0)
    pool.join(timeout=5)
    assert stats.sent == 20 and not dropped
    assert sorted(sent) == list(range(20))
    for index, (intended, actual) in sent.items():
        assert intended == start + offsets[index]
        assert actual >= intended - 0.005  # never early
    # the last send went out about 0.95 s after the first, not after 19 replies of 0.5 s
    spread_s = sent[19][1] - sent[0][1]
    assert spread_s < 5.0


def test_sends_blocked_by_the_cap_past_max_lag_are_dropped_and_counted():
    offsets = np.arange(10) * 0.02  # 10 sends within 0.2 s; each takes 2 s; only 2 may be in flight
    sent, dropped, send, drop = _collect(send_s=2.0)
    pool = Pool(size=2)
    stats = run_schedule(offsets, np.arange(100, 110), time.time(), pool, send, drop, max_lag_s=0.1)
    pool.kill(block=True, timeout=5)
    assert stats.sent == 2 and stats.dropped_cap == 8 and stats.dropped == 8
    assert set(sent) | set(dropped) == set(range(100, 110)) and not set(sent) & set(dropped)
    assert all("in flight (the cap)" in reason for reason in dropped.values())


def test_a_dispatcher_that_starts_too_late_drops_what_it_cannot_send_in_time():
    offsets = np.array([0.0, 0.1, 2.0])
    sent, dropped, send, drop = _collect(send_s=0.0)
    pool = Pool(size=10)
    stats = run_schedule(offsets, np.arange(3), time.time() - 1.0, pool, send, drop, max_lag_s=0.5)
    pool.join(timeout=5)
    assert stats.dropped_late == 2 and sorted(dropped) == [0, 1] and sorted(sent) == [2]
    assert "late" in dropped[0]
