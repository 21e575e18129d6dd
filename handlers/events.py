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


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only header mapping (keys are kept lower-case)."""

    def __init__(self, raw: Mapping[str, Any] | None = None) -> None:
        self._items = {str(k).lower(): str(v) for k, v in (raw or {}).items() if v is not None}

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
        context = event.get("requestContext") or {}
        http = context.get("http") or {}
        is_v2 = event.get("version") == "2.0" or bool(http)
        method = http.get("method") if is_v2 else event.get("httpMethod")
        path = event.get("rawPath") if is_v2 else event.get("path")
        return cls(
            payload_version="2.0" if is_v2 else "1.0",
            method=str(method or "GET").upper(),
            path=str(path or http.get("path") or "/"),
            headers=Headers(event.get("headers")),
            body=event.get("body"),
            is_base64_encoded=bool(event.get("isBase64Encoded")),
            request_id=context.get("requestId"),
            query=dict(event.get("queryStringParameters") or {}),
        )

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def body_size_bytes(self) -> int:
        """Size of the body as carried in the event (base64 text when base64-encoded)."""
        return len(self.body.encode("utf-8")) if self.body else 0

    def body_bytes(self) -> bytes:
        """The body as bytes (base64-decoded when isBase64Encoded); BadInput on bad base64."""
        if not self.body:
            return b""
        if not self.is_base64_encoded:
            return self.body.encode("utf-8")
        try:
            return base64.b64decode(self.body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadInput("bad_base64", f"isBase64Encoded is true but the body is not valid base64: {exc}") from exc


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
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name")
        obj = s3.get("object") or {}
        if not bucket or not obj.get("key"):
            raise BadInput("bad_event", "an S3 event record needs s3.bucket.name and s3.object.key")
        etag = obj.get("eTag") or obj.get("etag")
        size = obj.get("size")
        return cls(
            event_name=str(record.get("eventName", "")),
            event_time=str(record.get("eventTime", "")),
            region=record.get("awsRegion"),
            bucket=str(bucket),
            key=unquote_plus(str(obj["key"])),
            size_bytes=int(size) if size is not None else None,
            etag=str(etag).strip('"') if etag else None,
            sequencer=obj.get("sequencer"),
            version_id=obj.get("versionId"),
        )

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> list[S3Record]:
        """All S3 records of an event ('s3:TestEvent' and non-S3 records are ignored)."""
        records = event.get("Records") if isinstance(event, Mapping) else None
        if not isinstance(records, list):
            raise BadInput("bad_event", "expected an S3 event notification with a 'Records' list")
        return [cls.from_record(r) for r in records if isinstance(r, Mapping) and r.get("s3")]
