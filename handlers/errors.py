"""Errors the service raises on purpose; each carries an HTTP status, a kind and a clear message.

Adapters turn them into the error body `{"error": {"kind": ..., "message": ...}}`.
"""

from __future__ import annotations

from typing import Any


class HandlerError(Exception):
    """Base of every error the handlers raise on purpose (internal failures map to 500)."""

    status_code = 500

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message

    def to_body(self) -> dict[str, Any]:
        return {"error": {"kind": self.kind, "message": self.message}}


class BadInput(HandlerError):
    """The request or image is malformed: not JPEG/PNG, truncated, bad base64, empty, bad JSON."""

    status_code = 400


class PayloadTooLarge(HandlerError):
    """The payload, or the image's size read from its header (pixels or side: `image_too_large`), is over the limit."""

    status_code = 413


class UnsupportedMediaType(HandlerError):
    """The request's Content-Type is not one the service accepts."""

    status_code = 415


class NotFound(HandlerError):
    """No such route (server) or no such input object (S3)."""

    status_code = 404


class MethodNotAllowed(HandlerError):
    """The route exists but not for this HTTP method."""

    status_code = 405


class ModelError(HandlerError):
    """The model could not be found, built, downloaded, loaded or run (a server-side failure)."""

    status_code = 500


class RuntimeUnsupported(ModelError):
    """The selected runtime (MODEL_RUNTIME) is not installed or cannot load or run this model."""

    status_code = 501


def internal_error_body(exc: BaseException) -> dict[str, Any]:
    """The error body for an unexpected exception (status 500); names the exception type."""
    return {"error": {"kind": "internal", "message": f"{type(exc).__name__}: {exc}"}}
