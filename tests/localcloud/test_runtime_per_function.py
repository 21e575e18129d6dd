"""Per-function runtime and model source in one local cloud (real processes, smallcnn, one thread each).

Two API functions (OpenCV DNN on the built-in model; ONNX Runtime on the model downloaded from the local
moto S3 at init) and the gunicorn server (OpenVINO) answer with their `runtime` and `model_source`, which
land in the records; the S3 source's init (download included) is longer than the built-in one's.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from labkit.config import DEFAULT_CONFIG_DIR, load_config
from labkit.errors import ConfigError
from labkit.records import RequestRecord, iter_records
from labkit.recordwriter import RecordWriter
from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.s3 import make_client
from locustfiles.recording import Exchange, exchange_to_record

pytestmark = pytest.mark.timeout(240)
MODEL_URI = "s3://loadlab-models/smallcnn.onnx"
FUNCTION = {"handler": "handlers.lambda_api.handler", "memory_mb": 1769, "init_timeout_s": 120}
CLOUD: dict[str, Any] = {
    "model": {"name": "smallcnn", "source": "builtin"},
    "runtime": "onnxruntime",
    "functions": [
        {"name": "api-opencv", **FUNCTION, "runtime": "opencv"},
        {"name": "api-s3", **FUNCTION, "model": {"source": "s3", "path": MODEL_URI}},
        {"name": "inference-s3", "handler": "handlers.lambda_s3.handler", "memory_mb": 1769},
    ],
    "api_routes": [
        {"method": "POST", "path": "/opencv", "function": "api-opencv"},
        {"method": "POST", "path": "/s3model", "function": "api-s3"},
    ],
    "server": {"workers": 1, "boot_timeout_s": 120, "runtime": "openvino"},
}


def _config_dir(tmp_path: Path, cloud: dict[str, Any]) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "localcloud.yaml").write_text(yaml.safe_dump(cloud), encoding="utf-8")
    shutil.copy(DEFAULT_CONFIG_DIR / "targets.yaml", directory / "targets.yaml")
    return directory


def _record(url: str, image: bytes, target: str) -> RequestRecord:
    sent_s = time.time()
    response = requests.post(url, data=image, headers={"Content-Type": "image/jpeg"}, timeout=120)
    exchange = Exchange(
        request_id=uuid.uuid4().hex, intended_send_unix_s=sent_s, actual_send_unix_s=sent_s,
        completion_unix_s=time.time(), status_code=response.status_code, body=response.content,
        headers=dict(response.headers), request_bytes=len(image),
    )  # fmt: skip
    return exchange_to_record(exchange, run_id="r", source="locust", scenario="runtimes", target=target)


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.radial_gradient("L").convert("RGB").resize((320, 240)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_two_functions_two_runtimes_and_sources(tmp_path: Path, jpeg: bytes) -> None:
    config = load_config(_config_dir(tmp_path, CLOUD)).localcloud
    cache_dir = tmp_path / "models"
    cloud = LocalCloud(config, tmp_path / "cloud", CloudOptions(model_cache_dir=cache_dir))
    with cloud.start():
        faas, server = cloud.endpoints.faas_url, cloud.endpoints.server_url
        records = [_record(f"{faas}{path}", jpeg, "local-faas") for path in ("/opencv", "/s3model") * 2]
        records.append(_record(f"{server}/predict", jpeg, "local-server"))
        s3 = make_client("s3", cloud.endpoints.s3_endpoint_url)
        stored = s3.head_object(Bucket="loadlab-models", Key="smallcnn.onnx")
    with RecordWriter(tmp_path / "records.csv") as writer:
        writer.write_all(records)
    opencv, from_s3, opencv_warm, from_s3_warm, served = list(iter_records(tmp_path / "records.csv"))
    assert all(r.ok for r in (opencv, from_s3, opencv_warm, from_s3_warm, served)), [r.error_message for r in records]
    assert (opencv.runtime, opencv.model_source, opencv.weights) == ("opencv", "builtin", "random")
    assert (from_s3.runtime, from_s3.model_source, from_s3.weights) == ("onnxruntime", "s3", "random")
    assert (served.runtime, served.model_source, served.model_name) == ("openvino", "builtin", "smallcnn")
    assert opencv.cold_start and from_s3.cold_start and not opencv_warm.cold_start and not from_s3_warm.cold_start
    assert opencv_warm.runtime == "opencv" and from_s3_warm.model_source == "s3"
    assert stored["Metadata"]["loadlab-weights"] == "random"  # the local cloud uploaded the built model
    assert "GET /loadlab-models/smallcnn.onnx" in (tmp_path / "cloud" / "moto.log").read_text()  # fetched at init
    # the model load (S3 download included) is part of the handler's init, and shows in the cold start
    assert opencv.model_load_ms and from_s3.model_load_ms and opencv.handler_init_ms and from_s3.handler_init_ms
    assert opencv.model_load_ms <= opencv.handler_init_ms and from_s3.model_load_ms <= from_s3.handler_init_ms
    assert from_s3.model_load_ms > opencv.model_load_ms and from_s3.handler_init_ms > opencv.handler_init_ms
    assert from_s3.init_ms and from_s3.init_ms > from_s3.handler_init_ms  # the platform's init contains it
    assert opencv_warm.model_load_ms is None and from_s3_warm.handler_init_ms is None
    assert not list((cache_dir / "s3").rglob("*.onnx"))  # downloaded per environment, removed once loaded


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"runtime": "tensorflow"}, r"functions\[0\].runtime: 'tensorflow' is not one of"),
        ({"model": {"source": "s3"}}, r"functions\[0\].model.path: required"),
        ({"model": {"file": "x.onnx"}}, r"functions\[0\].model: unknown keys \['file'\]"),
    ],
)
def test_bad_function_runtime_or_model_is_a_config_error(tmp_path: Path, change: dict[str, Any], match: str) -> None:
    cloud = {**CLOUD, "functions": [{**CLOUD["functions"][0], **change}, *CLOUD["functions"][1:]]}
    with pytest.raises(ConfigError, match=match):
        load_config(_config_dir(tmp_path, cloud))
