"""One S3 upload as a request record (errors are data: a failed PUT is a record, never an exception)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from labkit.records import RequestRecord


@dataclass(frozen=True)
class UploadJob:
    index: int  # position in the schedule
    key: str  # deterministic per run and index, so a resumed run neither repeats nor skips
    data: bytes
    content_type: str
    intended_send_unix_s: float


def object_key(run_id: str, index: int, image_name: str) -> str:
    return f"uploads/{run_id}/{index:08d}-{image_name}"


def client_error_kind(status_code: int | None) -> str:
    """The record's error_kind for an HTTP error answer (503 SlowDown and 429 are throttling)."""
    if status_code in (429, 503):
        return "throttled"
    return "http_4xx" if (status_code or 0) < 500 else "http_5xx"


def upload(s3: Any, bucket: str, job: UploadJob, *, run_id: str, scenario: str, target: str) -> RequestRecord:
    """PUT one object and describe it as a record with operation `s3-put`."""
    actual_unix_s = time.time()
    status_code: int | None = None
    error_kind = error_message = ""
    try:
        response = s3.put_object(Bucket=bucket, Key=job.key, Body=job.data, ContentType=job.content_type)
        status_code = int(response["ResponseMetadata"]["HTTPStatusCode"])
    except ClientError as exc:
        meta = exc.response.get("ResponseMetadata", {})
        status_code = meta.get("HTTPStatusCode")
        error_kind, error_message = client_error_kind(status_code), str(exc)
    except (ConnectTimeoutError, ReadTimeoutError) as exc:
        error_kind, error_message = "timeout", str(exc)
    except BotoCoreError as exc:
        error_kind, error_message = "connection", str(exc)
    return RequestRecord.timed(
        intended_send_unix_s=job.intended_send_unix_s,
        actual_send_unix_s=actual_unix_s,
        completion_unix_s=time.time(),
        run_id=run_id,
        request_id=f"{run_id}-{job.index:08d}",
        source="replay",
        scenario=scenario,
        target=target,
        operation="s3-put",
        ok=not error_kind,
        status_code=status_code,
        error_kind=error_kind,
        error_message=error_message,
        request_bytes=len(job.data),
        object_key=job.key,
    )
