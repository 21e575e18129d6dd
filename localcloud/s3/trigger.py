"""Wire an S3 bucket to an SQS queue with event notifications, as an S3 trigger needs.

Every object created in the input bucket makes S3 (moto or AWS) send an S3 event notification
message to the queue; `NotificationBridge` turns those messages into function invocations.
A dead-letter queue catches messages whose delivery kept failing (redrive policy).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from labkit.errors import TargetError
from localcloud.s3.moto_server import make_client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TriggerSetup:
    """What `setup_trigger` created (names and URLs the bridge and the tests need)."""

    input_bucket: str
    output_bucket: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str


def _ensure_bucket(s3: Any, bucket: str) -> None:
    """Create `bucket` unless it already exists and is ours (idempotent)."""
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise


def _ensure_queue(sqs: Any, name: str, attributes: dict[str, str]) -> tuple[str, str]:
    """Create (or find) queue `name`, apply `attributes`; returns (url, arn)."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    if attributes:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _allow_s3_to_send(queue_arn: str, bucket: str) -> str:
    """The queue policy real S3 needs to send to the queue (moto does not check it)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
                }
            ],
        }
    )


def setup_trigger(
    endpoint_url: str,
    input_bucket: str,
    output_bucket: str,
    queue_name: str,
    *,
    visibility_timeout_s: int = 30,
    max_receive_count: int = 3,
) -> TriggerSetup:
    """`setup_trigger_with_clients` against a local endpoint (moto) with dummy credentials."""
    return setup_trigger_with_clients(
        make_client("s3", endpoint_url),
        make_client("sqs", endpoint_url),
        input_bucket,
        output_bucket,
        queue_name,
        visibility_timeout_s=visibility_timeout_s,
        max_receive_count=max_receive_count,
    )


def setup_trigger_with_clients(
    s3: Any,
    sqs: Any,
    input_bucket: str,
    output_bucket: str,
    queue_name: str,
    *,
    visibility_timeout_s: int = 30,
    max_receive_count: int = 3,
) -> TriggerSetup:
    """Create the buckets, a queue plus its dead-letter queue, and the bucket notification.

    Idempotent: running it twice leaves one set of resources. `s3` and `sqs` are boto3 clients
    (local or real AWS). After `max_receive_count` receives without a delete, a
    message moves to the dead-letter queue `<queue_name>-dlq`.
    """
    try:
        for bucket in (input_bucket, output_bucket):
            _ensure_bucket(s3, bucket)
        dlq_url, dlq_arn = _ensure_queue(sqs, f"{queue_name}-dlq", {})
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
        queue_url, queue_arn = _ensure_queue(
            sqs, queue_name, {"VisibilityTimeout": str(visibility_timeout_s), "RedrivePolicy": redrive}
        )
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": _allow_s3_to_send(queue_arn, input_bucket)})
        s3.put_bucket_notification_configuration(
            Bucket=input_bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {"Id": f"{queue_name}-trigger", "QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )
    except (ClientError, BotoCoreError) as exc:
        raise TargetError(f"could not set up the S3 trigger {input_bucket} -> {queue_name}: {exc}") from exc
    log.info("S3 trigger ready: s3://%s -> %s (dead letters: %s)", input_bucket, queue_url, dlq_url)
    return TriggerSetup(input_bucket, output_bucket, queue_url, queue_arn, dlq_url, dlq_arn)
