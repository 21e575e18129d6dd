"""The chained S3 pipelines on a real local cloud (moto S3, the function platform, gunicorn; smallcnn):
S3 upload -> inference-s3-forward -> the server, and S3 upload -> inference-s3-chain -> a second function.

Each upload gives exactly one end-to-end record with its hop's timings: end to end >= the triggered function's
own time >= the time it spent in the hop, and its REPORT duration >= both of the latter; a failed hop (a second
function with a bad model, the server stopped) is an error result naming that hop, nothing lost.
"""

from __future__ import annotations

import io
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from labkit.config import DEFAULT_CONFIG_DIR, load_config
from labkit.records import RequestRecord
from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.s3 import make_client
from replay.collect import final_join, report_lines
from replay.results import fetch_results

pytestmark = pytest.mark.timeout(240)
S3_FN = {"memory_mb": 1024, "timeout_s": 60, "init_timeout_s": 120, "concurrency_limit": 2}
CLOUD: dict[str, Any] = {
    "model": {"name": "smallcnn", "source": "builtin"},
    "functions": [
        {"name": "inference-api", "handler": "handlers.lambda_api.handler", "memory_mb": 1769},
        {"name": "inference-s3-forward", "handler": "handlers.lambda_s3_forward.handler", **S3_FN},
        {"name": "inference-s3-chain", "handler": "handlers.lambda_s3_chain.handler", **S3_FN,
         "environment": {"CHAIN_FUNCTION": "inference-chain-target"}},
        {"name": "inference-s3-chain-bad", "handler": "handlers.lambda_s3_chain.handler", **S3_FN,
         "environment": {"CHAIN_FUNCTION": "inference-chain-bad"}},
        {"name": "inference-chain-target", "handler": "handlers.lambda_api.handler", "memory_mb": 1769,
         "init_timeout_s": 120},
        {"name": "inference-chain-bad", "handler": "handlers.lambda_api.handler", "memory_mb": 1769,
         "init_timeout_s": 120, "environment": {"MODEL_SOURCE": "path", "MODEL_PATH": "/nonexistent/bad.onnx"}},
    ],
    "api_routes": [{"method": "POST", "path": "/predict", "function": "inference-api"}],
    "server": {"workers": 1, "boot_timeout_s": 120},
    "s3": {"trigger_function": "inference-s3-forward"},
}  # fmt: skip


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    tmp = tmp_path_factory.mktemp("chained")
    directory = tmp / "config"
    directory.mkdir()
    (directory / "localcloud.yaml").write_text(yaml.safe_dump(CLOUD), encoding="utf-8")
    shutil.copy(DEFAULT_CONFIG_DIR / "targets.yaml", directory / "targets.yaml")
    config = load_config(directory).localcloud
    with LocalCloud(config, tmp / "cloud", CloudOptions(model_cache_dir=tmp / "models")).start() as started:
        yield started


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.radial_gradient("L").convert("RGB").resize((320, 240)).save(buffer, "JPEG")
    return buffer.getvalue()


def _upload_and_join(cloud: LocalCloud, trigger: str, image: bytes) -> tuple[RequestRecord, dict[str, Any]]:
    """Route uploads to `trigger`, upload one image, wait for its result: (the joined record, the document)."""
    cloud.s3_trigger = trigger
    e = cloud.endpoints
    s3 = make_client("s3", e.s3_endpoint_url)
    key = f"uploads/{trigger}/{uuid.uuid4().hex}.jpg"
    sent_s = time.time()
    s3.put_object(Bucket=e.input_bucket, Key=key, Body=image, ContentType="image/jpeg")
    upload = RequestRecord.timed(intended_send_unix_s=sent_s, actual_send_unix_s=sent_s, completion_unix_s=time.time(),
                                 run_id="r", request_id=key, source="replay", scenario=trigger, target="local-s3",
                                 operation="s3-put", object_key=key, request_bytes=len(image))  # fmt: skip
    deadline = time.monotonic() + 120
    docs: dict[str, dict[str, Any]] = {}
    while key not in docs and time.monotonic() < deadline:
        docs = fetch_results(s3, e.output_bucket, [key])
        time.sleep(0.2)
    assert key in docs, f"no result for {key} through {trigger}"
    report_deadline = time.monotonic() + 10  # the REPORT line follows the result object closely
    while True:
        reports = report_lines([Path(e.aggregate_log)])
        if docs[key].get("function_request_id") in reports or time.monotonic() > report_deadline:
            break
        time.sleep(0.1)
    records = final_join([upload], docs, reports, lambda k: "missing")
    assert len(records) == 1, "one upload gives exactly one end-to-end record"
    return records[0], docs[key]


@pytest.mark.parametrize(("trigger", "hop"), [("inference-s3-forward", "server"), ("inference-s3-chain", "function")])
def test_pipeline_gives_one_record_with_hop_timings(cloud: LocalCloud, jpeg: bytes, trigger: str, hop: str) -> None:
    record, doc = _upload_and_join(cloud, trigger, jpeg)
    assert record.ok, record.error_message
    assert record.operation == "s3-infer" and record.hops == 1
    assert [h["hop"] for h in doc["hops"]] == [hop] and doc["hops"][0]["ok"] is True
    assert doc["hops"][0]["status_code"] == 200 and doc["hops"][0]["inference_ms"] > 0
    assert record.model_name == "smallcnn" and record.inference_ms is not None
    assert record.upstream_ms is not None and record.upstream_ms > 0
    assert record.duration_ms is not None, "the triggered function's REPORT line is joined"
    assert record.latency_ms is not None and record.handler_ms is not None
    # end to end (upload -> the function's completion stamp) >= the function's own time to that stamp >= the
    # time it waited on the hop; the platform's duration holds the handler's time plus the result write and
    # the runtime's overhead (measured here: a few ms to a few hundred on a busy machine); 1 ms: rounding
    assert record.latency_ms + 1.0 >= record.handler_ms >= record.upstream_ms - 1.0
    overhead_ms = record.duration_ms - record.handler_ms
    assert -1.0 <= overhead_ms < 5000.0, f"REPORT duration {record.duration_ms} vs handler {record.handler_ms}"
    assert record.duration_ms >= record.upstream_ms


def test_a_failing_second_function_is_an_error_of_its_hop(cloud: LocalCloud, jpeg: bytes) -> None:
    record, doc = _upload_and_join(cloud, "inference-s3-chain-bad", jpeg)
    assert not record.ok and record.error_kind == "function_error"
    assert record.error_message.startswith("function hop: http_5xx: 500")
    assert doc["error"]["hop"] == "function" and doc["hops"][0]["target"] == "inference-chain-bad"
    assert record.hops == 1 and record.upstream_ms is not None


def test_a_stopped_server_is_an_error_of_the_server_hop(cloud: LocalCloud, jpeg: bytes) -> None:
    cloud._stop_server()  # last test of the module: the server does not come back
    record, doc = _upload_and_join(cloud, "inference-s3-forward", jpeg)
    assert not record.ok and record.error_kind == "function_error"
    assert record.error_message.startswith("server hop: connection:"), record.error_message
    assert doc["error"] == {**doc["error"], "hop": "server", "kind": "connection"}
    assert record.hops == 1 and record.duration_ms is not None
