"""`--target aws` of a shipped plan, with no traffic leaving the host: a stand-in for the deployed stack on
loopback (moto's S3 server and the local function platform and server, as `python -m awslab deploy` would
have written them into the endpoints file), reached through boto3's standard endpoint variables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from awslab.endpoints import Endpoints, write_endpoints
from experiments.__main__ import main
from labkit.config import ModelConfig, load_config
from labkit.rundir import RunDir
from localcloud.cloud import TEST_CREDENTIALS, CloudOptions, LocalCloud

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCloud]:
    options = CloudOptions(keepalive_s=120, model=ModelConfig(name="smallcnn"))
    with LocalCloud(load_config().localcloud, tmp_path / "stack", options).start() as cloud:
        e = cloud.endpoints
        outputs = {"HttpApiUrl": e.faas_url, "Ec2Url": e.server_url, "InputBucketName": e.input_bucket,
                   "OutputBucketName": e.output_bucket, "ApiFunctionName": "inference-api",
                   "S3FunctionName": "inference-s3"}  # fmt: skip
        endpoints = Endpoints.from_outputs("loadlab-test", "us-east-1", outputs, "http")
        path = write_endpoints(endpoints, tmp_path / "ep.json")
        monkeypatch.setenv("LOADLAB_AWS_ENDPOINTS", str(path))
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", e.s3_endpoint_url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", e.faas_url)
        for key, value in TEST_CREDENTIALS.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("LOADLAB_LAMBDA_URL", raising=False)
        monkeypatch.delenv("LOADLAB_EC2_URL", raising=False)
        yield cloud


def test_demo_plan_runs_unchanged_against_the_deployed_endpoints(tmp_path: Path, stack: LocalCloud) -> None:
    assert main(["run", "demo", "--target", "aws", "--yes", "--quick", "--runs", str(tmp_path / "runs")]) == 0
    [path] = list((tmp_path / "runs").iterdir())
    run = RunDir.open(path)
    manifest = run.read_manifest()
    assert manifest["status"] == "complete", manifest["problems"]
    plan = json.loads((path / "plan.json").read_text())
    assert plan["target"] == "aws" and plan["safety"]["allow_remote"] is True
    records = run.records()
    assert {r.target for r in records if r.scenario == "function"} == {"lambda"}
    assert {r.target for r in records if r.scenario == "server"} == {"ec2"}
    uploads = [r for r in records if r.operation == "s3-put" and r.ok]
    assert uploads and all(r.target == "s3" for r in uploads)
