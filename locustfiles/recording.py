"""Turning one HTTP exchange into a request record (pure: no Locust, no I/O)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from labkit.records import FUNCTION_FIELDS, RequestRecord


def _flag(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(f"expected true or false, got {text!r}")
    return text == "true"


# headers the local platform adds with facts only it knows (API Gateway on AWS does not send them; there the
# REPORT lines give the same figures). `init_ms` and `max_memory_used_mb` are the platform's measures (REPORT
# Init Duration and Max Memory Used); the body's same-named keys are the handler's own and go to
# `handler_init_ms` / `handler_peak_rss_mb` (labkit.records.FUNCTION_FIELDS). Recorded on failures too.
PLATFORM_HEADERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "x-loadlab-duration-ms": ("duration_ms", float),
    "x-loadlab-billed-ms": ("billed_ms", int),
    "x-loadlab-request-id": ("function_request_id", str),
    "x-loadlab-cold-start": ("cold_start", _flag),
    "x-loadlab-init-ms": ("init_ms", float),
    "x-loadlab-max-memory-mb": ("max_memory_used_mb", float),
    "x-loadlab-memory-mb": ("memory_mb", int),
    "x-loadlab-instance-id": ("instance_id", str),
}


@dataclass(slots=True)
class Exchange:
    """What the client saw of one request."""

    request_id: str
    intended_send_unix_s: float
    actual_send_unix_s: float
    completion_unix_s: float
    status_code: int  # 0 when no HTTP response arrived
    body: bytes
    headers: Mapping[str, str]  # as the client gave them (not copied): see _platform_fields
    request_bytes: int
    transport_error: str = ""  # connection reset, timeout...


def error_kind(status_code: int, transport_error: str) -> str:
    if transport_error:
        return "timeout" if "timeout" in transport_error.lower() else "connection"
    if status_code == 429:
        return "throttled"
    if 400 <= status_code < 500:
        return "http_4xx"
    if status_code >= 500:
        return "http_5xx"
    return ""


def _parse_body(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _error_message(parsed: dict[str, Any] | None, body: bytes, transport_error: str) -> str:
    if transport_error:
        return transport_error
    if parsed:
        err = parsed.get("error") or parsed.get("message") or parsed.get("errorMessage")
        if isinstance(err, dict):
            return f"{err.get('kind', '')}: {err.get('message', '')}".strip(": ")
        if err:
            return str(err)
    return body[:200].decode("utf-8", "replace")


def _platform_fields(headers: Mapping[str, str]) -> dict[str, Any]:
    """The platform headers present. A plain dict is matched case-insensitively by lowering its keys (the
    dispatcher's holds only the `x-loadlab-*` headers); any other mapping must look names up case-insensitively
    itself, as HTTP libraries' header types do (a value, or a list for a repeated header: the last one)."""
    get = {k.lower(): v for k, v in headers.items()}.get if type(headers) is dict else headers.get
    out: dict[str, Any] = {}
    for header, (field, cast) in PLATFORM_HEADERS.items():
        value = get(header)
        if isinstance(value, list):
            value = value[-1] if value else None
        if value:
            try:
                out[field] = cast(str(value))
            except ValueError:
                continue
    return out


def exchange_to_record(exchange: Exchange, **identity: str) -> RequestRecord:
    """A record for `exchange`; `identity` gives run_id, source, scenario, target, worker.

    The body is parsed once (a 2xx must be a JSON object, else "bad_response"; the function-side fields and
    error messages come from it) and the record built once: body fields win over platform headers."""
    parsed = _parse_body(exchange.body)
    kind = error_kind(exchange.status_code, exchange.transport_error)
    if not kind and parsed is None:
        kind = "bad_response"
    fields = _platform_fields(exchange.headers) if exchange.headers else {}
    if parsed and not kind:
        fields.update((name, parsed[key]) for key, name in FUNCTION_FIELDS.items() if parsed.get(key) is not None)
    intended_s, actual_s = exchange.intended_send_unix_s, exchange.actual_send_unix_s
    completion_s = exchange.completion_unix_s
    return RequestRecord(  # RequestRecord.timed's three durations, without its second pass over the arguments
        intended_send_unix_s=intended_s,
        actual_send_unix_s=actual_s,
        completion_unix_s=completion_s,
        latency_ms=(completion_s - intended_s) * 1000.0,
        service_latency_ms=(completion_s - actual_s) * 1000.0,
        send_lag_ms=(actual_s - intended_s) * 1000.0,
        request_id=exchange.request_id,
        operation="predict",
        ok=not kind,
        status_code=exchange.status_code or None,
        error_kind=kind,
        error_message=_error_message(parsed, exchange.body, exchange.transport_error) if kind else "",
        request_bytes=exchange.request_bytes,
        response_bytes=len(exchange.body),
        **fields,
        **identity,
    )


def unanswered_record(
    request_id: str,
    intended_send_unix_s: float,
    actual_send_unix_s: float | None,
    kind: str,
    message: str,
    **identity: str,
) -> RequestRecord:
    """A record for a request that got no answer: never sent ("dropped", `actual_send_unix_s` None) or
    abandoned in flight when the load generator stopped ("interrupted"). It has no latency."""
    lag_ms = None if actual_send_unix_s is None else (actual_send_unix_s - intended_send_unix_s) * 1000.0
    return RequestRecord(
        request_id=request_id,
        operation="predict",
        intended_send_unix_s=intended_send_unix_s,
        actual_send_unix_s=actual_send_unix_s,
        send_lag_ms=lag_ms,
        ok=False,
        error_kind=kind,
        error_message=message,
        **identity,
    )
