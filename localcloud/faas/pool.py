"""Scheduling for one function: warm reuse, cold starts up to the concurrency limit, throttling, expiry.

An invocation takes the most recently used idle environment (warm start). With none idle it starts
a new environment (cold start) if busy + starting environments are fewer than the function's
reserved concurrency; otherwise it is throttled. `expire_idle()` kills environments idle longer than
`keepalive_s` (the platform's reaper calls it). Environments that timed out, crashed or failed
their init are discarded on release, never reused.

`reconfigure()` (UpdateFunctionConfiguration) retires every environment started before it: idle ones
are stopped at once, busy ones finish their invocation and are stopped on release; later invocations
cold-start with the new spec. `set_reserved()` (Put/DeleteFunctionConcurrency) changes the limit at
once (0 throttles everything) without touching any environment.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from labkit.errors import TargetError
from localcloud.faas.environment import Environment, Outcome
from localcloud.faas.logs import AggregateLog
from localcloud.faas.spec import FunctionSpec


@dataclass(slots=True)
class PoolCounters:
    """Cumulative counts for one function (gauges are added by Pool.stats())."""

    invocations: int = 0
    cold_starts: int = 0
    warm_starts: int = 0
    throttles: int = 0
    expiries: int = 0
    crashes: int = 0
    timeouts: int = 0
    init_failures: int = 0
    function_errors: int = 0
    retired: int = 0


class Throttled(Exception):
    """No idle environment and the concurrency limit is reached."""


class PoolClosed(TargetError):
    """The platform was closed: no more invocations."""


class Pool:
    """The execution environments of one function and the counters about them."""

    def __init__(self, spec: FunctionSpec, log_dir: Path, aggregate: AggregateLog) -> None:
        self.spec = spec
        self._log_dir = log_dir
        self._aggregate = aggregate
        self._lock = threading.Lock()
        self._idle: list[Environment] = []  # most recently used last
        self._busy: set[Environment] = set()
        self._starting: set[Environment] = set()
        self._closed = False
        self.counters = PoolCounters()
        self.reserved: int | None = None  # PutFunctionConcurrency's value; None: spec.concurrency_limit
        self.revision_id = str(uuid.uuid4())
        self.last_modified_unix_s = time.time()

    @property
    def concurrency_limit(self) -> int:
        """The limit in force: the reserved concurrency if one was put, else the spec's."""
        return self.spec.concurrency_limit if self.reserved is None else self.reserved

    def acquire(self) -> tuple[Environment, bool]:
        """An environment ready to invoke, and whether it was a cold start; Throttled past the limit.

        A cold start's environment may have failed its init; its invoke() then reports the error.
        """
        with self._lock:
            if self._closed:
                raise PoolClosed(f"function {self.spec.name!r}: the platform is closed")
            self.counters.invocations += 1
            limit = self.concurrency_limit
            if len(self._busy) + len(self._starting) >= limit:  # checked first: the limit may have dropped
                self.counters.throttles += 1
                raise Throttled(f"{self.spec.name}: {limit} concurrent executions")
            if self._idle:
                env = self._idle.pop()
                self._busy.add(env)
                self.counters.warm_starts += 1
                return env, False
            env = Environment(self.spec, self._log_dir, self._aggregate)
            self._starting.add(env)
            self.counters.cold_starts += 1
        try:
            env.start()
        except BaseException:  # an OS-level failure (no fds, no memory): release it, then re-raise
            with self._lock:
                self._starting.discard(env)
            env.close()
            raise
        with self._lock:
            self._starting.discard(env)
            self._busy.add(env)
            closed = self._closed
        if closed:
            env.terminate()  # closed while starting: the invoke reports a runtime exit
        return env, True

    def release(self, env: Environment, outcome: Outcome) -> None:
        """Return an environment after an invocation: back to idle if healthy, else discard it."""
        with self._lock:
            self._busy.discard(env)
            self._count_outcome(outcome)
            current = env.spec is self.spec  # started before a reconfigure(): retired
            keep = current and env.healthy and not self._closed and outcome.kind in ("ok", "error")
            if not current:
                self.counters.retired += 1
            if keep:
                env.last_used_s = time.monotonic()
                self._idle.append(env)
        if not keep:
            env.close()

    def reconfigure(self, spec: FunctionSpec) -> None:
        """Switch to `spec`: stop the idle environments now, busy ones on release (see module doc)."""
        with self._lock:
            self.spec = spec
            retired, self._idle = self._idle, []
            self.counters.retired += len(retired)
            self._touch()
        for env in retired:
            env.close()

    def set_reserved(self, limit: int | None) -> None:
        """Set (or with None remove) the reserved concurrency; in force for the next acquire()."""
        with self._lock:
            self.reserved = limit
            self._touch()

    def _touch(self) -> None:
        self.revision_id = str(uuid.uuid4())
        self.last_modified_unix_s = time.time()

    def forget(self, env: Environment) -> None:
        """Drop an environment whose invocation failed inside the platform (the caller closed it)."""
        with self._lock:
            self._busy.discard(env)

    def _count_outcome(self, outcome: Outcome) -> None:
        if outcome.kind == "crash":
            self.counters.crashes += 1
        elif outcome.kind == "timeout":
            self.counters.timeouts += 1
        elif outcome.kind == "init_error":
            self.counters.init_failures += 1
        elif outcome.kind == "error":
            self.counters.function_errors += 1

    def expire_idle(self, now_s: float | None = None) -> int:
        """Kill environments idle longer than keepalive_s; how many were expired."""
        now_s = time.monotonic() if now_s is None else now_s
        with self._lock:
            expired = [env for env in self._idle if now_s - env.last_used_s > self.spec.keepalive_s]
            self._idle = [env for env in self._idle if env not in expired]
            self.counters.expiries += len(expired)
        for env in expired:
            env.close()
        return len(expired)

    def environments(self) -> list[Environment]:
        """A snapshot of every environment (idle, busy and starting)."""
        with self._lock:
            return [*self._idle, *self._busy, *self._starting]

    def stats(self) -> dict[str, Any]:
        """Gauges (alive, busy, idle, starting) and cumulative counters, JSON-ready."""
        with self._lock:
            gauges = {
                "environments_alive": len(self._idle) + len(self._busy) + len(self._starting),
                "environments_busy": len(self._busy),
                "environments_idle": len(self._idle),
                "environments_starting": len(self._starting),
                "concurrency_limit": self.concurrency_limit,
                "reserved_concurrency": self.reserved,
                "memory_mb": self.spec.memory_mb,
            }
            return {**gauges, **asdict(self.counters)}

    def close(self) -> None:
        """Kill every environment; busy ones are closed by their invoking threads on release."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            in_flight = [*self._busy, *self._starting]
        for env in in_flight:
            env.terminate()
        for env in idle:
            env.close()
