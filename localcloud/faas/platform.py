"""`Platform`: an embedded, Lambda-like function platform (the Invoke API as a Python object).

`invoke()` is thread-safe and answers as Lambda's Invoke API does: 200 (with `function_error`
"Unhandled" when the function failed), 202 for `Event` (queued, retried twice on function errors
by worker threads), 204 for `DryRun`, 400 for a payload that is not JSON, 404 for an unknown
function, 413 past the payload limits, 429 when throttled. A reaper thread expires idle
environments after their keep-alive. `update_function()` / `set_reserved_concurrency()` are the
control plane (localcloud.faas.control serves them as Lambda's API). `close()` kills every
environment process; an atexit hook closes platforms left open, and environments exit by themselves
if the platform process dies.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.errors import ConfigError
from labkit.reportlog import billed_duration_ms
from localcloud.faas.asyncq import AsyncEvent, DelayQueue
from localcloud.faas.environment import Outcome
from localcloud.faas.logs import AggregateLog
from localcloud.faas.pool import Pool, PoolClosed, Throttled
from localcloud.faas.spec import (
    ACCOUNT_ID,
    ASYNC_PAYLOAD_LIMIT_BYTES,
    REGION,
    SYNC_PAYLOAD_LIMIT_BYTES,
    VERSION,
    FunctionSpec,
    check_unique,
)

log = logging.getLogger(__name__)

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
_RESPONSE_TOO_LARGE = "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
_THROTTLE_BACKOFF_S = (0.2, 0.5, 1.0, 2.0)
_LIVE_PLATFORMS: weakref.WeakSet[Platform] = weakref.WeakSet()


@dataclass(slots=True)
class InvokeResult:
    """One invocation's answer plus the platform facts (cold start, init, duration, memory, instance)."""

    status_code: int
    payload: bytes
    function_name: str
    request_id: str
    function_error: str | None = None  # "Unhandled" when the function failed (status 200)
    function_error_type: str | None = None  # errorType of the function's error JSON
    api_error_type: str | None = None  # x-amzn-ErrorType for non-2xx answers (TooManyRequestsException...)
    cold_start: bool = False
    init_ms: float | None = None
    duration_ms: float | None = None
    billed_ms: int | None = None
    memory_size_mb: int | None = None
    max_memory_used_mb: int | None = None
    instance_id: str = ""
    log_tail: bytes = b""
    executed_version: str = VERSION

    @property
    def ok(self) -> bool:
        """2xx and no function error."""
        return 200 <= self.status_code < 300 and self.function_error is None


def api_error(status_code: int, error_type: str, message: str, function_name: str, **extra: str) -> InvokeResult:
    """A non-2xx Invoke API answer with Lambda's error body ({"Type": "User", "message": ...})."""
    body = json.dumps({"Type": "User", "message": message, **extra}).encode()
    return InvokeResult(status_code, body, function_name, str(uuid.uuid4()), api_error_type=error_type)


class Platform:
    """Functions by name, their environment pools, the async queue, the reaper; see module doc."""

    def __init__(
        self,
        specs: list[FunctionSpec],
        log_dir: Path,
        *,
        async_workers: int = 4,
        async_retry_delays_s: tuple[float, ...] = (1.0, 2.0),
        async_max_event_age_s: float = 300.0,
        on_async_result: Callable[[InvokeResult, int], None] | None = None,
    ) -> None:
        if not specs:
            raise ConfigError("a platform needs at least one FunctionSpec")
        self.log_dir = Path(log_dir)
        self._aggregate = AggregateLog(self.log_dir)
        self.specs = check_unique(specs)
        self._pools = {name: Pool(spec, self.log_dir, self._aggregate) for name, spec in self.specs.items()}
        self._retry_delays_s = async_retry_delays_s
        self._max_event_age_s = async_max_event_age_s
        self._on_async_result = on_async_result
        self._queue = DelayQueue()
        self._async_counts = {
            "queued": 0,
            "retries": 0,
            "throttle_retries": 0,
            "succeeded": 0,
            "failed": 0,
            "dropped": 0,
        }
        self._counts_lock = threading.Lock()
        self._update_lock = threading.Lock()
        self._stop = threading.Event()
        self._closed = False
        self._threads = [threading.Thread(target=self._reap_loop, name="faas-reaper", daemon=True)]
        self._threads += [
            threading.Thread(target=self._async_loop, name=f"faas-async-{i}", daemon=True) for i in range(async_workers)
        ]
        for thread in self._threads:
            thread.start()
        _LIVE_PLATFORMS.add(self)

    @property
    def aggregate_log_path(self) -> Path:
        """The platform-wide log holding every START/END/REPORT line."""
        return self._aggregate.path

    def invoke(
        self, function_name: str, payload: bytes = b"", invocation_type: str = "RequestResponse"
    ) -> InvokeResult:
        """Invoke a function as Lambda's Invoke API does (see module doc for the status codes).

        Raises TargetError (PoolClosed) once the platform is closed.
        """
        if self._closed:
            raise PoolClosed("the platform is closed")
        spec = self.specs.get(function_name)
        if spec is None:
            return api_error(
                404, "ResourceNotFoundException", f"Function not found: {_arn(function_name)}", function_name
            )
        if invocation_type not in INVOCATION_TYPES:
            return api_error(
                400, "InvalidParameterValueException", f"Unsupported invocation type {invocation_type!r}", function_name
            )
        rejected = _check_payload(function_name, payload, invocation_type)
        if rejected is not None:
            return rejected
        request_id = str(uuid.uuid4())
        if invocation_type == "DryRun":
            return InvokeResult(204, b"", function_name, request_id)
        if invocation_type == "Event":
            self._queue.put(AsyncEvent(function_name, request_id, payload))
            self._count("queued")
            return InvokeResult(202, b"", function_name, request_id)
        return self._invoke_sync(spec, request_id, payload)

    def _invoke_sync(self, spec: FunctionSpec, request_id: str, payload: bytes) -> InvokeResult:
        pool = self._pools[spec.name]
        try:
            env, cold = pool.acquire()
        except Throttled:
            return api_error(
                429,
                "TooManyRequestsException",
                "Rate Exceeded.",
                spec.name,
                Reason="ReservedFunctionConcurrentInvocationLimitExceeded",
            )
        outcome: Outcome | None = None
        try:
            outcome = env.invoke(request_id, payload)
        finally:
            if outcome is None:  # an unexpected error inside invoke(): never leak the environment
                env.close()
                pool.forget(env)
        if outcome.kind == "ok" and len(outcome.payload) > SYNC_PAYLOAD_LIMIT_BYTES:
            outcome.kind, outcome.error_type = "error", "Function.ResponseSizeTooLarge"
            outcome.payload = json.dumps(
                {"errorMessage": _RESPONSE_TOO_LARGE, "errorType": outcome.error_type}
            ).encode()
        pool.release(env, outcome)
        return InvokeResult(
            200,
            outcome.payload,
            spec.name,
            request_id,
            function_error=outcome.function_error,
            function_error_type=outcome.error_type,
            cold_start=cold,
            init_ms=outcome.init_ms,
            duration_ms=outcome.duration_ms,
            billed_ms=billed_duration_ms(outcome.duration_ms),
            memory_size_mb=env.spec.memory_mb,  # the environment's own: it may predate an update
            max_memory_used_mb=outcome.max_memory_used_mb,
            instance_id=env.instance_id,
            log_tail=outcome.log_tail,
        )

    def pool(self, function_name: str) -> Pool:
        """A function's pool (its limit, revision, environments); KeyError when unknown."""
        return self._pools[function_name]

    def update_function(self, function_name: str, **changes: Any) -> FunctionSpec:
        """Change FunctionSpec fields (ConfigError when invalid, KeyError when unknown): environments
        started before are retired, later invocations cold-start with the new configuration."""
        if "name" in changes:
            raise ConfigError(f"function {function_name!r}: a function's name cannot change")
        with self._update_lock:
            pool = self._pools[function_name]
            spec = dataclasses.replace(pool.spec, **changes)
            pool.reconfigure(spec)
            self.specs[function_name] = spec
        return spec

    def set_reserved_concurrency(self, function_name: str, limit: int | None) -> None:
        """Put (or with None delete) a function's reserved concurrency: 0 throttles every invocation."""
        self._pools[function_name].set_reserved(limit)

    def _count(self, key: str) -> None:
        with self._counts_lock:
            self._async_counts[key] += 1

    def _async_loop(self) -> None:
        while not self._stop.is_set():
            event = self._queue.get(timeout_s=0.5)
            if event is None:
                continue
            try:
                self._process_async(event)
            except PoolClosed:
                return  # closing: the queue already counted this event as abandoned
            except Exception:  # logged with its traceback; the worker keeps serving the queue
                log.exception("async invocation %s of %s failed in the platform", event.request_id, event.function_name)
                self._finish_async(event, None, "failed")

    def _process_async(self, event: AsyncEvent) -> None:
        """One attempt of an Event invocation, then retry, drop or finish it (Lambda's policy)."""
        result = self._invoke_sync(self.specs[event.function_name], event.request_id, event.payload)
        if self._stop.is_set():
            return  # closing: the queue already counted this event as abandoned
        age_s = time.monotonic() - event.enqueued_s
        if result.status_code == 429:
            if age_s + _THROTTLE_BACKOFF_S[-1] > self._max_event_age_s:
                log.warning("async event %s dropped: throttled past its maximum age", event.request_id)
                self._finish_async(event, result, "dropped")
                return
            delay_s = _THROTTLE_BACKOFF_S[min(event.throttled, len(_THROTTLE_BACKOFF_S) - 1)]
            event.throttled += 1
            self._count("throttle_retries")
            self._queue.put(event, delay_s, new=False)
            return
        event.attempts += 1
        if result.function_error and event.attempts <= len(self._retry_delays_s):
            self._count("retries")
            self._queue.put(event, self._retry_delays_s[event.attempts - 1], new=False)
            return
        self._finish_async(event, result, "failed" if result.function_error else "succeeded")

    def _finish_async(self, event: AsyncEvent, result: InvokeResult | None, outcome: str) -> None:
        """Count the final outcome, hand the result to the hook, mark the event done."""
        self._count(outcome)
        try:
            if self._on_async_result is not None and result is not None:
                self._on_async_result(result, event.attempts)
        except Exception:  # the caller's hook failed: logged with its traceback, the worker goes on
            log.exception("on_async_result hook failed for %s", event.request_id)
        finally:
            self._queue.done()

    def drain_async(self, timeout_s: float) -> bool:
        """Wait until every queued Event invocation finished (incl. retries); False on timeout."""
        return self._queue.wait_empty(timeout_s)

    def _reap_loop(self) -> None:
        interval_s = min(1.0, max(0.05, min(s.keepalive_s for s in self.specs.values()) / 4.0))
        while not self._stop.wait(interval_s):
            for pool in self._pools.values():
                pool.expire_idle()

    def stats(self) -> dict[str, Any]:
        """Per function: environments alive/busy/idle/starting and cold/warm/throttle/expiry/crash counts."""
        with self._counts_lock:
            async_counts = dict(self._async_counts)
        async_counts["pending"] = len(self._queue)
        return {
            "functions": {name: pool.stats() for name, pool in self._pools.items()},
            "async": async_counts,
            "log_dir": str(self.log_dir),
            "aggregate_log": str(self.aggregate_log_path),
        }

    def environments(self, function_name: str | None = None) -> list[dict[str, Any]]:
        """Live environments: function, instance_id, pid, invocations, log_stream, log_path."""
        pools = [self._pools[function_name]] if function_name else list(self._pools.values())
        return [
            {
                "function": pool.spec.name,
                "instance_id": env.instance_id,
                "pid": env.pid,
                "invocations": env.invocations,
                "log_stream": env.log.stream_name,
                "log_path": str(env.log.path),
            }
            for pool in pools
            for env in pool.environments()
        ]

    def close(self) -> None:
        """Stop the reaper and async workers, kill every environment process (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        abandoned = self._queue.close()
        if abandoned:
            log.warning("platform closed with %d queued async invocations abandoned", abandoned)
        for pool in self._pools.values():
            pool.close()
        for thread in self._threads:
            thread.join(timeout=5.0)
        self._aggregate.close()
        _LIVE_PLATFORMS.discard(self)

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _arn(function_name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"


def _check_payload(function_name: str, payload: bytes, invocation_type: str) -> InvokeResult | None:
    """413 past Lambda's payload limits, 400 when the payload is not JSON; None when acceptable."""
    limit = ASYNC_PAYLOAD_LIMIT_BYTES if invocation_type == "Event" else SYNC_PAYLOAD_LIMIT_BYTES
    if len(payload) > limit:
        operation = "InvokeAsync" if invocation_type == "Event" else "InvokeFunction"
        return api_error(
            413,
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the {operation} operation",
            function_name,
        )
    if payload.strip():
        try:
            json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            return api_error(
                400, "InvalidRequestContentException", f"Could not parse request body into json: {exc}", function_name
            )
    return None


@atexit.register
def _close_live_platforms() -> None:
    """Interpreter exit (incl. after Ctrl-C): close platforms their owners left open."""
    for platform in list(_LIVE_PLATFORMS):
        platform.close()
