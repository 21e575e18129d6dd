"""A small delay queue for asynchronous (Event) invocations: items become available at a due time.

Lambda puts Event invocations on an internal queue, returns 202 at once and retries function
errors twice (after delays) and throttles with backoff until the event's maximum age. The platform's
worker threads take due items from this queue; `put(item, delay_s)` schedules a retry.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class AsyncEvent:
    """One queued Event invocation (the request id stays the same across retries, as in Lambda)."""

    function_name: str
    request_id: str
    payload: bytes
    enqueued_s: float = field(default_factory=time.monotonic)
    attempts: int = 0
    throttled: int = 0


class DelayQueue:
    """Thread-safe min-heap by due time; `get()` returns a due item or None after `timeout_s`."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, AsyncEvent]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._pending = 0  # queued or being processed (drain waits for zero)
        self._closed = False

    def put(self, item: AsyncEvent, delay_s: float = 0.0, new: bool = True) -> None:
        """Queue `item`, available after `delay_s`; `new` False for a retry of an item in flight."""
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay_s, next(self._order), item))
            if new:
                self._pending += 1
            self._cond.notify_all()

    def get(self, timeout_s: float) -> AsyncEvent | None:
        """The next due item, or None if none became due within `timeout_s` (or the queue closed)."""
        deadline_s = time.monotonic() + timeout_s
        with self._cond:
            while not self._closed:
                now_s = time.monotonic()
                if self._heap and self._heap[0][0] <= now_s:
                    return heapq.heappop(self._heap)[2]
                wake_s = min(deadline_s, self._heap[0][0]) if self._heap else deadline_s
                if now_s >= deadline_s:
                    return None
                self._cond.wait(max(0.0, wake_s - now_s))
            return None

    def done(self) -> None:
        """One item finished for good (succeeded, failed after retries, or dropped)."""
        with self._cond:
            self._pending = max(0, self._pending - 1)
            self._cond.notify_all()

    def wait_empty(self, timeout_s: float) -> bool:
        """Wait until nothing is queued or in flight; False on timeout."""
        deadline_s = time.monotonic() + timeout_s
        with self._cond:
            while self._pending > 0:
                remaining_s = deadline_s - time.monotonic()
                if remaining_s <= 0:
                    return False
                self._cond.wait(remaining_s)
            return True

    def close(self) -> int:
        """Stop handing out items; how many queued items were abandoned."""
        with self._cond:
            self._closed = True
            abandoned = len(self._heap)
            self._heap.clear()
            self._pending = 0
            self._cond.notify_all()
            return abandoned

    def __len__(self) -> int:
        with self._cond:
            return len(self._heap)
