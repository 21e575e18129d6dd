"""The local S3 trigger path against a real moto server subprocess: S3 PUT -> SQS -> bridge -> deliver."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from labkit.errors import InputError
from localcloud.s3 import (
    MotoS3Server,
    NotificationBridge,
    TriggerSetup,
    parse_s3_message,
    setup_trigger,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3Server]:
    with MotoS3Server(log_path=tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


def _names() -> tuple[str, str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"in-{suffix}", f"out-{suffix}", f"q-{suffix}"


def _trigger(moto: MotoS3Server, **kwargs: Any) -> TriggerSetup:
    return setup_trigger(moto.endpoint_url, *_names(), **kwargs)


def _wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert predicate(), "condition not met in time"


def _queue_depth(moto: MotoS3Server, queue_url: str) -> int:
    attrs = moto.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


class Recorder:
    """A deliver() that records events and fails the first `fail_times` calls."""

    def __init__(self, fail_times: int = 0) -> None:
        self.events: list[dict[str, Any]] = []
        self.calls = 0
        self.fail_times = fail_times
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.calls += 1
            if self.calls <= self.fail_times:
                raise ConnectionError(f"function busy (call {self.calls})")
            self.events.append(event)


def test_upload_delivers_exactly_one_event(moto: MotoS3Server) -> None:
    trigger = _trigger(moto)
    recorder = Recorder()
    s3 = moto.client("s3")
    with NotificationBridge.for_endpoint(moto.endpoint_url, trigger.queue_url, recorder) as bridge:
        put = s3.put_object(Bucket=trigger.input_bucket, Key="images/cat-001.jpg", Body=b"\xff\xd8 jpeg bytes")
        _wait_until(lambda: bridge.stats().delivered == 1)
        _wait_until(lambda: _queue_depth(moto, trigger.queue_url) == 0)
    stats = bridge.stats()
    assert (stats.delivered, stats.duplicates, stats.failures, stats.skipped) == (1, 0, 0, 1)  # + s3:TestEvent
    [event] = recorder.events
    [record] = event["Records"]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == trigger.input_bucket
    assert record["s3"]["object"]["key"] == "images%2Fcat-001.jpg"  # URL-encoded, as AWS sends it
    assert unquote_plus(record["s3"]["object"]["key"]) == "images/cat-001.jpg"
    assert record["s3"]["object"]["eTag"] == put["ETag"].strip('"')


def _take_s3_event_body(moto: MotoS3Server, queue_url: str) -> str:
    """Receive (without deleting) the S3 event message, deleting the s3:TestEvent on the way."""
    sqs = moto.client("sqs")
    for _ in range(10):
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            if parse_s3_message(message["Body"]) is None:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                continue
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
            return str(message["Body"])
    raise AssertionError("no S3 event message arrived")


def test_redelivered_message_is_delivered_once(moto: MotoS3Server) -> None:
    trigger = _trigger(moto)
    moto.client("s3").put_object(Bucket=trigger.input_bucket, Key="dup.jpg", Body=b"abc")
    body = _take_s3_event_body(moto, trigger.queue_url)
    moto.client("sqs").send_message(QueueUrl=trigger.queue_url, MessageBody=body)  # the redelivery
    recorder = Recorder()
    with NotificationBridge.for_endpoint(moto.endpoint_url, trigger.queue_url, recorder) as bridge:
        _wait_until(lambda: bridge.stats().received == 2)
        _wait_until(lambda: _queue_depth(moto, trigger.queue_url) == 0)
    stats = bridge.stats()
    assert (stats.delivered, stats.duplicates, stats.failures) == (1, 1, 0)
    assert len(recorder.events) == 1
    assert recorder.events[0]["Records"][0]["s3"]["object"]["key"] == "dup.jpg"


def test_failing_deliver_is_retried_then_delivered_once(moto: MotoS3Server) -> None:
    trigger = _trigger(moto)
    recorder = Recorder(fail_times=2)
    with NotificationBridge.for_endpoint(
        moto.endpoint_url, trigger.queue_url, recorder, max_attempts=3, backoff_base_s=0.01
    ) as bridge:
        moto.client("s3").put_object(Bucket=trigger.input_bucket, Key="flaky.jpg", Body=b"abc")
        _wait_until(lambda: bridge.stats().delivered == 1)
        _wait_until(lambda: _queue_depth(moto, trigger.queue_url) == 0)
    stats = bridge.stats()
    assert (stats.delivered, stats.retries, stats.failures, recorder.calls) == (1, 2, 0, 3)
    assert len(recorder.events) == 1


def test_exhausted_retries_are_recorded_and_end_in_the_dead_letter_queue(moto: MotoS3Server) -> None:
    trigger = _trigger(moto, visibility_timeout_s=1, max_receive_count=1)
    recorder = Recorder(fail_times=10**6)
    with NotificationBridge.for_endpoint(
        moto.endpoint_url, trigger.queue_url, recorder, max_attempts=2, backoff_base_s=0.01
    ) as bridge:
        moto.client("s3").put_object(Bucket=trigger.input_bucket, Key="doomed.jpg", Body=b"abc")
        _wait_until(lambda: bridge.stats().failures == 1)
        _wait_until(lambda: _queue_depth(moto, trigger.dlq_url) == 1)  # after the visibility timeout
    [failed] = bridge.failed_deliveries()
    assert failed.attempts == 2 and "function busy" in failed.error
    assert failed.event["Records"][0]["s3"]["object"]["key"] == "doomed.jpg"
    assert bridge.stats().delivered == 0 and recorder.events == []


def test_stop_is_bounded_and_abandons_pending_retries(moto: MotoS3Server) -> None:
    trigger = _trigger(moto)
    recorder = Recorder(fail_times=10**6)
    bridge = NotificationBridge.for_endpoint(
        moto.endpoint_url, trigger.queue_url, recorder, max_attempts=5, backoff_base_s=30.0
    ).start()
    moto.client("s3").put_object(Bucket=trigger.input_bucket, Key="slow.jpg", Body=b"abc")
    _wait_until(lambda: bridge.stats().retries == 1)  # now sleeping 30 s before the next attempt
    started = time.monotonic()
    bridge.stop(timeout_s=5.0)
    assert time.monotonic() - started < 3.0  # one long-poll (1 s) at most
    assert bridge.stats().abandoned == 1
    assert _queue_depth(moto, trigger.queue_url) == 1  # the event is not lost


def test_malformed_message_is_counted_and_kept(moto: MotoS3Server) -> None:
    trigger = _trigger(moto)
    moto.client("sqs").send_message(QueueUrl=trigger.queue_url, MessageBody="not json")
    with NotificationBridge.for_endpoint(moto.endpoint_url, trigger.queue_url, Recorder()) as bridge:
        _wait_until(lambda: bridge.stats().malformed == 1)
    assert _queue_depth(moto, trigger.queue_url) == 1


def test_setup_trigger_is_idempotent(moto: MotoS3Server) -> None:
    names = _names()
    first = setup_trigger(moto.endpoint_url, *names)
    second = setup_trigger(moto.endpoint_url, *names)
    assert first == second
    config = moto.client("s3").get_bucket_notification_configuration(Bucket=names[0])
    assert [c["QueueArn"] for c in config["QueueConfigurations"]] == [first.queue_arn]


def test_parse_s3_message_shapes() -> None:
    record = {"s3": {"bucket": {"name": "b"}, "object": {"key": "k", "eTag": "e"}}}
    assert parse_s3_message(json.dumps({"Records": [record]})) == [record]
    sns = {"Type": "Notification", "Message": json.dumps({"Records": [record]})}
    assert parse_s3_message(json.dumps(sns)) == [record]
    assert parse_s3_message(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})) is None
    for bad in ("nope", "[]", json.dumps({"Records": []}), json.dumps({"Records": [{"s3": {}}]})):
        with pytest.raises(InputError):
            parse_s3_message(bad)


def test_moto_server_stops_cleanly(tmp_path: Path) -> None:
    server = MotoS3Server(log_path=tmp_path / "moto.log").start()
    process = server.process
    server.stop()
    assert process.surviving_pids() == []
