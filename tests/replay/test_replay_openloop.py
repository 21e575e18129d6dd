"""Open loop against a real (tiny) loopback S3: a slow PUT delays nothing else; a busy pool sends late, never skips."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from fake_s3 import FakeS3, Plan

from labkit.records import RequestRecord
from replay.retry import RetryPolicy, upload_with_retry
from replay.scheduler import run_open_loop
from replay.targets import local_client
from replay.uploads import UploadJob

pytestmark = pytest.mark.timeout(60)
SLOW_S = 2.0


def _replay(server: FakeS3, count: int, rate_rps: float, workers: int) -> tuple[list[float], list[RequestRecord]]:
    """Upload `count` slots at `rate_rps` through the scheduler; (intended times, records)."""
    s3 = local_client(server.url, workers + 2)
    start = time.time() + 0.3
    intended = [start + i / rate_rps for i in range(count)]
    records: list[RequestRecord] = []
    lock = threading.Lock()

    def on_record(record: RequestRecord, attempt: int) -> None:
        with lock:
            records.append(record)

    def send(index: int, intended_unix_s: float) -> None:
        job = UploadJob(index, f"up/{index:04d}.jpg", b"x" * 100, "image/jpeg", intended_unix_s)
        upload_with_retry(s3, "bucket", job, policy=RetryPolicy(max_attempts=1), stop=threading.Event(),
                          on_record=on_record, run_id="r", scenario="s", target="local-s3")  # fmt: skip

    outcome = run_open_loop(list(range(count)), intended, send, workers)
    assert (outcome.sent, outcome.unsent, outcome.errors) == (count, 0, [])
    return intended, records


def _slow_first(key: str, attempt: int) -> tuple[float, int]:
    return (SLOW_S if key.endswith("0000.jpg") else 0.0), 200


@pytest.mark.parametrize("plan", [_slow_first])
def test_a_slow_put_does_not_delay_later_sends(fake_s3: Callable[[Plan | None], FakeS3], plan: Plan) -> None:
    server = fake_s3(plan)
    intended, records = _replay(server, count=15, rate_rps=10.0, workers=4)
    received = {seen.key: seen.received_unix_s for seen in server.seen}
    slow_answered = next(s.answered_unix_s for s in server.seen if s.key.endswith("0000.jpg"))
    # every later slot reached the server near its own intended time, while slot 0 was still being answered
    for index in range(1, 15):
        assert received[f"up/{index:04d}.jpg"] - intended[index] < 0.5 * SLOW_S
    assert sum(received[f"up/{i:04d}.jpg"] < slow_answered for i in range(1, 15)) >= 10
    by_key = {r.object_key: r for r in records}
    assert by_key["up/0000.jpg"].service_latency_ms >= SLOW_S * 1000 * 0.9
    assert max(r.send_lag_ms for r in records) < 0.5 * SLOW_S * 1000


def test_a_saturated_pool_sends_late_and_records_the_lag(fake_s3: Callable[[Plan | None], FakeS3]) -> None:
    server = fake_s3(lambda key, attempt: (0.3, 200))
    _, records = _replay(server, count=5, rate_rps=20.0, workers=1)
    assert sorted(r.object_key for r in records) == [f"up/{i:04d}.jpg" for i in range(5)]  # none skipped
    lags_ms = {r.object_key: r.send_lag_ms for r in records}
    # one worker, 0.3 s per PUT, a slot every 0.05 s: slot 4 cannot go before 4 x 0.3 s after slot 0
    assert lags_ms["up/0004.jpg"] >= (4 * 0.3 - 4 * 0.05) * 1000 * 0.9
    assert all(r.latency_ms >= r.service_latency_ms for r in records)  # latency counts from the intended time


def test_stop_ends_scheduling_promptly_and_leaves_the_rest_unsent() -> None:
    stop = threading.Event()
    sent: list[int] = []
    start = time.time() + 0.1
    intended = [start + i * 0.5 for i in range(20)]
    threading.Timer(0.8, stop.set).start()
    began = time.monotonic()
    outcome = run_open_loop(list(range(20)), intended, lambda i, t: sent.append(i), workers=4, stop=stop)
    assert time.monotonic() - began < 5.0
    assert 1 <= outcome.sent == len(sent) < 20
    assert sent == sorted(sent)
    assert outcome.stuck_workers == 0
