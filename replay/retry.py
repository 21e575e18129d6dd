"""Uploads retried with exponential backoff; every attempt is a record (failures are data, never dropped).

An attempt that fails with a retryable kind (5xx, throttling, timeout, connection) is recorded and the
upload is tried again after a full-jitter exponential backoff, up to `max_attempts`. A 4xx (other than
throttling) is not retried: trying again would fail the same way. Each attempt's record keeps the
slot's intended send time, so the final attempt's `latency_ms` includes the failed attempts and the
backoff, and its `send_lag_ms` shows how late the retry went out. The first attempt's request id is
`<run>-<index>`, later ones `<run>-<index>-a<attempt>`; failed attempts say `attempt k/N` in their
error message.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labkit.errors import ConfigError
from labkit.records import RequestRecord
from replay.uploads import UploadJob, upload

RETRYABLE_KINDS = frozenset({"http_5xx", "throttled", "timeout", "connection"})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ConfigError(
                f"backoff delays must satisfy 0 <= base ({self.base_delay_s}) <= max ({self.max_delay_s})"
            )

    def delay_s(self, failed_attempts: int, rng: random.Random) -> float:
        """Full-jitter backoff after `failed_attempts` failures: uniform in [0, min(max, base * 2^(n-1))]."""
        ceiling_s = min(self.max_delay_s, self.base_delay_s * 2 ** max(0, failed_attempts - 1))
        return rng.uniform(0.0, ceiling_s)


def attempt_record(record: RequestRecord, attempt: int, policy: RetryPolicy) -> RequestRecord:
    if attempt == 1 and record.ok:
        return record
    request_id = record.request_id if attempt == 1 else f"{record.request_id}-a{attempt}"
    message = record.error_message
    if not record.ok:
        message = f"attempt {attempt}/{policy.max_attempts}: {message}"
    return dataclasses.replace(record, request_id=request_id, error_message=message)


def upload_with_retry(
    s3: Any,
    bucket: str,
    job: UploadJob,
    *,
    policy: RetryPolicy,
    stop: threading.Event,
    on_record: Callable[[RequestRecord, int], None],
    rng: random.Random | None = None,
    **labels: str,
) -> RequestRecord:
    """Upload `job`, retrying per `policy`; `on_record(record, attempt)` sees every attempt. Returns the last.

    `stop` cuts the backoff short: no new attempt starts once it is set (the slot stays not-ok, so a
    resumed replay uploads it).
    """
    rng = rng or random.Random()
    attempt = 0
    while True:
        attempt += 1
        record = attempt_record(upload(s3, bucket, job, **labels), attempt, policy)
        on_record(record, attempt)
        if record.ok or record.error_kind not in RETRYABLE_KINDS or attempt >= policy.max_attempts:
            return record
        if stop.wait(policy.delay_s(attempt, rng)):
            return record
