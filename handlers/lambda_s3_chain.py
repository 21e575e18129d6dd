"""AWS Lambda handler for S3 put events that chains two functions (architecture 6 of the serving-architectures
study: S3 upload -> this function encodes the image -> a second function infers -> result to S3).

For each record: GET the object, base64-encode it into the API's JSON body inside an API-Gateway-shaped
(HTTP API 2.0) event, and invoke `CHAIN_FUNCTION` synchronously through the Lambda API (boto3's `lambda`
client: on the local cloud `AWS_ENDPOINT_URL_LAMBDA` points it at the platform; on AWS the region's own);
the second function is an ordinary `handlers.lambda_api.handler`. The result object, the hops (`hop`
`function`, with `encode_ms`, `elapsed_ms` and the second function's own timings) and the errors are those
of `handlers.lambda_s3_forward` (which this module shares): a failed invoke, a function error or an error
answer of the second function is an error of hop `function`, never an exception.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from handlers.lambda_s3_forward import Hop, HopFailed, elapsed, hop_from_answer, image_json, run_event

CHAIN_READ_TIMEOUT_S = 120.0  # above the second function's own timeout: its "Task timed out" answer comes first


@lru_cache(maxsize=1)
def lambda_client() -> Any:
    import boto3
    from botocore.config import Config

    config = Config(read_timeout=CHAIN_READ_TIMEOUT_S, connect_timeout=5, retries={"total_max_attempts": 1})
    return boto3.client("lambda", config=config)


def api_event(body: bytes) -> dict[str, Any]:
    """An HTTP API (payload 2.0) proxy event: POST /predict with the JSON body."""
    request_id = str(uuid.uuid4())
    return {
        "version": "2.0",
        "routeKey": "POST /predict",
        "rawPath": "/predict",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": "/predict"}, "requestId": request_id},
        "body": body.decode("ascii"),
        "isBase64Encoded": False,
    }


def invoke_next(image: bytes, timeout_s: float) -> tuple[Hop, dict[str, Any]]:
    """Encode the image and invoke CHAIN_FUNCTION; (hop, its prediction answer) or HopFailed."""
    function = os.environ.get("CHAIN_FUNCTION", "")
    hop: Hop = {"hop": "function", "target": function, "ok": False, "status_code": None}
    if not function:
        raise HopFailed(hop, "function_error", "CHAIN_FUNCTION is not set: no function to invoke")
    encode_start_s = time.perf_counter()
    payload = json.dumps(api_event(image_json(image))).encode("utf-8")
    hop.update(encode_ms=round((time.perf_counter() - encode_start_s) * 1000.0, 3), request_bytes=len(payload))
    start_s = time.perf_counter()
    try:
        response = lambda_client().invoke(FunctionName=function, InvocationType="RequestResponse", Payload=payload)
        raw = response["Payload"].read()
    except (ClientError, BotoCoreError) as exc:
        raise HopFailed(elapsed(hop, start_s), _invoke_error_kind(exc), f"{type(exc).__name__}: {exc}") from exc
    hop = elapsed(hop, start_s)
    hop["function_request_id"] = response.get("ResponseMetadata", {}).get("RequestId")
    try:
        answer = json.loads(raw)
    except ValueError as exc:
        raise HopFailed(hop, "bad_response", f"the invoke answer is not JSON: {raw[:200]!r}") from exc
    if response.get("FunctionError"):
        message = answer.get("errorMessage", "") if isinstance(answer, dict) else str(answer)
        error_type = answer.get("errorType", "") if isinstance(answer, dict) else ""
        raise HopFailed({**hop, "status_code": 502}, "function_error", f"{error_type}: {message}")
    return _api_answer(hop, answer)


def _api_answer(hop: Hop, answer: Any) -> tuple[Hop, dict[str, Any]]:
    """The second function's proxy response {statusCode, body} -> (hop, the prediction) or HopFailed."""
    if not isinstance(answer, dict) or "statusCode" not in answer:
        raise HopFailed(hop, "bad_response", f"not an API Gateway proxy response: {str(answer)[:200]}")
    status = int(answer["statusCode"])
    try:
        body = json.loads(answer.get("body") or "null")
    except ValueError as exc:
        raise HopFailed({**hop, "status_code": status}, "bad_response", f"body not JSON: {exc}") from exc
    return hop_from_answer(hop, status, body)


def _invoke_error_kind(exc: Exception) -> str:
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError):
        return "timeout"
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        return "throttled" if code == "TooManyRequestsException" else "function_error"
    return "connection"


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point: S3 event notifications -> CHAIN_FUNCTION -> result objects."""
    return run_event(event, context, invoke_next)
