"""API Gateway's Lambda proxy integration: routes, real-shaped events (REST v1.0 and HTTP API v2.0),
and the mapping of the function's `{statusCode, headers, body, isBase64Encoded}` back to HTTP.

Request bodies are passed as text when their content type is textual (text/*, JSON, XML, form,
JavaScript) and valid UTF-8, otherwise base64-encoded with `isBase64Encoded: true` (HTTP APIs do
this; for REST APIs it is what `binaryMediaTypes: */*`-style setups give). Error answers use API
Gateway's bodies: 413 too large, 429 throttled, 502 function error or malformed proxy response,
504 integration timeout (29 s by default).
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from labkit.errors import ConfigError

API_PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024  # API Gateway's maximum request payload (10 MB)
INTEGRATION_TIMEOUT_S = 29.0  # API Gateway's default integration timeout
API_ID = "loadlab01"
DOMAIN = f"{API_ID}.execute-api.us-east-1.amazonaws.com"
_TEXT_MARKERS = (
    "text/",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
    "+json",
    "+xml",
)
_PARAM_RE = re.compile(r"\{(\w+)(\+?)\}")
PAYLOAD_FORMATS = ("1.0", "2.0")


class BadProxyResponse(Exception):
    """The function's answer is not a valid proxy response (API Gateway answers 502)."""


def gateway_error(status_code: int, message: str) -> tuple[int, dict[str, str], bytes]:
    """API Gateway's own error answer: status, headers, {"message": ...} body."""
    headers = {"content-type": "application/json", "x-amzn-ErrorType": _ERROR_TYPES.get(status_code, "")}
    return status_code, headers, json.dumps({"message": message}).encode()


_ERROR_TYPES = {
    404: "NotFoundException",
    413: "RequestEntityTooLarge",
    429: "TooManyRequestsException",
    502: "InternalServerErrorException",
    504: "IntegrationTimeout",
}


def _path_regex(template: str) -> re.Pattern[str]:
    """`/items/{id}` -> one segment per {name}; `{name+}` (greedy, like {proxy+}) spans segments."""
    parts: list[str] = []
    last = 0
    for found in _PARAM_RE.finditer(template):
        parts.append(re.escape(template[last : found.start()]))
        segment = ".+" if found.group(2) else "[^/]+"
        parts.append(f"(?P<{found.group(1)}>{segment})")
        last = found.end()
    parts.append(re.escape(template[last:]))
    return re.compile("^" + "".join(parts) + "$")


@dataclass(frozen=True)
class ApiRoute:
    """One route: method (or ANY), path template (`/items/{id}`, `/{proxy+}`), function, payload format."""

    method: str
    path: str
    function_name: str
    payload_format: str = "2.0"
    stage: str = ""  # "" -> "$default" for 2.0, "prod" for 1.0
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.payload_format not in PAYLOAD_FORMATS:
            raise ConfigError(f"route {self.method} {self.path}: payload_format must be '1.0' or '2.0'")
        if not self.path.startswith("/"):
            raise ConfigError(f"route path {self.path!r} must start with '/'")
        object.__setattr__(self, "method", self.method.upper())
        object.__setattr__(self, "_regex", _path_regex(self.path))

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def stage_name(self) -> str:
        return self.stage or ("$default" if self.payload_format == "2.0" else "prod")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when `method path` is this route, else None."""
        if self.method not in ("ANY", method.upper()):
            return None
        found = self._regex.match(path)
        return None if found is None else found.groupdict()


@dataclass
class HttpRequest:
    """What the front received: method, path, raw query, headers (in order, repeats kept), body."""

    method: str
    path: str
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time_epoch_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def header(self, name: str, default: str = "") -> str:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default


def _encode_body(request: HttpRequest) -> tuple[str | None, bool]:
    """The event's body and isBase64Encoded: text as is, anything else base64."""
    if not request.body:
        return None, False
    content_type = request.header("content-type").lower()
    if any(marker in content_type for marker in _TEXT_MARKERS):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass  # declared textual but is not UTF-8: send it base64 like binary
    return base64.b64encode(request.body).decode("ascii"), True


def _request_time(request: HttpRequest) -> str:
    return datetime.fromtimestamp(request.time_epoch_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def build_event_v1(route: ApiRoute, request: HttpRequest, path_params: dict[str, str]) -> dict[str, Any]:
    """A REST API (payload format 1.0) proxy event."""
    multi_headers: dict[str, list[str]] = {}
    for key, value in request.headers:
        multi_headers.setdefault(key, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for key, value in parse_qsl(request.raw_query, keep_blank_values=True):
        multi_query.setdefault(key, []).append(value)
    body, is_base64 = _encode_body(request)
    return {
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": {key: values[-1] for key, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "loadlab",
            "resourcePath": route.path,
            "httpMethod": request.method,
            "extendedRequestId": request.request_id,
            "requestTime": _request_time(request),
            "path": f"/{route.stage_name}{request.path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": route.stage_name,
            "domainPrefix": API_ID,
            "requestTimeEpoch": request.time_epoch_ms,
            "requestId": request.request_id,
            "domainName": DOMAIN,
            "apiId": API_ID,
            "identity": {"sourceIp": request.source_ip, "userAgent": request.header("user-agent") or None},
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def build_event_v2(route: ApiRoute, request: HttpRequest, path_params: dict[str, str]) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) proxy event: lower-cased headers, repeats joined by commas."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for key, value in request.headers:
        name = key.lower()
        if name == "cookie":
            cookies += [part.strip() for part in value.split(";") if part.strip()]
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(request.raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    body, is_base64 = _encode_body(request)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": API_ID,
            "domainName": DOMAIN,
            "domainPrefix": API_ID,
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request.request_id,
            "routeKey": route.route_key,
            "stage": route.stage_name,
            "time": _request_time(request),
            "timeEpoch": request.time_epoch_ms,
        },
        "isBase64Encoded": is_base64,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_params:
        event["pathParameters"] = path_params
    if body is not None:
        event["body"] = body
    return event


def build_event(route: ApiRoute, request: HttpRequest, path_params: dict[str, str]) -> dict[str, Any]:
    """The proxy event for the route's payload format."""
    builder = build_event_v2 if route.payload_format == "2.0" else build_event_v1
    return builder(route, request, path_params)


def map_response(route: ApiRoute, payload: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """The HTTP answer for a function's proxy response; BadProxyResponse when it is malformed."""
    try:
        answer = json.loads(payload) if payload.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadProxyResponse(f"function answer is not JSON: {exc}") from exc
    if route.payload_format == "2.0" and not (isinstance(answer, dict) and "statusCode" in answer):
        return 200, [("content-type", "application/json")], payload  # HTTP API infers the format
    if not isinstance(answer, dict) or not isinstance(answer.get("statusCode"), int):
        raise BadProxyResponse("proxy response needs an integer statusCode")
    headers = _response_headers(answer)
    body = answer.get("body")
    if body is None:
        return answer["statusCode"], headers, b""
    if not isinstance(body, str):
        raise BadProxyResponse("proxy response body must be a string")
    try:
        data = base64.b64decode(body, validate=True) if answer.get("isBase64Encoded") else body.encode()
    except ValueError as exc:
        raise BadProxyResponse(f"isBase64Encoded body is not base64: {exc}") from exc
    return answer["statusCode"], headers, data


def _response_headers(answer: dict[str, Any]) -> list[tuple[str, str]]:
    headers = answer.get("headers") or {}
    multi = answer.get("multiValueHeaders") or {}
    if not isinstance(headers, dict) or not isinstance(multi, dict):
        raise BadProxyResponse("proxy response headers must be objects")
    pairs = [(str(k), str(v)) for k, v in headers.items()]
    pairs += [(str(k), str(v)) for k, values in multi.items() if isinstance(values, list) for v in values]
    pairs += [("set-cookie", str(cookie)) for cookie in answer.get("cookies") or []]
    if not any(key.lower() == "content-type" for key, _ in pairs):
        pairs.append(("content-type", "application/json"))
    return pairs
