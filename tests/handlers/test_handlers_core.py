"""The inference core on real images with real ONNX Runtime (smallcnn and a user model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from handlers_testkit import make_image_bytes
from onnx import TensorProto, helper, numpy_helper

from handlers.core import (
    MODEL_KEYS,
    PREDICTION_KEYS,
    InferenceService,
    intra_op_threads,
    load_labels,
    prediction_body,
)
from handlers.errors import BadInput

MODEL_FIELDS = MODEL_KEYS


def test_labels_are_the_1000_imagenet_classes() -> None:
    labels = load_labels()
    assert len(labels) == 1000
    assert (labels[0], labels[207], labels[281], labels[999]) == (
        "tench", "golden retriever", "tabby", "toilet tissue",
    )  # fmt: skip


@pytest.mark.parametrize(("fmt", "size"), [("JPEG", (320, 240)), ("PNG", (200, 300))])
def test_predict_on_real_images(smallcnn_env: Path, fmt: str, size: tuple[int, int]) -> None:
    service = InferenceService.from_env()
    data = make_image_bytes(*size, fmt)
    result = service.predict(data)
    assert tuple(result) == MODEL_FIELDS
    assert (result["model_name"], result["weights"]) == ("smallcnn", "random")
    assert (result["image_width_px"], result["image_height_px"], result["input_bytes"]) == (*size, len(data))
    assert result["preprocess_ms"] > 0 and result["inference_ms"] > 0
    top5 = result["top5"]
    assert len(top5) == 5
    probabilities = [p["probability"] for p in top5]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(0 < p <= 1 for p in probabilities)
    labels = load_labels()
    assert all(p["label"] == labels[p["class_index"]] for p in top5)


def test_predict_is_deterministic(smallcnn_env: Path, jpeg_bytes: bytes) -> None:
    service = InferenceService.from_env()
    assert service.predict(jpeg_bytes)["top5"] == service.predict(jpeg_bytes)["top5"]


def test_predict_rejects_bad_images(smallcnn_env: Path) -> None:
    service = InferenceService.from_env()
    with pytest.raises(BadInput, match="JPEG or PNG"):
        service.predict(b"GIF89a not really")


@pytest.mark.parametrize(
    ("env", "cpus", "expected"),
    [
        ({"ORT_THREADS": "3"}, 8, 3),
        ({"ORT_THREADS": "16"}, 4, 4),
        ({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}, 8, 1),
        ({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769"}, 8, 1),
        ({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3008"}, 8, 2),
        ({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "10240"}, 8, 6),
        ({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "10240"}, 2, 2),
        ({}, 2, 2),
    ],
)
def test_intra_op_threads(env: dict[str, str], cpus: int, expected: int) -> None:
    assert intra_op_threads(env, cpu_count=cpus) == expected


def _write_logits_model(path: Path, size_px: int, num_classes: int) -> None:
    """A user model that outputs logits (no softmax), with a 96 px input and 10 classes."""
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((num_classes, 3)).astype(np.float32), "w")
    bias = numpy_helper.from_array(np.zeros(num_classes, np.float32), "b")
    nodes = [
        helper.make_node("GlobalAveragePool", ["pixels"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Gemm", ["flat", "w", "b"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "user",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 3, size_px, size_px])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, num_classes])],
        initializer=[weight, bias],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def test_user_onnx_model_by_path(smallcnn_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "tiny-logits.onnx"
    _write_logits_model(path, size_px=96, num_classes=10)
    monkeypatch.delenv("MODEL_NAME")
    monkeypatch.setenv("MODEL_PATH", str(path))
    service = InferenceService.from_env()
    assert service.input_spec.size_px == 96
    result = service.predict(make_image_bytes(150, 100))
    assert (result["model_name"], result["weights"]) == ("tiny-logits", "user")
    assert {p["class_index"] for p in result["top5"]} <= set(range(10))
    assert 0 < sum(p["probability"] for p in result["top5"]) <= 1.0 + 1e-6  # softmax applied to logits


def test_prediction_body_has_exactly_the_documented_keys() -> None:
    model_fields = dict.fromkeys(MODEL_FIELDS, 0)
    body = prediction_body(
        model_fields, handler_ms=1.23456, cold_start=True, init_ms=5.0, instance_id="i",
        function_request_id="r", memory_mb=1024, max_memory_used_mb=99.5,
    )  # fmt: skip
    assert tuple(body) == PREDICTION_KEYS
    assert body["handler_ms"] == 1.235
