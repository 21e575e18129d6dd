"""The HTTP contract shared by the API Gateway adapter and the WSGI server.

Request body: JSON `{"image": "<base64>"}` (Content-Type application/json) or the raw image
(image/jpeg, image/png, application/octet-stream). No Content-Type: JSON if the body starts
with '{', raw otherwise. Responses are JSON with CORS headers; errors are
`{"error": {"kind", "message"}}` with 400 / 413 / 415 (500 for internal failures).
"""

from __future__ import annotations

import json
from typing import Any

from handlers.errors import BadInput, HandlerError, PayloadTooLarge, UnsupportedMediaType, internal_error_body

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous invocation payload limit (6 MB)
JSON_MEDIA_TYPE = "application/json"
RAW_IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/jpg", "image/png", "application/octet-stream"})
ACCEPTED_MEDIA_TYPES = ", ".join(sorted({JSON_MEDIA_TYPE, *RAW_IMAGE_MEDIA_TYPES}))

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, X-Request-Id",
    "Access-Control-Max-Age": "600",
}


def media_type(content_type: str | None) -> str:
    """'Image/JPEG; charset=x' -> 'image/jpeg'; '' when absent."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_payload_size(size_bytes: int, max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> None:
    if size_bytes > max_payload_bytes:
        raise PayloadTooLarge(
            "payload_too_large",
            f"the request body is {size_bytes} bytes; the limit is {max_payload_bytes} bytes",
        )


def _image_from_json(body: bytes) -> bytes:
    from handlers.imaging import decode_base64  # deferred: keeps this module light to import

    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput("bad_json", f"the body is not valid JSON: {exc}") from exc
    except RecursionError:  # e.g. 100,000 nested '[': the decoder gives up at Python's recursion limit
        raise BadInput("bad_json", 'the body nests JSON too deeply; expected {"image": "<base64>"}') from None
    if not isinstance(document, dict) or not isinstance(document.get("image"), str):
        raise BadInput("missing_image", 'expected a JSON object {"image": "<base64 JPEG or PNG>"}')
    return decode_base64(document["image"])


def extract_image(content_type: str | None, body: bytes, max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> bytes:
    """The image bytes carried by a request body, or BadInput / PayloadTooLarge / UnsupportedMediaType."""
    check_payload_size(len(body), max_payload_bytes)
    if not body:
        raise BadInput("empty_body", 'the request body is empty; send a JPEG/PNG image or JSON {"image": ...}')
    kind = media_type(content_type)
    if kind == "":
        kind = JSON_MEDIA_TYPE if body.lstrip()[:1] == b"{" else "application/octet-stream"
    if kind == JSON_MEDIA_TYPE:
        return _image_from_json(body)
    if kind in RAW_IMAGE_MEDIA_TYPES:
        return body
    raise UnsupportedMediaType(
        "unsupported_media_type", f"Content-Type {kind!r} is not accepted; use one of: {ACCEPTED_MEDIA_TYPES}"
    )


def response_headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Content-Type": "application/json", **CORS_HEADERS, **(extra or {})}


def error_response(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """(status, error body) for an exception: its own status for HandlerError, else 500."""
    if isinstance(exc, HandlerError):
        return exc.status_code, exc.to_body()
    return 500, internal_error_body(exc)


def dumps(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"), allow_nan=False)
