"""The pure-ish inference core: a model in one runtime, preprocessing, top-5 with labels.

`InferenceService.predict(image_bytes)` returns the model-side half of the prediction dict;
adapters add the invocation half with `prediction_body(...)`, so every adapter returns exactly
`PREDICTION_KEYS`. The runtime (ONNX Runtime by default, OpenCV DNN or OpenVINO) is MODEL_RUNTIME's:
see `handlers.model_runtimes`; `model_load_ms` is the model's resolution (build / download / read)
plus the runtime's load, a part of the handler's `init_ms`.

Threads (of whichever runtime): ORT_THREADS if set, else ceil(AWS_LAMBDA_FUNCTION_MEMORY_SIZE / 1769) (Lambda gives one
vCPU per 1769 MB), else os.cpu_count(); always capped at os.cpu_count(). ORT session options are
deterministic (sequential execution, deterministic compute, one inter-op thread, no spinning).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from handlers.errors import ModelError
from handlers.imaging import InputSpec, preprocess
from handlers.model_runtimes import ModelRunner, Shape, load_runner, runtime_name
from handlers.models.store import ModelRef, resolve_model

LABELS_PATH = Path(__file__).parent / "data" / "imagenet_labels.txt"
MB_PER_LAMBDA_VCPU = 1769
TOP_K = 5

MODEL_KEYS = (
    "model_name", "weights", "model_source", "runtime", "top5", "image_width_px", "image_height_px",
    "input_bytes", "preprocess_ms", "inference_ms",
)  # fmt: skip
INVOCATION_KEYS = (
    "handler_ms", "cold_start", "init_ms", "model_load_ms", "instance_id", "function_request_id", "memory_mb",
    "max_memory_used_mb",
)  # fmt: skip
PREDICTION_KEYS = MODEL_KEYS + INVOCATION_KEYS


def load_labels(path: Path | None = None) -> list[str]:
    path = path or LABELS_PATH
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def intra_op_threads(env: Mapping[str, str], cpu_count: int | None = None) -> int:
    """The runtime's thread count (ORT intra-op) from ORT_THREADS or the Lambda memory size, capped at the CPUs."""
    cpus = cpu_count or os.cpu_count() or 1
    if env.get("ORT_THREADS"):
        wanted = int(env["ORT_THREADS"])
    elif env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"):
        wanted = math.ceil(int(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]) / MB_PER_LAMBDA_VCPU)
    else:
        wanted = cpus
    return max(1, min(wanted, cpus))


def spec_from_shape(shape: Shape) -> InputSpec:
    """Input spec of a user model from its input shape: [N,3,H,W] (NCHW) or [N,H,W,3] (NHWC)."""
    if len(shape) != 4:
        raise ModelError("unsupported_model", f"expected a 4-D image input, the model's is {shape}")
    if shape[-1] == 3 and shape[1] != 3:
        size = shape[1]
        layout = "NHWC"
    else:
        size, layout = shape[2], "NCHW"
    return InputSpec.for_size(size if isinstance(size, int) and size > 0 else 224, layout)


def to_probabilities(row: np.ndarray) -> np.ndarray:
    """The output row as probabilities: kept if it already is a distribution, else softmaxed."""
    row = row.astype(np.float64)
    if row.min() >= 0.0 and abs(row.sum() - 1.0) < 1e-3:
        return row
    shifted = np.exp(row - row.max())
    return shifted / shifted.sum()


class InferenceService:
    """One model loaded in one runtime, and the labels; `predict` is safe to call repeatedly.

    `model_load_ms`: the runtime's load of the file (from `from_env`: plus resolving the model, i.e.
    building, downloading from S3 or finding it in a directory).
    """

    def __init__(self, ref: ModelRef, labels: Sequence[str], threads: int, runtime: str = "onnxruntime") -> None:
        start_s = time.perf_counter()
        self.ref = ref
        self.labels = list(labels)
        self.threads = threads
        self.runner: ModelRunner = load_runner(runtime, ref.path, threads)
        self.input_spec = ref.input_spec or spec_from_shape(self.runner.input_shape)
        self.model_load_ms = round((time.perf_counter() - start_s) * 1000.0, 3)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> InferenceService:
        env = os.environ if env is None else env
        start_s = time.perf_counter()
        runtime = runtime_name(env)
        labels_path = Path(env["LABELS_PATH"]) if env.get("LABELS_PATH") else None
        ref = resolve_model(env)
        try:
            service = cls(ref, load_labels(labels_path), intra_op_threads(env), runtime)
        finally:
            if ref.transient:  # a per-environment download: the runtime holds the model now
                ref.path.unlink(missing_ok=True)
        service.model_load_ms = round((time.perf_counter() - start_s) * 1000.0, 3)
        return service

    @property
    def runtime(self) -> str:
        return self.runner.name

    @property
    def session(self) -> Any:
        """The ONNX Runtime session (None for another runtime)."""
        return getattr(self.runner, "session", None)

    @property
    def input_name(self) -> str:
        return self.runner.input_name

    @property
    def model_name(self) -> str:
        return self.ref.model_name

    def label(self, class_index: int) -> str:
        return self.labels[class_index] if class_index < len(self.labels) else f"class_{class_index}"

    def top_k(self, probabilities: np.ndarray, k: int = TOP_K) -> list[dict[str, Any]]:
        order = np.argsort(-probabilities, kind="stable")[:k]
        return [
            {"label": self.label(int(i)), "class_index": int(i), "probability": round(float(probabilities[i]), 6)}
            for i in order
        ]

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """The model's first output row for one batch (ModelError if the runtime fails)."""
        return self.runner.run(tensor)

    def predict(self, image_bytes: bytes) -> dict[str, Any]:
        """Decode, preprocess, infer; the model-side fields of the prediction dict.
        Raises BadInput / PayloadTooLarge for bad images, ModelError if inference fails."""
        start_s = time.perf_counter()
        tensor, decoded = preprocess(image_bytes, self.input_spec)
        preprocessed_s = time.perf_counter()
        row = self.run(tensor)
        inferred_s = time.perf_counter()
        return {
            "model_name": self.model_name,
            "weights": self.ref.weights,
            "model_source": self.ref.source,
            "runtime": self.runtime,
            "top5": self.top_k(to_probabilities(row)),
            "image_width_px": decoded.width_px,
            "image_height_px": decoded.height_px,
            "input_bytes": len(image_bytes),
            "preprocess_ms": round((preprocessed_s - start_s) * 1000.0, 3),
            "inference_ms": round((inferred_s - preprocessed_s) * 1000.0, 3),
        }


def prediction_body(
    model_fields: Mapping[str, Any],
    *,
    handler_ms: float,
    cold_start: bool,
    init_ms: float | None,
    model_load_ms: float | None = None,
    instance_id: str,
    function_request_id: str | None,
    memory_mb: int | None,
    max_memory_used_mb: float,
) -> dict[str, Any]:
    """The full prediction dict, in PREDICTION_KEYS order (model fields + invocation fields)."""
    body = {
        **model_fields,
        "handler_ms": round(handler_ms, 3),
        "cold_start": cold_start,
        "init_ms": init_ms,
        "model_load_ms": model_load_ms,
        "instance_id": instance_id,
        "function_request_id": function_request_id,
        "memory_mb": memory_mb,
        "max_memory_used_mb": max_memory_used_mb,
    }
    return {key: body[key] for key in PREDICTION_KEYS}
