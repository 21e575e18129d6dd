"""AWS Lambda handler behind API Gateway (REST API v1 and HTTP API v2 proxy integrations).

    POST  body: JSON {"image": "<base64>"} or the raw image (base64 body, isBase64Encoded true)
          -> 200 prediction dict | 400 / 413 / 415 / 500 {"error": {"kind", "message"}}
    GET   -> 200 {"status", "model_name", "weights", "model_source", "runtime"} (a cheap health/info call)
    OPTIONS -> 204 with CORS headers (preflight)

The model is loaded at import (the Lambda init phase); `init_ms` is reported on the cold
invocation only (warm invocations report null), as Lambda's REPORT line does.
"""

from __future__ import annotations

import time
from typing import Any

from handlers.adapter import Adapter, lambda_memory_mb
from handlers.errors import MethodNotAllowed
from handlers.events import ApiGatewayRequest
from handlers.http_io import (
    MAX_PAYLOAD_BYTES,
    check_payload_size,
    dumps,
    error_response,
    extract_image,
    response_headers,
)

ADAPTER = Adapter("lambda")


def _info_body() -> dict[str, Any]:
    service = ADAPTER.service()
    return {
        "status": "ok",
        "model_name": service.model_name,
        "weights": service.ref.weights,
        "model_source": service.ref.source,
        "runtime": service.runtime,
    }


def _dispatch(
    event: Any, context: Any, start_s: float, cold_start: bool
) -> tuple[int, dict[str, Any] | None, str | None]:
    """(status, body or None for 204, request id) for one event; never raises."""
    request_id: str | None = getattr(context, "aws_request_id", None)
    try:
        request = ApiGatewayRequest.from_event(event)
        request_id = request_id or request.request_id
        if request.method == "OPTIONS":
            return 204, None, request_id
        if request.method in ("GET", "HEAD"):
            return 200, _info_body(), request_id
        if request.method != "POST":
            raise MethodNotAllowed("method_not_allowed", f"{request.method} is not supported; use POST")
        check_payload_size(request.body_size_bytes, MAX_PAYLOAD_BYTES)
        image = extract_image(request.content_type, request.body_bytes(), MAX_PAYLOAD_BYTES)
        body = ADAPTER.predict(
            image,
            start_s=start_s,
            cold_start=cold_start,
            init_ms=ADAPTER.runtime.init_ms if cold_start else None,
            request_id=request_id,
            memory_mb=lambda_memory_mb(context),
        )
        return 200, body, request_id
    except Exception as exc:  # errors are data: every failure becomes a JSON error response
        status, error_body = error_response(exc)
        return status, error_body, request_id


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point. `context` is a Lambda context object, or None for local direct calls."""
    start_s = time.perf_counter()
    cold_start = ADAPTER.runtime.begin_invocation()
    status, body, request_id = _dispatch(event, context, start_s, cold_start)
    ADAPTER.log(request_id, status, start_s, body or {}, cold_start)
    return {
        "statusCode": status,
        "headers": response_headers(),
        "body": dumps(body) if body is not None else "",
        "isBase64Encoded": False,
    }
