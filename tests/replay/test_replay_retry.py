"""Uploads that fail are retried with backoff and every attempt is recorded (a real loopback S3 that fails)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_s3 import FakeS3, Plan

from labkit.records import RequestRecord, iter_records
from replay.__main__ import main
from replay.retry import RetryPolicy, upload_with_retry
from replay.targets import local_client
from replay.uploads import UploadJob

pytestmark = pytest.mark.timeout(60)
FAST = RetryPolicy(max_attempts=4, base_delay_s=0.05, max_delay_s=0.2)


def _upload(server: FakeS3, policy: RetryPolicy = FAST) -> tuple[RequestRecord, list[tuple[RequestRecord, int]]]:
    seen: list[tuple[RequestRecord, int]] = []
    job = UploadJob(3, "up/0003.jpg", b"jpeg", "image/jpeg", intended_send_unix_s=time.time())
    last = upload_with_retry(local_client(server.url, 2), "b", job, policy=policy, stop=threading.Event(),
                             on_record=lambda r, a: seen.append((r, a)), run_id="r", scenario="s",
                             target="local-s3")  # fmt: skip
    return last, seen


def test_throttled_then_ok_records_every_attempt(fake_s3: Callable[[Plan | None], FakeS3]) -> None:
    server = fake_s3(lambda key, attempt: (0.0, 503 if attempt <= 2 else 200))
    last, seen = _upload(server)
    assert [a for _, a in seen] == [1, 2, 3]
    assert [(r.ok, r.error_kind, r.status_code) for r, _ in seen] == [
        (False, "throttled", 503), (False, "throttled", 503), (True, "", 200)]  # fmt: skip
    assert [r.request_id for r, _ in seen] == ["r-00000003", "r-00000003-a2", "r-00000003-a3"]
    assert seen[0][0].error_message.startswith("attempt 1/4: ")
    assert last is seen[-1][0] and last.ok
    sends = [r.actual_send_unix_s for r, _ in seen]
    assert sends == sorted(sends) and len(server.seen) == 3
    assert last.latency_ms >= last.service_latency_ms  # includes the failed attempts and the backoff


def test_persistent_5xx_stops_after_max_attempts(fake_s3: Callable[[Plan | None], FakeS3]) -> None:
    server = fake_s3(lambda key, attempt: (0.0, 500))
    last, seen = _upload(server, RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05))
    assert [(r.ok, r.error_kind) for r, _ in seen] == [(False, "http_5xx")] * 3
    assert not last.ok and last.error_message.startswith("attempt 3/3: ")


def test_access_denied_is_not_retried(fake_s3: Callable[[Plan | None], FakeS3]) -> None:
    server = fake_s3(lambda key, attempt: (0.0, 403))
    last, seen = _upload(server)
    assert len(seen) == 1 and last.error_kind == "http_4xx" and len(server.seen) == 1


def test_connection_refused_is_retried_and_recorded() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    seen: list[tuple[RequestRecord, int]] = []
    job = UploadJob(0, "up/0000.jpg", b"jpeg", "image/jpeg", intended_send_unix_s=0.0)
    last = upload_with_retry(local_client(f"http://127.0.0.1:{port}", 2), "b", job,
                             policy=RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.02),
                             stop=threading.Event(), on_record=lambda r, a: seen.append((r, a)), run_id="r",
                             scenario="s", target="local-s3")  # fmt: skip
    assert [(r.error_kind, a) for r, a in seen] == [("connection", 1), ("connection", 2)] and not last.ok


def test_replay_cli_retries_each_failed_upload_and_ends_with_all_ok(
    fake_s3: Callable[[Plan | None], FakeS3], tmp_path: Path, flat_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = fake_s3(lambda key, attempt: (0.0, 503 if attempt == 1 else 200))
    args = ["--s3-endpoint", server.url, "--bucket", "in", "--speedup", "240", "--peak-rps", "10"]
    args += ["--process", "uniform", "--window", "all", "--runs", str(tmp_path / "runs"), "--no-report"]
    code = main([str(flat_trace), *args])
    assert code == 0, capsys.readouterr().err
    [run_dir] = (tmp_path / "runs").iterdir()
    records = list(iter_records(run_dir / "records" / "replay.csv"))
    keys = sorted({r.object_key for r in records})
    assert len(keys) == 25  # 10 one-minute bins at 10/s, 240x faster: 0.25 s x 10/s each
    for key in keys:
        attempts = [r for r in records if r.object_key == key]
        assert [(r.ok, r.error_kind) for r in attempts] == [(False, "throttled"), (True, "")]
    assert sorted(server.ok_keys()) == keys
    assert "25 of 25 ok" in capsys.readouterr().out
