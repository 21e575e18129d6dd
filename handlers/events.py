"""Typed views of the Lambda events the adapters accept (in the spirit of AWS Lambda Powertools).

- `ApiGatewayRequest.from_event`: API Gateway proxy events, REST API (payload format 1.0) and
  HTTP API (payload format 2.0), headers case-insensitive.
- `S3Record.from_event`: S3 event notifications (ObjectCreated:*), object keys URL-decoded
  ('+' is a space, as S3 encodes them).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from handlers.errors import BadInput

SCALARS = (str, int, float, bool)


def _json_type(value: Any) -> str:
    """The JSON name of a value's type, for messages (never the value: it may be huge or deeply nested)."""
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}
    if isinstance(value, Mapping):
        return "an object"
    return names.get(type(value), type(value).__name__)


def _mapping(container: Mapping[str, Any], name: str, where: str = "") -> Mapping[str, Any]:
    """container[name] as a mapping ({} when absent or null); BadInput('bad_event') naming it otherwise."""
    value = container.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadInput("bad_event", f"{where or name} must be a JSON object, got {_json_type(value)}")
    return value


def _string(container: Mapping[str, Any], name: str, where: str = "") -> str | None:
    """container[name] as a string (None when absent or null); BadInput('bad_event') naming it otherwise."""
    value = container.get(name)
    if value is None or isinstance(value, str):
        return value
    raise BadInput("bad_event", f"{where or name} must be a string, got {_json_type(value)}")


def _boolean(container: Mapping[str, Any], name: str) -> bool:
    value = container.get(name)
    if value is None or isinstance(value, bool):
        return bool(value)
    raise BadInput("bad_event", f"{name} must be true or false, got {_json_type(value)}")


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only header mapping (keys are kept lower-case)."""

    def __init__(self, raw: Mapping[str, Any] | None = None) -> None:
        raw = raw or {}
        bad = next((k for k, v in raw.items() if v is not None and not isinstance(v, SCALARS)), None)
        if bad is not None:
            raise BadInput("bad_event", f"header {str(bad)[:100]!r} must be a string, got {_json_type(raw[bad])}")
        self._items = {str(k).lower(): str(v) for k, v in raw.items() if v is not None}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(frozen=True, slots=True)
class ApiGatewayRequest:
    """An API Gateway proxy request, whichever payload format it came in."""

    payload_version: str  # "1.0" (REST API) | "2.0" (HTTP API)
    method: str
    path: str
    headers: Headers
    body: str | None
    is_base64_encoded: bool
    request_id: str | None
    query: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> ApiGatewayRequest:
        if not isinstance(event, Mapping):
            raise BadInput(
                "bad_event", f"expected an API Gateway proxy event (a JSON object), got {type(event).__name__}"
            )
        context = _mapping(event, "requestContext")
        http = _mapping(context, "http", "requestContext.http")
        is_v2 = event.get("version") == "2.0" or bool(http)
        if is_v2:
            method = _string(http, "method", "requestContext.http.method")
            path = _string(event, "rawPath") or _string(http, "path", "requestContext.http.path")
        else:
            method, path = _string(event, "httpMethod"), _string(event, "path")
        return cls(
            payload_version="2.0" if is_v2 else "1.0",
            method=(method or "GET").upper(),
            path=path or "/",
            headers=Headers(_mapping(event, "headers")),
            body=_string(event, "body"),
            is_base64_encoded=_boolean(event, "isBase64Encoded"),
            request_id=_string(context, "requestId", "requestContext.requestId"),
            query={str(k): str(v) for k, v in _mapping(event, "queryStringParameters").items() if v is not None},
        )

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def body_size_bytes(self) -> int:
        """Size of the body as carried in the event (base64 text when base64-encoded)."""
        return len(_utf8(self.body)) if self.body else 0

    def body_bytes(self) -> bytes:
        """The body as bytes (base64-decoded when isBase64Encoded); BadInput on bad base64."""
        if not self.body:
            return b""
        if not self.is_base64_encoded:
            return _utf8(self.body)
        try:
            return base64.b64decode(self.body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadInput("bad_base64", f"isBase64Encoded is true but the body is not valid base64: {exc}") from exc


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate such as "\ud800" in the JSON
        raise BadInput("bad_body", f"the body is not valid Unicode text: {exc.reason} at {exc.start}") from None


@dataclass(frozen=True, slots=True)
class S3Record:
    """One record of an S3 event notification."""

    event_name: str
    event_time: str
    region: str | None
    bucket: str
    key: str  # URL-decoded
    size_bytes: int | None
    etag: str | None  # without quotes
    sequencer: str | None
    version_id: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> S3Record:
        """One record; BadInput('bad_event') naming the field that is missing or of the wrong type."""
        bucket, key = _location(record)
        if not bucket or not key:
            raise BadInput("bad_event", "an S3 event record needs s3.bucket.name and s3.object.key")
        obj = _mapping(_mapping(record, "s3"), "object", "s3.object")
        etag = _string(obj, "eTag", "s3.object.eTag") or _string(obj, "etag", "s3.object.etag")
        return cls(
            event_name=_string(record, "eventName") or "",
            event_time=_string(record, "eventTime") or "",
            region=_string(record, "awsRegion"),
            bucket=bucket,
            key=key,
            size_bytes=_size(obj),
            etag=etag.strip('"') if etag else None,
            sequencer=_string(obj, "sequencer", "s3.object.sequencer"),
            version_id=_string(obj, "versionId", "s3.object.versionId"),
        )

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> list[S3Record]:
        """All S3 records of an event ('s3:TestEvent' and non-S3 records are ignored); BadInput on the first
        bad record (`parse_event` keeps going instead)."""
        parsed = cls.parse_event(event)
        bad = next((r for r in parsed if isinstance(r, BadRecord)), None)
        if bad is not None:
            raise bad.error
        return [r for r in parsed if isinstance(r, S3Record)]

    @classmethod
    def parse_event(cls, event: Mapping[str, Any]) -> list[S3Record | BadRecord]:
        """Every S3 record of an event, a bad one as a `BadRecord` (so it can be answered with an error result
        instead of failing the whole event); BadInput when the event has no 'Records' list at all."""
        records = event.get("Records") if isinstance(event, Mapping) else None
        if not isinstance(records, list):
            raise BadInput("bad_event", "expected an S3 event notification with a 'Records' list")
        parsed: list[S3Record | BadRecord] = []
        for index, record in enumerate(records):
            if not isinstance(record, Mapping) or not record.get("s3"):
                continue
            try:
                parsed.append(cls.from_record(record))
            except BadInput as exc:
                bucket, key = _location(record, strict=False)
                parsed.append(BadRecord(index, bucket, key, exc))
        return parsed


@dataclass(frozen=True, slots=True)
class BadRecord:
    """An S3 event record that could not be read; `bucket` and `key` when they, at least, were readable."""

    index: int
    bucket: str | None
    key: str | None  # URL-decoded
    error: BadInput


def _location(record: Mapping[str, Any], strict: bool = True) -> tuple[str | None, str | None]:
    """(bucket, URL-decoded key) of a record; with strict=False, None for whatever is unreadable."""
    try:
        s3 = _mapping(record, "s3")
        bucket = _string(_mapping(s3, "bucket", "s3.bucket"), "name", "s3.bucket.name")
        key = _string(_mapping(s3, "object", "s3.object"), "key", "s3.object.key")
    except BadInput:
        if strict:
            raise
        return None, None
    return bucket or None, unquote_plus(key) if key else None


def _size(obj: Mapping[str, Any]) -> int | None:
    size = obj.get("size")
    if size is None or (isinstance(size, int) and not isinstance(size, bool) and size >= 0):
        return size
    shown = repr(size)[:40] if isinstance(size, str) else _json_type(size)
    raise BadInput("bad_event", f"s3.object.size must be a whole number of bytes, got {shown}")
