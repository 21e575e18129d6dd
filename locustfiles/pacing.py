"""Open-model pacing: issue each request at its intended time, whatever the latency of earlier ones.

Policy (documented in the README, "Load"):
- each arrival is started in a greenlet of its own at its intended send time; earlier requests still in
  flight do not delay it (more concurrency is used as needed);
- concurrency is capped (`max_inflight` per process). When the cap is reached, the send waits for a free
  slot, but at most `max_lag_s` past its intended time; a send that cannot start by then is not sent and is
  recorded with error_kind "dropped" (and so is one the dispatcher itself reaches more than `max_lag_s`
  late, e.g. a starved CPU; checked again in the request's own greenlet at the moment it sends, since a
  busy process may start it later than it was spawned). A late send that does start is recorded normally:
  its `send_lag_ms` says how late, and its `latency_ms` still counts from the intended time.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import gevent
import numpy as np
from gevent.event import Event
from gevent.hub import Waiter, get_hub

SPIN_S = 0.0011  # the last stretch before a send's due time is waited by yielding, not on the loop's timer
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


class SendPool(Protocol):
    """What run_schedule needs of a pool of greenlets (gevent.pool.Pool has it, and so has SenderPool)."""

    size: int | None

    def full(self) -> bool: ...
    def wait_available(self, timeout: float | None = None) -> Any: ...
    def spawn(self, func: Callable[..., Any], *args: Any) -> Any: ...


class SenderPool:
    """Up to `size` long-lived greenlets, each running one send at a time: an arrival is handed to an idle one
    (or to a new one while fewer than `size` exist). The same concurrency as a greenlet spawned per arrival and
    capped at `size` (gevent.pool.Pool), without making and tearing down a greenlet per request (about 20 us
    each, more than a loopback exchange). `kill` raises GreenletExit in the sends in flight, as Pool.kill does.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._hub = get_hub()
        self._greenlets: list[gevent.Greenlet] = []
        self._idle: list[Waiter] = []
        self._freed = Event()  # set when a greenlet becomes idle
        self.busy = 0  # sends handed over and not finished (started or not)

    def full(self) -> bool:
        return not self._idle and len(self._greenlets) >= self.size

    def wait_available(self, timeout: float | None = None) -> bool:
        deadline_s = None if timeout is None else time.monotonic() + timeout
        while self.full():
            self._freed.clear()
            left_s = None if deadline_s is None else deadline_s - time.monotonic()
            if (left_s is not None and left_s <= 0) or not self._freed.wait(left_s):
                break
        return not self.full()

    def spawn(self, func: Callable[..., Any], *args: Any) -> None:
        """Run `func(*args)` in an idle greenlet (raises RuntimeError when full: wait_available first)."""
        if self._idle:
            self._hub.loop.run_callback(self._idle.pop().switch, (func, args))
        elif len(self._greenlets) < self.size:
            self._greenlets.append(gevent.spawn(self._work, func, args))
        else:
            raise RuntimeError(f"all {self.size} greenlets busy")
        self.busy += 1

    def _work(self, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
        while True:
            try:
                func(*args)
            except Exception:  # as in a greenlet of its own: reported, the others carry on
                self._hub.handle_error(gevent.getcurrent(), *sys.exc_info())
            finally:
                self.busy -= 1
            waiter = Waiter()
            self._idle.append(waiter)
            self._freed.set()
            func, args = waiter.get()

    def join(self, timeout: float) -> bool:
        """Wait until no send is running (True) or `timeout` s passed (False)."""
        deadline_s = time.monotonic() + timeout
        while self.busy and time.monotonic() < deadline_s:
            gevent.sleep(0.01)
        return not self.busy

    def kill(self, block: bool = True, timeout: float | None = None) -> None:
        self._idle.clear()
        gevent.killall(self._greenlets, block=block, timeout=timeout)
        self._greenlets.clear()
        self.busy = 0  # sends handed over but not started never run (as greenlets killed before their start)


def _blocked_reason(cap: int, max_lag_s: float) -> str:
    return f"not sent: {cap} requests in flight (the cap) until {max_lag_s:g} s past its intended time"


def _late_reason(lag_s: float, max_lag_s: float) -> str:
    return f"not sent: the load generator reached it {lag_s:.3f} s late (more than max lag {max_lag_s:g} s)"


def run_schedule(
    offsets_s: np.ndarray,
    indexes: np.ndarray,
    start_unix_s: float,
    pool: SendPool,
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
        _sleep_until(due_mono_s)
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


def _sleep_until(due_mono_s: float) -> None:
    """Sleep on the event loop's timer up to SPIN_S before `due_mono_s`, then yield until it (other greenlets
    run meanwhile): the loop's timer alone wakes about a millisecond late, which every latency from the intended
    send would carry. Bounded: returns at `due_mono_s` at the latest (plus one turn of the loop)."""
    wait_s = due_mono_s - time.monotonic()
    if wait_s > SPIN_S:
        gevent.sleep(wait_s - SPIN_S)
    while time.monotonic() < due_mono_s:
        gevent.sleep(0)


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
