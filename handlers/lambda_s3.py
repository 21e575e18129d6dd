"""AWS Lambda handler for S3 put events: infer on each new object, write a JSON result object.

For each record: fetch the object, run the model, and write to OUTPUT_BUCKET (default
`<input-bucket>-results`) at `results/<input key>.json` the prediction dict plus
`input_bucket, input_key, input_etag, event_time, received_unix_s, completed_unix_s`.

- At-least-once delivery: if a result for the same key and ETag exists, the record is skipped
  and counted as a duplicate (the result object carries the input ETag as metadata).
- Errors are data: a bad image gives a result object with `error` and `status_code`, not a retry.
- Objects under `results/` in a bucket that is also the output bucket are ignored (no loops).
The S3 client honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 (a local S3 such as moto server).
"""

from __future__ import annotations

import json
import os
import time
from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.adapter import Adapter, lambda_memory_mb
from handlers.errors import BadInput, HandlerError, NotFound, PayloadTooLarge, internal_error_body
from handlers.events import BadRecord, S3Record

ADAPTER = Adapter("lambda")
RESULT_PREFIX = "results/"
MAX_OBJECT_BYTES = 20 * 1024 * 1024
ETAG_METADATA_KEY = "input-etag"


@lru_cache(maxsize=1)
def s3_client() -> Any:
    import boto3

    return boto3.client("s3")


def output_bucket_for(input_bucket: str) -> str:
    return os.environ.get("OUTPUT_BUCKET") or f"{input_bucket}-results"


def result_key_for(input_key: str) -> str:
    return f"{RESULT_PREFIX}{input_key}.json"


def _client_error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def existing_result_etag(bucket: str, key: str) -> str | None:
    """The input ETag recorded on an existing result object, or None if there is none."""
    try:
        head = s3_client().head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _client_error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return head.get("Metadata", {}).get(ETAG_METADATA_KEY)


def fetch_object(record: S3Record) -> tuple[bytes, str]:
    """(object bytes, ETag); NotFound if it is gone, PayloadTooLarge over MAX_OBJECT_BYTES."""
    try:
        obj = s3_client().get_object(Bucket=record.bucket, Key=record.key)
    except ClientError as exc:
        if _client_error_code(exc) in ("NoSuchKey", "404", "NotFound"):
            raise NotFound("input_missing", f"s3://{record.bucket}/{record.key} no longer exists") from exc
        raise
    size_bytes = int(obj.get("ContentLength", 0))
    if size_bytes > MAX_OBJECT_BYTES:
        obj["Body"].close()
        raise PayloadTooLarge("payload_too_large", f"the object is {size_bytes} bytes; limit {MAX_OBJECT_BYTES}")
    return obj["Body"].read(), str(obj.get("ETag", "")).strip('"')


def _infer(record: S3Record, context: Any, start_s: float, cold_start: bool) -> tuple[dict[str, Any], str]:
    """(result body, input etag): a prediction dict, or an error body with status_code."""
    etag = record.etag or ""
    try:
        data, etag = fetch_object(record)
        body = ADAPTER.predict(
            data,
            start_s=start_s,
            cold_start=cold_start,
            init_ms=ADAPTER.runtime.init_ms if cold_start else None,
            request_id=getattr(context, "aws_request_id", None),
            memory_mb=lambda_memory_mb(context),
        )
        return body, record.etag or etag
    except HandlerError as exc:
        body = {**exc.to_body(), "status_code": exc.status_code}
    except (ClientError, BotoCoreError):
        raise  # S3 itself failed: let Lambda's asynchronous retry handle it
    except Exception as exc:  # an internal failure is recorded as data too
        body = {**internal_error_body(exc), "status_code": 500}
    body.update(
        cold_start=cold_start,
        init_ms=ADAPTER.runtime.init_ms if cold_start else None,
        instance_id=ADAPTER.runtime.instance_id,
        function_request_id=getattr(context, "aws_request_id", None),
        handler_ms=round((time.perf_counter() - start_s) * 1000.0, 3),
    )
    return body, record.etag or etag


def process_record(record: S3Record, context: Any, cold_start: bool) -> dict[str, Any]:
    """Handle one record; returns its summary entry (status: done | error | duplicate | ignored)."""
    received_unix_s = time.time()
    start_s = time.perf_counter()
    out_bucket, out_key = output_bucket_for(record.bucket), result_key_for(record.key)
    entry = {"input_key": record.key, "output_bucket": out_bucket, "output_key": out_key}
    if out_bucket == record.bucket and record.key.startswith(RESULT_PREFIX):
        return {**entry, "status": "ignored"}
    if record.etag and existing_result_etag(out_bucket, out_key) == record.etag:
        return {**entry, "status": "duplicate"}
    body, etag = _infer(record, context, start_s, cold_start)
    body.update(
        input_bucket=record.bucket,
        input_key=record.key,
        input_etag=etag,
        event_time=record.event_time,
        received_unix_s=round(received_unix_s, 6),
        completed_unix_s=round(time.time(), 6),
    )
    write_result(out_bucket, out_key, body, etag)
    ADAPTER.log(getattr(context, "aws_request_id", None), body.get("status_code", 200), start_s, body, cold_start)
    return {**entry, "status": "error" if "error" in body else "done"}


def write_result(bucket: str, key: str, body: dict[str, Any], etag: str) -> None:
    s3_client().put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(body).encode("utf-8"),
        ContentType="application/json",
        Metadata={ETAG_METADATA_KEY: etag},
    )


def result_exists(bucket: str, key: str) -> bool:
    try:
        s3_client().head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _client_error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def bad_record_result(bad: BadRecord, context: Any, cold_start: bool) -> dict[str, Any]:
    """A record that cannot be read is answered, not retried: an error result object at its result key
    (when its bucket and key are readable and no result is there yet) and an error entry in the summary."""
    start_s, received_unix_s = time.perf_counter(), time.time()
    error = {**bad.error.to_body(), "status_code": bad.error.status_code, "record_index": bad.index}
    entry: dict[str, Any] = {"input_key": bad.key, "output_bucket": None, "output_key": None, "status": "error"}
    if bad.bucket and bad.key:
        out_bucket, out_key = output_bucket_for(bad.bucket), result_key_for(bad.key)
        entry.update(output_bucket=out_bucket, output_key=out_key)
        if out_bucket == bad.bucket and bad.key.startswith(RESULT_PREFIX):
            return {**entry, "status": "ignored"}
        if not result_exists(out_bucket, out_key):  # never overwrite a real result with a poison copy's error
            body = {
                **error,
                "cold_start": cold_start,
                "instance_id": ADAPTER.runtime.instance_id,
                "function_request_id": getattr(context, "aws_request_id", None),
                "input_bucket": bad.bucket,
                "input_key": bad.key,
                "input_etag": "",
                "event_time": "",
                "received_unix_s": round(received_unix_s, 6),
                "completed_unix_s": round(time.time(), 6),
            }
            write_result(out_bucket, out_key, body, "")
    ADAPTER.log(getattr(context, "aws_request_id", None), bad.error.status_code, start_s, error, cold_start)
    return {**entry, "error": error["error"]}


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point for S3 event notifications; returns a summary of what was done."""
    cold_start = ADAPTER.runtime.begin_invocation()
    try:
        records = S3Record.parse_event(event)
    except BadInput as exc:
        ADAPTER.log(
            getattr(context, "aws_request_id", None), exc.status_code, time.perf_counter(), exc.to_body(), cold_start
        )
        return {"records": 0, "done": 0, "errors": 0, "duplicates": 0, "ignored": 0, "results": [], **exc.to_body()}
    results = []
    for index, record in enumerate(records):
        first = cold_start and index == 0
        if isinstance(record, BadRecord):
            results.append(bad_record_result(record, context, first))
        else:
            results.append(process_record(record, context, first))
    counts = {
        status: sum(r["status"] == status for r in results) for status in ("done", "error", "duplicate", "ignored")
    }
    return {
        "records": len(results),
        "done": counts["done"],
        "errors": counts["error"],
        "duplicates": counts["duplicate"],
        "ignored": counts["ignored"],
        "results": results,
        "function_request_id": getattr(context, "aws_request_id", None),
    }
