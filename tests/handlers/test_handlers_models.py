"""Built-in architectures (param counts, output shape, sane outputs), the cache, model resolution."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import boto3
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from moto import mock_aws

from handlers.errors import ModelError
from handlers.models import BUILTIN_MODELS, builtin, builtin_model_file, count_params, resolve_model
from handlers.models.store import parse_s3_uri

PUBLISHED_PARAMS = {"resnet50": 25_557_032, "mobilenetv2": 3_504_872, "inceptionv3": 23_834_568}


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_big_models_match_published_param_counts_and_output_shape(name: str) -> None:
    model = builtin(name).build(0)
    params = count_params(model)
    assert abs(params - PUBLISHED_PARAMS[name]) / PUBLISHED_PARAMS[name] < 0.02, params
    onnx.checker.check_model(model)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    dims = inferred.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_value or d.dim_param for d in dims] == ["N", 1000]
    size_px = builtin(name).input_spec.size_px
    input_dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim][1:]
    assert input_dims == [3, size_px, size_px]
    assert {p.key: p.value for p in model.metadata_props}["weights"] == "random"


@pytest.mark.parametrize("name", ["smallcnn", "mobilenetv2", "resnet50"])
def test_models_run_and_give_a_sane_distribution(name: str) -> None:
    spec = builtin(name)
    session = ort.InferenceSession(spec.build(0).SerializeToString(), providers=["CPUExecutionProvider"])
    size_px = spec.input_spec.size_px
    x = np.random.default_rng(1).standard_normal((1, 3, size_px, size_px)).astype(np.float32)
    out = session.run(None, {"input": x})[0]
    assert out.shape == (1, 1000)
    assert np.isfinite(out).all()
    assert out.sum() == pytest.approx(1.0, abs=1e-4)
    assert out.max() < 0.9  # not collapsed onto one class
    assert out.std() > 0  # not uniform


def test_builtin_names_are_normalised_and_unknown_names_are_rejected() -> None:
    assert builtin("MobileNet-V2").name == "mobilenetv2"
    assert set(BUILTIN_MODELS) == {"resnet50", "mobilenetv2", "inceptionv3", "smallcnn"}
    with pytest.raises(ModelError, match="known: inceptionv3, mobilenetv2, resnet50, smallcnn"):
        builtin_model_file("vgg16", Path("/nonexistent"))


def test_builtin_file_is_built_once_seeded_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = builtin_model_file("smallcnn", tmp_path, seed=7)
    first_mtime_ns = path.stat().st_mtime_ns
    assert builtin_model_file("smallcnn", tmp_path, seed=7).stat().st_mtime_ns == first_mtime_ns
    assert builtin("smallcnn").build(7).SerializeToString() == path.read_bytes()
    assert builtin_model_file("smallcnn", tmp_path, seed=8) != path
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [path.name, builtin_model_file("smallcnn", tmp_path, seed=8).name]
    )


def _build_in_child(cache_dir: str) -> str:
    return str(builtin_model_file("mobilenetv2", Path(cache_dir), seed=3))


def test_concurrent_builders_produce_one_valid_file(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        paths = pool.map(_build_in_child, [str(tmp_path)] * 3)
    assert len(set(paths)) == 1
    onnx.checker.check_model(paths[0])
    assert [p.name for p in tmp_path.iterdir()] == [Path(paths[0]).name]


def test_resolve_defaults_to_builtin_mobilenetv2(tmp_path: Path) -> None:
    ref = resolve_model({"MODEL_CACHE_DIR": str(tmp_path)})
    assert (ref.model_name, ref.weights, ref.source) == ("mobilenetv2", "random", "builtin")
    assert ref.input_spec is not None and ref.input_spec.size_px == 224


def test_resolve_lambda_default_cache_dir_is_tmp() -> None:
    from handlers.models.store import default_cache_dir

    assert default_cache_dir({"AWS_LAMBDA_FUNCTION_NAME": "f"}) == Path("/tmp/loadlab/models")
    assert default_cache_dir({"MODEL_CACHE_DIR": "/x"}) == Path("/x")


def test_resolve_user_models_by_path_and_dir(tmp_path: Path, model_cache_dir: Path) -> None:
    source = builtin_model_file("smallcnn", model_cache_dir)
    user = tmp_path / "my-net.onnx"
    user.write_bytes(source.read_bytes())
    by_path = resolve_model({"MODEL_PATH": str(user)})
    assert (by_path.model_name, by_path.weights, by_path.source, by_path.path) == ("my-net", "user", "path", user)
    by_dir = resolve_model({"MODEL_DIR": str(tmp_path), "MODEL_NAME": "my-net"})
    assert (by_dir.source, by_dir.path, by_dir.weights) == ("dir", user, "user")
    with pytest.raises(ModelError, match=r"found \['my-net.onnx'\]"):
        resolve_model({"MODEL_DIR": str(tmp_path), "MODEL_NAME": "other"})


@pytest.mark.parametrize(
    ("env", "kind"),
    [
        ({"MODEL_SOURCE": "ftp"}, "bad_model_source"),
        ({"MODEL_SOURCE": "path"}, "missing_model_setting"),
        ({"MODEL_PATH": "/no/such/model.onnx"}, "model_not_found"),
        ({"MODEL_URI": "http://example.com/m.onnx"}, "bad_model_uri"),
    ],
)
def test_resolve_errors_are_model_errors(env: dict[str, str], kind: str) -> None:
    with pytest.raises(ModelError) as info:
        resolve_model(env)
    assert info.value.kind == kind


def test_resolve_s3_downloads_into_cache_by_etag(
    tmp_path: Path, model_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    data = builtin_model_file("smallcnn", model_cache_dir).read_bytes()
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="models")
        s3.put_object(Bucket="models", Key="team/net.onnx", Body=data)
        env = {"MODEL_URI": "s3://models/team/net.onnx", "MODEL_CACHE_DIR": str(tmp_path)}
        ref = resolve_model(env)
        assert (ref.model_name, ref.weights, ref.source) == ("net", "user", "s3")
        assert ref.path.read_bytes() == data and ref.path.is_relative_to(tmp_path)
        assert resolve_model(env).path == ref.path
        with pytest.raises(ModelError, match="could not download"):
            resolve_model({**env, "MODEL_URI": "s3://models/missing.onnx"})
    assert parse_s3_uri("s3://b/k/x.onnx") == ("b", "k/x.onnx")


def test_prebuild_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from handlers.models.__main__ import main

    assert main(["build", "smallcnn", "--cache-dir", str(tmp_path), "--seed", "2"]) == 0
    built = Path(capsys.readouterr().out.strip())
    assert built.parent == tmp_path and built.name == "smallcnn-g1-seed2.onnx"
    assert main(["list"]) == 0
    assert "inceptionv3\tinput 299px" in capsys.readouterr().out
