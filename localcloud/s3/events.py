"""S3 event notification bodies: parse them, identify an event across redeliveries, re-wrap it."""

from __future__ import annotations

import copy
import json
from collections.abc import Hashable
from typing import Any

from labkit.errors import InputError


def parse_s3_message(body: str) -> list[dict[str, Any]] | None:
    """The records of an S3 event notification body; None for an s3:TestEvent.

    Accepts the body S3 sends to SQS directly and the same wrapped in an SNS notification.
    Raises InputError when the body is not an S3 event notification.
    """
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and doc.get("Type") == "Notification" and "Message" in doc:
            doc = json.loads(doc["Message"])
    except (json.JSONDecodeError, TypeError) as exc:
        raise InputError(f"SQS message body is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InputError(f"SQS message body is not a JSON object: {body[:200]!r}")
    if doc.get("Event") == "s3:TestEvent":
        return None
    records = doc.get("Records")
    if not isinstance(records, list) or not records:
        raise InputError(f"SQS message body has no S3 'Records' list: {body[:200]!r}")
    for record in records:
        try:
            _ = (record["s3"]["bucket"]["name"], record["s3"]["object"]["key"])
        except (KeyError, TypeError) as exc:
            raise InputError(f"S3 event record lacks s3.bucket.name or s3.object.key: {record!r}") from exc
    return records


def dedupe_key(record: dict[str, Any]) -> tuple[Hashable, ...]:
    """What identifies one S3 event across redeliveries of its notification."""
    bucket = record["s3"]["bucket"]["name"]
    obj = record["s3"]["object"]
    if obj.get("sequencer"):
        return (bucket, obj["key"], "sequencer", obj["sequencer"])
    return (bucket, obj["key"], obj.get("eTag", ""), record.get("eventTime", ""))


def one_record_event(record: dict[str, Any]) -> dict[str, Any]:
    """An S3 put event holding only `record`, as Lambda receives it."""
    return {"Records": [copy.deepcopy(record)]}
