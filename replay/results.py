"""Collecting the S3-triggered function's result objects and joining them with the uploads.

Each successful upload becomes one `s3-infer` record: its latency runs from the upload's intended send time
to the function's completion (end to end), with the function's own cold-start flag and timings.
An upload whose result never arrived is a `missing_result` record: reported, not dropped.
A chained pipeline's result (handlers.lambda_s3_forward / lambda_s3_chain) still gives one record per upload,
with `hops` (downstream calls) and `upstream_ms` (time in them), and a failed hop named in `error_message`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable
from typing import Any

from labkit.records import RequestRecord

RESULT_PREFIX = "results/"


def result_key(input_key: str) -> str:
    return f"{RESULT_PREFIX}{input_key}.json"


def fetch_results(s3: Any, bucket: str, input_keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The result documents that exist now for `input_keys` (key -> parsed JSON)."""
    wanted = {result_key(k): k for k in input_keys}
    found: dict[str, dict[str, Any]] = {}
    paginator = s3.get_paginator("list_objects_v2")
    prefixes = {k.rsplit("/", 1)[0] + "/" if "/" in k else "" for k in wanted}
    for prefix in prefixes:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"] in wanted and wanted[item["Key"]] not in found:
                    body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                    found[wanted[item["Key"]]] = json.loads(body)
    return found


def wait_for_results(
    s3: Any, bucket: str, input_keys: list[str], timeout_s: float, poll_s: float = 0.5
) -> dict[str, dict[str, Any]]:
    """Poll until every key has a result or `timeout_s` passes; returns what arrived."""
    deadline = time.monotonic() + timeout_s
    found: dict[str, dict[str, Any]] = {}
    while True:
        missing = [k for k in input_keys if k not in found]
        if not missing:
            return found
        found.update(fetch_results(s3, bucket, missing))
        if time.monotonic() >= deadline or len(found) == len(input_keys):
            return found
        time.sleep(poll_s)


def join_results(uploads: list[RequestRecord], results: dict[str, dict[str, Any]]) -> list[RequestRecord]:
    """One `s3-infer` record per successful upload (a `missing_result` record where none arrived)."""
    out = []
    for up in uploads:
        if not up.ok:
            continue
        base = {
            "run_id": up.run_id,
            "request_id": up.request_id,
            "source": "s3-result",
            "scenario": up.scenario,
            "target": up.target,
            "operation": "s3-infer",
            "object_key": up.object_key,
            "request_bytes": up.request_bytes,
        }
        doc = results.get(up.object_key)
        if doc is None:
            out.append(
                RequestRecord(
                    **base,
                    intended_send_unix_s=up.intended_send_unix_s,
                    ok=False,
                    error_kind="missing_result",
                    error_message="no result object arrived",
                )
            )
            continue
        out.append(_joined(base, up, doc))
    return out


def _joined(base: dict[str, Any], up: RequestRecord, doc: dict[str, Any]) -> RequestRecord:
    error = doc.get("error")
    record = RequestRecord.timed(
        intended_send_unix_s=up.intended_send_unix_s or 0.0,
        actual_send_unix_s=up.actual_send_unix_s or 0.0,
        completion_unix_s=float(doc.get("completed_unix_s") or 0.0),
        ok=not error,
        error_kind="function_error" if error else "",
        error_message=error_message(error),
        response_bytes=len(json.dumps(doc)),
        **base,
    )
    return hop_fields(record.with_function_fields(doc), doc)


def error_message(error: Any) -> str:
    """`kind: message`, prefixed `<hop> hop: ` when a chained pipeline's downstream call failed."""
    if not isinstance(error, dict):
        return ""
    hop = f"{error['hop']} hop: " if error.get("hop") else ""
    return f"{hop}{error.get('kind', '')}: {error.get('message', '')}"


def hop_fields(record: RequestRecord, doc: dict[str, Any]) -> RequestRecord:
    """A chained pipeline's result (a `hops` list): the hop count and the time spent downstream."""
    hops = doc.get("hops")
    if not isinstance(hops, list):
        return record
    upstream = doc.get("upstream_ms")
    return dataclasses.replace(
        record, hops=len(hops), upstream_ms=float(upstream) if isinstance(upstream, int | float) else None
    )
