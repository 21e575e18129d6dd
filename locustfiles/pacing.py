"""Open-model pacing: issue each request at its intended time, whatever the latency of earlier ones.

Policy (documented in the README, "Load"):
- each arrival is started in its own greenlet at its intended send time; earlier requests still in flight
  do not delay it (more concurrency is used as needed);
- concurrency is capped (`max_inflight` per process). When the cap is reached, the send waits for a free
  slot, but at most `max_lag_s` past its intended time; a send that cannot start by then is not sent and is
  recorded with error_kind "dropped" (and so is one the dispatcher itself reaches more than `max_lag_s`
  late, e.g. a starved CPU; checked again in the request's own greenlet at the moment it sends, since a
  busy process may start it later than it was spawned). A late send that does start is recorded normally:
  its `send_lag_ms` says how late, and its `latency_ms` still counts from the intended time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import gevent
import numpy as np
from gevent.pool import Pool

SendFn = Callable[[int, float], None]  # (arrival index, intended send unix s)
DropFn = Callable[[int, float, str], None]  # (arrival index, intended send unix s, reason)


@dataclass
class PacingStats:
    sent: int = 0
    dropped_cap: int = 0
    dropped_late: int = 0
    max_send_lag_s: float = 0.0

    @property
    def dropped(self) -> int:
        return self.dropped_cap + self.dropped_late


def _blocked_reason(cap: int, max_lag_s: float) -> str:
    return f"not sent: {cap} requests in flight (the cap) until {max_lag_s:g} s past its intended time"


def _late_reason(lag_s: float, max_lag_s: float) -> str:
    return f"not sent: the load generator reached it {lag_s:.3f} s late (more than max lag {max_lag_s:g} s)"


def run_schedule(
    offsets_s: np.ndarray,
    indexes: np.ndarray,
    start_unix_s: float,
    pool: Pool,
    send: SendFn,
    drop: DropFn,
    max_lag_s: float,
) -> PacingStats:
    """Send arrival `indexes[k]` at `start_unix_s + offsets_s[k]` through `pool` (see the module policy).

    Returns when every arrival was started or dropped; in-flight sends keep running in `pool`.
    """
    stats = PacingStats()
    cap = pool.size or 0
    start_mono_s = time.monotonic() + (start_unix_s - time.time())
    for index, offset_s in zip(indexes.tolist(), offsets_s.tolist(), strict=True):
        due_mono_s = start_mono_s + offset_s
        intended_unix_s = start_unix_s + offset_s
        wait_s = due_mono_s - time.monotonic()
        if wait_s > 0:
            gevent.sleep(wait_s)
        lag_s = time.monotonic() - due_mono_s
        if lag_s > max_lag_s:
            stats.dropped_late += 1
            drop(index, intended_unix_s, _late_reason(lag_s, max_lag_s))
            continue
        if pool.full():
            pool.wait_available(timeout=max(0.0, due_mono_s + max_lag_s - time.monotonic()))
            if pool.full():
                stats.dropped_cap += 1
                drop(index, intended_unix_s, _blocked_reason(cap, max_lag_s))
                continue
        pool.spawn(_send_if_on_time, send, drop, stats, index, intended_unix_s, due_mono_s, max_lag_s)
    return stats


def _send_if_on_time(send: SendFn, drop: DropFn, stats: PacingStats, index: int, intended_unix_s: float,
                     due_mono_s: float, max_lag_s: float) -> None:  # fmt: skip
    """In the request's own greenlet: the lateness check at the moment of sending (a busy process may start a
    greenlet well after it was spawned), then the send."""
    lag_s = time.monotonic() - due_mono_s
    if lag_s > max_lag_s:
        stats.dropped_late += 1
        drop(index, intended_unix_s, _late_reason(lag_s, max_lag_s))
        return
    stats.max_send_lag_s = max(stats.max_send_lag_s, lag_s)
    stats.sent += 1
    send(index, intended_unix_s)
