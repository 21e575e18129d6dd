"""The pure-ish inference core: an ONNX Runtime session, preprocessing, top-5 with labels.

`InferenceService.predict(image_bytes)` returns the model-side half of the prediction dict;
adapters add the invocation half with `prediction_body(...)`, so every adapter returns exactly
`PREDICTION_KEYS`.

Threads: ORT_THREADS if set, else ceil(AWS_LAMBDA_FUNCTION_MEMORY_SIZE / 1769) (Lambda gives one
vCPU per 1769 MB), else os.cpu_count(); always capped at os.cpu_count(). Session options are
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
import onnxruntime as ort

from handlers.errors import ModelError
from handlers.imaging import InputSpec, preprocess
from handlers.models.store import ModelRef, resolve_model

LABELS_PATH = Path(__file__).parent / "data" / "imagenet_labels.txt"
MB_PER_LAMBDA_VCPU = 1769
TOP_K = 5

PREDICTION_KEYS = (
    "model_name", "weights", "top5", "image_width_px", "image_height_px", "input_bytes",
    "preprocess_ms", "inference_ms", "handler_ms", "cold_start", "init_ms", "instance_id",
    "function_request_id", "memory_mb", "max_memory_used_mb",
)  # fmt: skip


def load_labels(path: Path | None = None) -> list[str]:
    path = path or LABELS_PATH
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def intra_op_threads(env: Mapping[str, str], cpu_count: int | None = None) -> int:
    """ORT intra-op thread count from ORT_THREADS or the Lambda memory size, capped at the CPUs."""
    cpus = cpu_count or os.cpu_count() or 1
    if env.get("ORT_THREADS"):
        wanted = int(env["ORT_THREADS"])
    elif env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"):
        wanted = math.ceil(int(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]) / MB_PER_LAMBDA_VCPU)
    else:
        wanted = cpus
    return max(1, min(wanted, cpus))


def session_options(threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.use_deterministic_compute = True
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def spec_from_session(session: ort.InferenceSession) -> InputSpec:
    """Input spec of a user model from its input shape: [N,3,H,W] (NCHW) or [N,H,W,3] (NHWC)."""
    shape = session.get_inputs()[0].shape
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
    """Holds one ONNX Runtime session and the labels; `predict` is safe to call repeatedly."""

    def __init__(self, ref: ModelRef, labels: Sequence[str], threads: int) -> None:
        self.ref = ref
        self.labels = list(labels)
        self.threads = threads
        try:
            self.session = ort.InferenceSession(
                str(ref.path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT raises its own (non-exported) exception types
            raise ModelError("model_load_failed", f"could not load {ref.path}: {exc}") from exc
        self.input_spec = ref.input_spec or spec_from_session(self.session)
        self.input_name = self.session.get_inputs()[0].name

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> InferenceService:
        env = os.environ if env is None else env
        labels_path = Path(env["LABELS_PATH"]) if env.get("LABELS_PATH") else None
        return cls(resolve_model(env), load_labels(labels_path), intra_op_threads(env))

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
        try:
            output = self.session.run(None, {self.input_name: tensor})[0]
        except Exception as exc:  # ORT raises its own (non-exported) exception types
            raise ModelError("inference_failed", f"{self.model_name}: {exc}") from exc
        return np.asarray(output).reshape(output.shape[0], -1)[0]

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
        "instance_id": instance_id,
        "function_request_id": function_request_id,
        "memory_mb": memory_mb,
        "max_memory_used_mb": max_memory_used_mb,
    }
    return {key: body[key] for key in PREDICTION_KEYS}
