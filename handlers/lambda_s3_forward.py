"""AWS Lambda handler for S3 put events that forwards each image to an inference server (architectures 1-2
of the serving-architectures study: S3 upload -> function -> server, which infers; result -> S3).

For each record: GET the object, POST it to `SERVER_URL` + `/predict` (the API's body, JSON
`{"image": "<base64>"}`) and write `results/<key>.json` to OUTPUT_BUCKET (as handlers.lambda_s3 does):
the server's prediction (model, top-5, preprocess / inference ms), this function's own timings
(`handler_ms`, `cold_start`, `init_ms`, `instance_id`, `function_request_id`: its REPORT line), and the
hops: `hops` = one entry per downstream call (`hop`, `target`, `ok`, `status_code`, `elapsed_ms` as seen by
this function, the callee's own timings) and `upstream_ms` = their sum of `elapsed_ms`.

Errors are data: a failure of any hop (the S3 GET: hop `input`; the server: hop `server`) gives a result
object with `error` = {kind, message, hop}; no exception escapes for it, so the event is not retried.
Only a failed write of the result object itself raises (Lambda's async retry is then the one way to get it).
This module loads no model (its init is the import); `lambda_s3_chain` shares the pipeline below.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.errors import BadInput
from handlers.events import S3Record
from handlers.runtime import ProcessRuntime

RUNTIME = ProcessRuntime("lambda")
RUNTIME.mark_initialized()  # no model to load: init ends with the import
RESULT_PREFIX = "results/"
ETAG_METADATA_KEY = "input-etag"
MAX_OBJECT_BYTES = 20 * 1024 * 1024
DEFAULT_HOP_TIMEOUT_S = 30.0
# the answer's fields that describe the inference (made in the last hop), copied to the result's top level
PREDICTION_FIELDS = (
    "model_name", "weights", "model_source", "runtime", "top5", "image_width_px", "image_height_px",
    "input_bytes", "preprocess_ms", "inference_ms",
)  # fmt: skip
# the callee's own figures kept in its hop entry
CALLEE_FIELDS = ("handler_ms", "preprocess_ms", "inference_ms", "cold_start", "init_ms", "instance_id",
                 "function_request_id", "model_load_ms")  # fmt: skip

Hop = dict[str, Any]  # one downstream call: hop, target, ok, status_code, elapsed_ms, error?, callee fields
NextHop = Callable[[bytes, float], tuple[Hop, dict[str, Any] | None]]  # (image, timeout_s) -> (hop, answer)


class HopFailed(Exception):
    """A hop that gave no usable answer: `hop` names it, `kind` is the record's error kind."""

    def __init__(self, hop: Hop, kind: str, message: str) -> None:
        super().__init__(message)
        self.hop = {**hop, "ok": False, "error": {"kind": kind, "message": message[:1000]}}


@lru_cache(maxsize=1)
def s3_client() -> Any:
    import boto3

    return boto3.client("s3")


def image_json(image: bytes) -> bytes:
    """The API's request body for an image: JSON {"image": "<base64>"}."""
    return json.dumps({"image": base64.b64encode(image).decode("ascii")}).encode("utf-8")


def hop_from_answer(hop: Hop, status_code: int, answer: Any) -> tuple[Hop, dict[str, Any]]:
    """The hop entry for an HTTP-like answer; HopFailed for a non-2xx or an unreadable body."""
    hop = {**hop, "status_code": status_code}
    if not isinstance(answer, dict):
        raise HopFailed(hop, "bad_response", f"the answer is not a JSON object: {str(answer)[:200]}")
    hop.update({k: answer[k] for k in CALLEE_FIELDS if answer.get(k) is not None})
    error = answer.get("error")
    if not 200 <= status_code < 300 or error:
        detail = error if isinstance(error, dict) else {"kind": "", "message": str(error or "")}
        kind = "http_5xx" if status_code >= 500 else "http_4xx" if status_code >= 400 else "bad_response"
        raise HopFailed(hop, kind, f"{status_code} {detail.get('kind', '')}: {detail.get('message', '')}")
    return {**hop, "ok": True}, answer


def post_to_server(image: bytes, timeout_s: float) -> tuple[Hop, dict[str, Any]]:
    """POST the image to SERVER_URL/predict; (hop, the server's answer) or HopFailed."""
    url = os.environ.get("SERVER_URL", "").rstrip("/")
    hop: Hop = {"hop": "server", "target": f"{url}/predict", "ok": False, "status_code": None}
    if not url:
        raise HopFailed(hop, "connection", "SERVER_URL is not set: no server to forward to")
    request = urllib.request.Request(f"{url}/predict", data=image_json(image), method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    start_s = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except TimeoutError as exc:
        raise HopFailed(elapsed(hop, start_s), "timeout", f"no answer from {url} in {timeout_s:g} s") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise HopFailed(elapsed(hop, start_s), "connection", f"{url}: {getattr(exc, 'reason', exc)}") from exc
    hop = elapsed(hop, start_s)
    try:
        answer = json.loads(raw)
    except ValueError as exc:
        raise HopFailed({**hop, "status_code": status}, "bad_response", f"not JSON: {raw[:200]!r}") from exc
    return hop_from_answer(hop, status, answer)


def elapsed(hop: Hop, start_s: float) -> Hop:
    """`hop` with the time since `start_s` (perf_counter) as elapsed_ms."""
    return {**hop, "elapsed_ms": round((time.perf_counter() - start_s) * 1000.0, 3)}


def hop_timeout_s(context: Any) -> float:
    """What is left of the function's time (minus 1 s to write the result), else DEFAULT_HOP_TIMEOUT_S."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return max(1.0, remaining() / 1000.0 - 1.0) if callable(remaining) else DEFAULT_HOP_TIMEOUT_S


def fetch_image(record: S3Record) -> tuple[bytes, str]:
    """(object bytes, ETag) of the upload; HopFailed (hop `input`) when it cannot be read."""
    hop: Hop = {"hop": "input", "target": f"s3://{record.bucket}/{record.key}", "ok": False, "status_code": None}
    start_s = time.perf_counter()
    try:
        obj = s3_client().get_object(Bucket=record.bucket, Key=record.key)
        size_bytes = int(obj.get("ContentLength", 0))
        if size_bytes > MAX_OBJECT_BYTES:
            obj["Body"].close()
            message = f"the object is {size_bytes} bytes; limit {MAX_OBJECT_BYTES}"
            raise HopFailed(elapsed(hop, start_s), "payload_too_large", message)
        return obj["Body"].read(), str(obj.get("ETag", "")).strip('"')
    except (ClientError, BotoCoreError) as exc:
        raise HopFailed(elapsed(hop, start_s), "input_unreadable", f"{type(exc).__name__}: {exc}") from exc


def result_body(hops: list[Hop], answer: dict[str, Any] | None, failed: HopFailed | None) -> dict[str, Any]:
    """The result document's inference part: the last answer's prediction, or the failed hop's error."""
    body: dict[str, Any] = {"hops": hops, "upstream_ms": round(sum(h.get("elapsed_ms") or 0.0 for h in hops), 3)}
    if failed is not None:
        error = failed.hop["error"]
        body.update(error={**error, "hop": failed.hop["hop"]}, status_code=failed.hop.get("status_code") or 502)
    elif answer is not None:
        body.update({k: answer[k] for k in PREDICTION_FIELDS if k in answer})
    return body


def process_record(record: S3Record, context: Any, cold_start: bool, next_hop: NextHop) -> dict[str, Any]:
    """Fetch, call the next hop, write the result object; the summary entry (status done | error | ...)."""
    received_unix_s, start_s = time.time(), time.perf_counter()
    out_bucket = os.environ.get("OUTPUT_BUCKET") or f"{record.bucket}-results"
    out_key = f"{RESULT_PREFIX}{record.key}.json"
    entry = {"input_key": record.key, "output_bucket": out_bucket, "output_key": out_key}
    if out_bucket == record.bucket and record.key.startswith(RESULT_PREFIX):
        return {**entry, "status": "ignored"}
    if record.etag and _result_etag(out_bucket, out_key) == record.etag:  # a redelivered event
        return {**entry, "status": "duplicate"}
    hops: list[Hop] = []
    answer, failed, etag = None, None, record.etag or ""
    try:
        image, etag = fetch_image(record)
        hop, answer = next_hop(image, hop_timeout_s(context))
        hops.append(hop)
    except HopFailed as exc:
        failed = exc
        hops.append(exc.hop)
    body = result_body(hops, answer, failed)
    body.update(
        cold_start=cold_start, init_ms=RUNTIME.init_ms if cold_start else None, instance_id=RUNTIME.instance_id,
        function_request_id=getattr(context, "aws_request_id", None), memory_mb=_memory_mb(context),
        max_memory_used_mb=RUNTIME.max_memory_used_mb(), input_bucket=record.bucket, input_key=record.key,
        input_etag=record.etag or etag, event_time=record.event_time, received_unix_s=round(received_unix_s, 6),
        handler_ms=round((time.perf_counter() - start_s) * 1000.0, 3), completed_unix_s=round(time.time(), 6),
    )  # fmt: skip
    s3_client().put_object(
        Bucket=out_bucket,
        Key=out_key,
        Body=json.dumps(body).encode("utf-8"),
        ContentType="application/json",
        Metadata={ETAG_METADATA_KEY: body["input_etag"]},
    )
    _log(context, body, cold_start)
    return {**entry, "status": "error" if failed else "done"}


def _result_etag(bucket: str, key: str) -> str | None:
    """The input ETag recorded on an existing result object (None if there is none or S3 cannot say)."""
    try:
        return s3_client().head_object(Bucket=bucket, Key=key).get("Metadata", {}).get(ETAG_METADATA_KEY)
    except (ClientError, BotoCoreError):
        return None


def _memory_mb(context: Any) -> int | None:
    value = getattr(context, "memory_limit_in_mb", None) or os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    return int(value) if value else None


def _log(context: Any, body: dict[str, Any], cold_start: bool) -> None:
    error = body.get("error")
    RUNTIME.log_invocation({
        "request_id": getattr(context, "aws_request_id", None), "cold_start": cold_start,
        "handler_ms": body.get("handler_ms"), "upstream_ms": body.get("upstream_ms"),
        "hops": [h.get("hop") for h in body.get("hops", [])],
        "error_kind": error.get("kind") if isinstance(error, dict) else None,
        "error_hop": error.get("hop") if isinstance(error, dict) else None,
    })  # fmt: skip


def run_event(event: dict[str, Any], context: Any, next_hop: NextHop) -> dict[str, Any]:
    """Every S3 record of the event through `next_hop`; a summary (records, done, errors, results)."""
    cold_start = RUNTIME.begin_invocation()
    try:
        parsed = S3Record.parse_event(event)
    except BadInput as exc:
        return {"records": 0, "done": 0, "errors": 1, "results": [], **exc.to_body()}
    results = [
        process_record(r, context, cold_start and i == 0, next_hop)
        if isinstance(r, S3Record)
        else {"input_key": r.key, "status": "error", **r.error.to_body()}  # unreadable: no key to answer at
        for i, r in enumerate(parsed)
    ]
    return {
        "records": len(results),
        "done": sum(r["status"] == "done" for r in results),
        "errors": sum(r["status"] == "error" for r in results),
        "duplicates": sum(r["status"] == "duplicate" for r in results),
        "results": results,
        "function_request_id": getattr(context, "aws_request_id", None),
    }


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point: S3 event notifications -> the server -> result objects."""
    return run_event(event, context, post_to_server)
