"""The runtime axis: the same ONNX model in ONNX Runtime, OpenCV DNN and OpenVINO (real runtimes, 1 thread).

Every installed runtime must give ONNX Runtime's output (so the same top-5) on the same image; a runtime
that cannot load a model, or is not installed, must say so (501), never answer with another number.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import boto3
import numpy as np
import onnx
import pytest
from handlers_testkit import b64, load_event, make_image_bytes
from moto import mock_aws
from onnx import TensorProto, helper, numpy_helper

from handlers.core import PREDICTION_KEYS, InferenceService
from handlers.errors import ModelError, RuntimeUnsupported
from handlers.imaging import preprocess
from handlers.model_runtimes import RUNTIMES, runtime_name
from handlers.models import resolve_model
from handlers.models.store import upload_builtin_model

MODULES = {"onnxruntime": "onnxruntime", "opencv": "cv2", "openvino": "openvino"}
INSTALLED = [name for name in RUNTIMES if importlib.util.find_spec(MODULES[name]) is not None]
OTHERS = [name for name in INSTALLED if name != "onnxruntime"]


def _service(monkeypatch: pytest.MonkeyPatch, runtime: str, model: str) -> InferenceService:
    monkeypatch.setenv("MODEL_RUNTIME", runtime)
    monkeypatch.setenv("MODEL_NAME", model)
    return InferenceService.from_env()


@pytest.mark.parametrize("model", ["smallcnn", "mobilenetv2"])
@pytest.mark.parametrize("runtime", OTHERS)
def test_runtime_agrees_with_onnxruntime(
    smallcnn_env: Path, monkeypatch: pytest.MonkeyPatch, runtime: str, model: str
) -> None:
    reference = _service(monkeypatch, "onnxruntime", model)
    other = _service(monkeypatch, runtime, model)
    assert (other.runtime, other.input_spec) == (runtime, reference.input_spec)
    for seed in (0, 1):
        image = make_image_bytes(320, 240, "JPEG", seed=seed)
        tensor, _ = preprocess(image, reference.input_spec)
        np.testing.assert_allclose(other.run(tensor), reference.run(tensor), rtol=1e-4, atol=1e-5)
        expected, got = reference.predict(image), other.predict(image)
        assert [p["class_index"] for p in got["top5"]] == [p["class_index"] for p in expected["top5"]]
        np.testing.assert_allclose(
            [p["probability"] for p in got["top5"]], [p["probability"] for p in expected["top5"]], atol=1e-5
        )
        assert (got["runtime"], got["model_source"], got["model_name"]) == (runtime, "builtin", model)
        assert got["inference_ms"] > 0 and got["preprocess_ms"] > 0


@pytest.mark.parametrize("runtime", INSTALLED)
def test_answer_names_its_runtime_and_model_load(
    smallcnn_env: Path, monkeypatch: pytest.MonkeyPatch, fresh_import: Callable[[str], ModuleType], runtime: str
) -> None:
    monkeypatch.setenv("MODEL_RUNTIME", runtime)
    api = fresh_import("handlers.lambda_api")
    event = load_event("apigw_v2_post.json")
    event.update(body=b64(make_image_bytes()), isBase64Encoded=True)
    event["headers"]["content-type"] = "image/jpeg"
    cold, warm = (api.handler(event, None) for _ in range(2))
    cold_body, warm_body = json.loads(cold["body"]), json.loads(warm["body"])
    assert tuple(cold_body) == PREDICTION_KEYS and cold["statusCode"] == 200
    assert (cold_body["runtime"], cold_body["model_source"]) == (runtime, "builtin")
    assert 0 < cold_body["model_load_ms"] <= cold_body["init_ms"]
    assert warm_body["model_load_ms"] is None and warm_body["runtime"] == runtime


def _write_lppool_model(path: Path) -> None:
    """A user classifier that ONNX Runtime runs but OpenCV DNN cannot load (no GlobalLpPool layer)."""
    weight = numpy_helper.from_array(np.random.default_rng(0).standard_normal((3, 10)).astype(np.float32), "w")
    nodes = [
        helper.make_node("GlobalLpPool", ["pixels"], ["pooled"], p=2),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "lp",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        initializer=[weight],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


@pytest.mark.skipif("opencv" not in INSTALLED, reason="opencv-python-headless is not installed")
def test_unsupported_operator_is_a_clear_error(
    smallcnn_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_import: Callable[[str], ModuleType],
) -> None:
    path = tmp_path / "lp.onnx"
    _write_lppool_model(path)
    monkeypatch.delenv("MODEL_NAME")
    monkeypatch.setenv("MODEL_PATH", str(path))
    assert InferenceService.from_env().predict(make_image_bytes())["runtime"] == "onnxruntime"  # a valid model
    monkeypatch.setenv("MODEL_RUNTIME", "opencv")
    with pytest.raises(RuntimeUnsupported) as caught:
        InferenceService.from_env()
    assert (caught.value.kind, caught.value.status_code) == ("runtime_unsupported", 501)
    assert "runtime opencv cannot load lp.onnx" in caught.value.message and "GlobalLpPool" in caught.value.message
    api = fresh_import("handlers.lambda_api")  # through an adapter: a 501 answer, every time
    event = load_event("apigw_v2_post.json")
    event.update(body=b64(make_image_bytes()), isBase64Encoded=True)
    event["headers"]["content-type"] = "image/jpeg"
    answer = api.handler(event, None)
    assert answer["statusCode"] == 501 and '"kind":"runtime_unsupported"' in answer["body"]


@pytest.mark.skipif("openvino" not in INSTALLED, reason="openvino is not installed")
def test_openvino_unknown_operator_is_a_clear_error(
    smallcnn_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("NoSuchOp", ["f"], ["y"], domain="example")]
    graph = helper.make_graph(
        nodes, "bad",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 192])],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("example", 1)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "bad.onnx")
    monkeypatch.delenv("MODEL_NAME")
    monkeypatch.setenv("MODEL_PATH", str(tmp_path / "bad.onnx"))
    monkeypatch.setenv("MODEL_RUNTIME", "openvino")
    with pytest.raises(RuntimeUnsupported, match="runtime openvino cannot load bad.onnx.*NoSuchOp"):
        InferenceService.from_env()


def test_missing_runtime_package_and_unknown_runtime(smallcnn_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)  # as if opencv-python-headless were not installed
    monkeypatch.setenv("MODEL_RUNTIME", "opencv")
    with pytest.raises(RuntimeUnsupported, match="runtime opencv is not installed") as caught:
        InferenceService.from_env()
    assert caught.value.kind == "runtime_not_installed"
    monkeypatch.setenv("MODEL_RUNTIME", "tensorflow")
    with pytest.raises(ModelError, match="expected one of onnxruntime, opencv, openvino") as bad:
        InferenceService.from_env()
    assert bad.value.kind == "bad_model_runtime"
    assert [runtime_name({"MODEL_RUNTIME": v}) for v in ("", "ORT", "cv2", "ov")] == [
        "onnxruntime", "onnxruntime", "opencv", "openvino",
    ]  # fmt: skip


@pytest.mark.parametrize("runtime", INSTALLED)
def test_s3_model_downloads_at_each_init_in_a_function(
    model_cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runtime: str
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    env = {
        "MODEL_URI": "s3://models/smallcnn.onnx", "MODEL_CACHE_DIR": str(tmp_path), "MODEL_RUNTIME": runtime,
        "AWS_LAMBDA_FUNCTION_NAME": "fn", "ORT_THREADS": "1",
    }  # fmt: skip
    with mock_aws():
        upload_builtin_model(boto3.client("s3"), "smallcnn", env["MODEL_URI"], model_cache_dir)
        service = InferenceService.from_env(env)
        assert (service.ref.source, service.ref.weights, service.ref.transient) == ("s3", "random", True)
        assert not service.ref.path.exists()  # downloaded for this environment, removed once loaded
        assert service.predict(make_image_bytes())["model_source"] == "s3"
        shared = resolve_model({**env, "MODEL_S3_CACHE": "shared"})
        assert shared.path.exists() and not shared.transient


def test_upload_cli_puts_a_builtin_model_for_the_s3_source(
    model_cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from handlers.models.__main__ import main

    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        assert (
            main(["upload", "smallcnn", "s3://fresh-bucket/m/smallcnn.onnx", "--cache-dir", str(model_cache_dir)]) == 0
        )
        head = boto3.client("s3").head_object(Bucket="fresh-bucket", Key="m/smallcnn.onnx")
    assert head["Metadata"] == {"loadlab-weights": "random", "loadlab-model": "smallcnn", "loadlab-seed": "0"}
    assert capsys.readouterr().out.startswith("s3://fresh-bucket/m/smallcnn.onnx\tETag ")
