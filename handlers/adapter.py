"""What every adapter shares: the runtime state, the service loaded at import, prediction bodies.

The model is loaded when the adapter module is imported (Lambda's init phase, a server worker's
boot). If loading fails, the error is kept, logged, and returned as a 500 on each invocation
(which retries the load), rather than crashing the process in a loop.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from handlers import runtime as process_runtime  # first: its import time is the init clock fallback
from handlers.core import InferenceService, prediction_body
from handlers.errors import HandlerError, ModelError


class Adapter:
    """Runtime state + the inference service of one adapter module (one per process)."""

    def __init__(self, platform: str, env: Mapping[str, str] | None = None) -> None:
        self.runtime = process_runtime.ProcessRuntime(platform)
        self._env = env
        self._service: InferenceService | None = None
        self.load_error: HandlerError | None = None
        try:
            self.service()
        except HandlerError as exc:
            sys.stderr.write(f"model load failed at init: {exc}\n")

    def service(self) -> InferenceService:
        """The loaded service (loading it now if the init-time load failed); ModelError if it cannot."""
        if self._service is None:
            try:
                self._service = InferenceService.from_env(self._env)
            except HandlerError as exc:
                self.load_error = exc
                raise
            except (OSError, ValueError) as exc:  # cache dir not writable, bad MODEL_SEED, ...
                self.load_error = ModelError("model_load_failed", f"{type(exc).__name__}: {exc}")
                raise self.load_error from exc
            self.load_error = None
            self.runtime.mark_initialized()
        return self._service

    @property
    def model_name(self) -> str | None:
        return self._service.model_name if self._service else None

    def predict(
        self,
        image_bytes: bytes,
        *,
        start_s: float,
        cold_start: bool,
        init_ms: float | None,
        request_id: str | None,
        memory_mb: int | None,
    ) -> dict[str, Any]:
        """Run the core and complete the prediction dict (handler_ms measured from start_s)."""
        service = self.service()
        fields = service.predict(image_bytes)
        return prediction_body(
            fields,
            handler_ms=(time.perf_counter() - start_s) * 1000.0,
            cold_start=cold_start,
            init_ms=init_ms,
            model_load_ms=service.model_load_ms if init_ms is not None else None,
            instance_id=self.runtime.instance_id,
            function_request_id=request_id,
            memory_mb=memory_mb,
            max_memory_used_mb=self.runtime.max_memory_used_mb(),
        )

    def log(
        self, request_id: str | None, status_code: int, start_s: float, body: Mapping[str, Any], cold_start: bool
    ) -> None:
        """One structured log line for an invocation (timings, or the error kind)."""
        error = body.get("error") if isinstance(body.get("error"), dict) else None
        self.runtime.log_invocation(
            {
                "request_id": request_id,
                "status_code": status_code,
                "model_name": self.model_name,
                "runtime": self._service.runtime if self._service else None,
                "cold_start": cold_start,
                "init_ms": self.runtime.init_ms if cold_start else None,
                "model_load_ms": self._service.model_load_ms if cold_start and self._service else None,
                "preprocess_ms": body.get("preprocess_ms"),
                "inference_ms": body.get("inference_ms"),
                "handler_ms": round((time.perf_counter() - start_s) * 1000.0, 3),
                "max_memory_used_mb": self.runtime.max_memory_used_mb(),
                "error_kind": error["kind"] if error else None,
            }
        )


def lambda_memory_mb(context: object | None) -> int | None:
    """The function's memory setting: from the context, else AWS_LAMBDA_FUNCTION_MEMORY_SIZE."""
    value = getattr(context, "memory_limit_in_mb", None) or os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
