"""Turn S3 event notifications waiting in an SQS queue into function invocations.

`NotificationBridge` long-polls the queue in a background thread and hands every S3 event record,
re-wrapped as a one-record S3 put event (the shape Lambda receives), to `deliver(event)`, which
the caller wires to the local function platform's async invoke. Deliveries run in a small thread
pool so a slow function does not hold up polling.

Delivery is at-least-once in, exactly-once out where it can be: redelivered messages are recognised
by (bucket, key, sequencer) or, when S3 sends no sequencer (moto), (bucket, key, eTag, eventTime),
kept in a bounded seen-set. A message is deleted only after all of its records were delivered.
A failing `deliver` is retried with exponential backoff up to `max_attempts`; then the failure is
counted, logged and kept in `failed_deliveries()`, and the message stays in the queue so SQS
redelivers it and, after the queue's maxReceiveCount, moves it to the dead-letter queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, fields
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from labkit.errors import ConfigError, InputError, TargetError
from localcloud.lifecycle import Service
from localcloud.s3.events import dedupe_key, one_record_event, parse_s3_message
from localcloud.s3.moto_server import make_client

log = logging.getLogger(__name__)

Deliver = Callable[[dict[str, Any]], None]
_MAX_SQS_BATCH = 10
_MAX_SQS_WAIT_S = 20


@dataclass(frozen=True)
class BridgeStats:
    """Counters since start; `received` counts S3 event records (duplicates included)."""

    messages: int = 0  # SQS messages received
    received: int = 0  # S3 event records received
    delivered: int = 0  # records `deliver` accepted
    duplicates: int = 0  # redelivered records recognised and not delivered again
    failures: int = 0  # records whose every attempt failed in one round (message kept in the queue)
    retries: int = 0  # attempts after a failed one
    skipped: int = 0  # s3:TestEvent messages (deleted)
    malformed: int = 0  # bodies that are not S3 events (kept, so SQS moves them to the dead-letter queue)
    abandoned: int = 0  # deliveries cut short by stop() (message kept in the queue)
    poll_errors: int = 0
    delete_errors: int = 0
    internal_errors: int = 0


@dataclass(frozen=True)
class FailedDelivery:
    """One record whose delivery failed `attempts` times in a row."""

    event: dict[str, Any]
    error: str
    attempts: int
    failed_at_unix_s: float


class _SeenSet:
    """Bounded memory of delivered events plus the ones being delivered right now."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._done: OrderedDict[Hashable, None] = OrderedDict()
        self._in_flight: set[Hashable] = set()
        self._lock = threading.Lock()

    def claim(self, key: Hashable) -> bool:
        """True when the caller should deliver `key` (neither delivered nor in flight)."""
        with self._lock:
            if key in self._done or key in self._in_flight:
                return False
            self._in_flight.add(key)
            return True

    def finish(self, key: Hashable, delivered: bool) -> None:
        with self._lock:
            self._in_flight.discard(key)
            if delivered:
                self._done[key] = None
                while len(self._done) > self._capacity:
                    self._done.popitem(last=False)


class NotificationBridge(Service):
    """Background SQS poller delivering S3 events to `deliver`; a context manager."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        deliver: Deliver,
        *,
        wait_time_s: int = 1,
        max_attempts: int = 3,
        backoff_base_s: float = 0.2,
        backoff_max_s: float = 5.0,
        delivery_workers: int = 4,
        seen_capacity: int = 100_000,
        failed_capacity: int = 1_000,
    ) -> None:
        if not 0 <= wait_time_s <= _MAX_SQS_WAIT_S:
            raise ConfigError(f"wait_time_s must be 0..{_MAX_SQS_WAIT_S}, got {wait_time_s}")
        if max_attempts < 1 or delivery_workers < 1 or seen_capacity < 1:
            raise ConfigError("max_attempts, delivery_workers and seen_capacity must be >= 1")
        self._sqs = sqs
        self.queue_url = queue_url
        self._deliver = deliver
        self.wait_time_s = wait_time_s
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._workers = delivery_workers
        self._max_in_flight = 2 * delivery_workers
        self._seen = _SeenSet(seen_capacity)
        self._failed: deque[FailedDelivery] = deque(maxlen=failed_capacity)
        self._counts = {f.name: 0 for f in fields(BridgeStats)}
        self._lock = threading.Lock()
        self._capacity = threading.Condition()
        self._in_flight = 0
        self._futures: set[Future[None]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def for_endpoint(cls, endpoint_url: str, queue_url: str, deliver: Deliver, **kwargs: Any) -> NotificationBridge:
        """A bridge with its own SQS client against a local endpoint (moto, dummy credentials)."""
        workers = int(kwargs.get("delivery_workers", 4))
        return cls(make_client("sqs", endpoint_url, max_pool_connections=workers + 2), queue_url, deliver, **kwargs)

    def start(self) -> NotificationBridge:
        if self._thread is not None:
            raise TargetError(f"bridge for {self.queue_url} was already started")
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="s3-bridge-deliver")
        self._thread = threading.Thread(target=self._poll_loop, name="s3-bridge-poll", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop polling and wait up to `timeout_s` for deliveries in progress (idempotent).

        Pending retries are abandoned (counted; their messages stay in the queue). Raises
        TargetError if the poller or a `deliver` call is still running after `timeout_s`.
        """
        deadline = time.monotonic() + timeout_s
        self._stop.set()
        with self._capacity:
            self._capacity.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if self._thread.is_alive():
                raise TargetError(f"bridge poller for {self.queue_url} did not stop within {timeout_s} s")
        with self._lock:
            futures = set(self._futures)
        _, not_done = wait(futures, timeout=max(0.0, deadline - time.monotonic()))
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        if not_done:
            raise TargetError(f"{len(not_done)} deliveries still running {timeout_s} s after bridge stop")

    def stats(self) -> BridgeStats:
        with self._lock:
            return BridgeStats(**self._counts)

    def failed_deliveries(self) -> list[FailedDelivery]:
        """The most recent records whose delivery failed every attempt (bounded)."""
        with self._lock:
            return list(self._failed)

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def _free_slots(self) -> int:
        """Wait (bounded) for room in the delivery pool; 0 when there is none yet or we stop."""
        with self._capacity:
            self._capacity.wait_for(
                lambda: self._in_flight < self._max_in_flight or self._stop.is_set(),
                timeout=max(1.0, float(self.wait_time_s)),
            )
            return 0 if self._stop.is_set() else max(0, self._max_in_flight - self._in_flight)

    def _poll_loop(self) -> None:
        errors_in_row = 0
        while not self._stop.is_set():
            slots = self._free_slots()
            if slots == 0:
                continue
            try:
                response = self._sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=min(_MAX_SQS_BATCH, slots),
                    WaitTimeSeconds=self.wait_time_s,
                )
            except (ClientError, BotoCoreError) as exc:
                errors_in_row += 1
                self._count("poll_errors")
                log.warning("polling %s failed (%d in a row): %s", self.queue_url, errors_in_row, exc)
                self._stop.wait(self._backoff_s(errors_in_row))
                continue
            errors_in_row = 0
            for message in response.get("Messages", []):
                self._submit(message)

    def _submit(self, message: dict[str, Any]) -> None:
        if self._pool is None:
            raise TargetError("bridge was not started")
        with self._capacity:
            self._in_flight += 1
        future = self._pool.submit(self._handle_message, message)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._on_done)

    def _on_done(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)
        with self._capacity:
            self._in_flight -= 1
            self._capacity.notify_all()
        exc = future.exception()
        if exc is not None:
            self._count("internal_errors")
            log.error("bridge failed handling a message (it stays in the queue)", exc_info=exc)

    def _handle_message(self, message: dict[str, Any]) -> None:
        self._count("messages")
        try:
            records = parse_s3_message(message["Body"])
        except InputError as exc:
            self._count("malformed")
            log.error("message %s left in queue for its dead-letter queue: %s", message.get("MessageId"), exc)
            return
        if records is None:
            self._count("skipped")
            self._delete(message)
            return
        all_delivered = True
        for record in records:
            all_delivered = self._handle_record(record) and all_delivered
        if all_delivered:
            self._delete(message)

    def _handle_record(self, record: dict[str, Any]) -> bool:
        """Deliver one record unless it is a duplicate; True when it needs no further delivery."""
        self._count("received")
        key = dedupe_key(record)
        if not self._seen.claim(key):
            self._count("duplicates")
            log.debug("duplicate S3 event %s not delivered again", key)
            return True
        delivered = False
        try:
            delivered = self._deliver_with_retry(one_record_event(record))
        finally:
            self._seen.finish(key, delivered)
        return delivered

    def _deliver_with_retry(self, event: dict[str, Any]) -> bool:
        obj = event["Records"][0]["s3"]
        where = f"s3://{obj['bucket']['name']}/{obj['object']['key']}"
        for attempt in range(1, self.max_attempts + 1):
            if self._stop.is_set():
                self._count("abandoned")
                log.warning("bridge stopping: %s not delivered; its message stays in the queue", where)
                return False
            try:
                self._deliver(event)
            except Exception as exc:
                if attempt < self.max_attempts:
                    self._count("retries")
                    log.warning("delivering %s failed (attempt %d/%d): %s", where, attempt, self.max_attempts, exc)
                    self._stop.wait(self._backoff_s(attempt))
                    continue
                self._record_failure(event, exc, where)
                return False
            self._count("delivered")
            return True
        return False

    def _record_failure(self, event: dict[str, Any], exc: Exception, where: str) -> None:
        error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._counts["failures"] += 1
            self._failed.append(FailedDelivery(event, error, self.max_attempts, time.time()))
        log.error(
            "delivering %s failed %d times; message kept for redelivery / dead-letter queue",
            where,
            self.max_attempts,
            exc_info=exc,
        )

    def _delete(self, message: dict[str, Any]) -> None:
        try:
            self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        except (ClientError, BotoCoreError) as exc:
            self._count("delete_errors")
            log.warning(
                "deleting message %s failed (it will be redelivered and deduplicated): %s",
                message.get("MessageId"),
                exc,
            )

    def _backoff_s(self, attempt: int) -> float:
        return float(min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1)))
