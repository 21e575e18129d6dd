"""The experiments: the configuration calls they make on moto's Lambda (update_function_configuration with
MemorySize / the cold-start bump, then the function_updated waiter), the records they leave, and the CLI end
to end: deploy, lambda target, experiment, collection of the REPORT lines from moto's CloudWatch Logs.
Invocation runs through `FakeFront` (aws_testkit): moto's Lambda cannot invoke without Docker."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_testkit import IMAGE_URI, TEMPLATE, FakeFront

from awslab.experiments import Lab, bursts, cold_starts, memory_sweep, probes
from awslab.functions import COLD_BUMP_VAR, UpdateBound
from awslab.invoke import http_sender, predict_payload
from awslab.params import DeployOptions
from awslab.stack import WaitBound, deploy_stack
from labkit.config import REPO_ROOT
from labkit.records import iter_records
from labkit.rundir import RunDir, latest_run

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")
FUNCTION, LOG_GROUP = "loadlab-inference", "/aws/lambda/loadlab-inference"


def _deploy(endpoint: str) -> None:
    cf = boto3.client("cloudformation", endpoint_url=endpoint, region_name="us-east-1")
    params = DeployOptions(image_uri=IMAGE_URI).parameters()
    deploy_stack(cf, "loadlab", TEMPLATE.read_text(), params, WaitBound(1, 30), lambda _m: None)


def _lab(endpoint: str, front: FakeFront, root: Path, calls: list[tuple[str, dict[str, Any]]]) -> Lab:
    lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1")

    def record_call(params: dict[str, Any], model: Any, **_kw: Any) -> None:
        calls.append((model.name, dict(params)))

    lam.meta.events.register("provide-client-params.lambda.*", record_call)
    run = RunDir.create(root, "test", {})
    return Lab(
        run=run,
        writer=run.writer("awslab"),
        lam=lam,
        function=FUNCTION,
        progress=lambda _m: None,
        sender=http_sender(front.url + "/predict", predict_payload(b"\xff\xd8 jpeg")),
        bound=UpdateBound(delay_s=1, max_attempts=10, conflict_sleep_s=0.1),
    )


def test_memory_sweep_updates_waits_and_records_each_setting(moto_server: str, tmp_path: Path) -> None:
    _deploy(moto_server)
    calls: list[tuple[str, dict[str, Any]]] = []
    with FakeFront(moto_server, FUNCTION, LOG_GROUP) as front:
        lab = _lab(moto_server, front, tmp_path, calls)
        memory_sweep(lab, [512, 2048], cold_count=2, warm_count=3, load=None)
        lab.writer.close()
    updates = [params for name, params in calls if name == "UpdateFunctionConfiguration"]
    assert [u.get("MemorySize") for u in updates] == [512, None, 2048, None, 1024]  # restored at the end
    bumps = [u["Environment"]["Variables"] for u in updates if "Environment" in u]
    assert [b[COLD_BUMP_VAR] for b in bumps] == [f"{lab.run.run_id}-1", f"{lab.run.run_id}-2"]
    assert all(b["MODEL_NAME"] == "mobilenetv2" for b in bumps)  # the other variables are kept
    names = [name for name, _ in calls]
    for index, name in enumerate(names):  # every update is followed by the waiter's polls
        if name == "UpdateFunctionConfiguration":
            assert names[index + 1] == "GetFunctionConfiguration"
    records = list(iter_records(lab.run.records_dir / "awslab.csv"))
    assert Counter(r.scenario for r in records) == {
        "memory-512-cold": 2,
        "memory-512-warm": 3,
        "memory-2048-cold": 2,
        "memory-2048-warm": 3,
    }
    assert all(r.ok and r.memory_mb == int(r.scenario.split("-")[1]) for r in records)
    assert [r.cold_start for r in records if r.scenario.endswith("cold")] == [True] * 4
    assert [r.cold_start for r in records if r.scenario.endswith("warm")] == [False] * 6


def test_bursts_cold_and_warm_cold_starts_and_probes(moto_server: str, tmp_path: Path) -> None:
    _deploy(moto_server)
    calls: list[tuple[str, dict[str, Any]]] = []
    with FakeFront(moto_server, FUNCTION, LOG_GROUP) as front:
        lab = _lab(moto_server, front, tmp_path, calls)
        bursts(lab, [1, 4], cold=True, warm=True)
        cold_starts(lab, count=2, warm_after=1)
        slept: list[float] = []
        lab.sleep = slept.append
        probes(lab, [60.0, 600.0], repeats=1)
        lab.writer.close()
    records = list(iter_records(lab.run.records_dir / "awslab.csv"))
    by = Counter((r.scenario, r.cold_start) for r in records)
    assert by[("burst-4-cold", True)] == 4 and by[("burst-4-warm", False)] == 4  # N environments, then reused
    assert by[("burst-1-cold", True)] == 1 and by[("cold-forced", True)] == 2 and by[("cold-forced-warm", False)] == 2
    burst4 = [r for r in records if r.scenario == "burst-4-cold"]
    assert len({r.intended_send_unix_s for r in burst4}) == 1  # released together
    assert slept == [60.0, 600.0] and {r.scenario for r in records} >= {"probe-idle-60s", "probe-idle-600s"}
    assert sum(name == "UpdateFunctionConfiguration" for name, _ in calls) == 4  # 2 cold bursts + 2 forced


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "awslab", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO_ROOT,
        env=env,
        check=False,
    )


def test_cli_deploy_then_experiments_then_collection(moto_server: str, tmp_path: Path) -> None:
    env = {**os.environ, "LOADLAB_AWS_ENDPOINTS": str(tmp_path / "aws-endpoints.json")}
    aws = ["--endpoint-url", moto_server]
    deployed = _cli(["deploy", "--image-uri", IMAGE_URI, "--wait-delay-s", "1", *aws], env)
    assert deployed.returncode == 0, deployed.stderr
    runs = tmp_path / "runs"
    with FakeFront(moto_server, FUNCTION, LOG_GROUP) as front:
        env["LOADLAB_LAMBDA_URL"] = front.url  # API Gateway's stand-in (the env variable wins over the file)
        common = ["--runs", str(runs), "--collect-wait-s", "0", "--update-delay-s", "1", *aws]
        done = _cli(["burst", "--sizes", "1,3", *common], env)
        assert done.returncode == 0, done.stderr
        run = latest_run(runs)
        swept = _cli(["memory-sweep", "--memory-mb", "256", "--cold", "1", "--warm", "2", *common], env)
        assert swept.returncode == 0, swept.stderr
    records = list(iter_records(run.records_dir / "awslab.csv"))
    assert len(records) == 8 and all(r.ok for r in records)
    assert all(r.billed_ms and r.duration_ms == 36.42 for r in records)  # joined from the collected REPORT lines
    manifest = run.read_manifest()
    assert manifest["status"] == "complete" and manifest["aws_collect"]["records_matched"] == 8
    assert manifest["config"]["aws"]["functions"]["api"] == FUNCTION
    collected = {p.stem for p in (run.logs_dir / "cloudwatch").glob("*.log")}  # every function's log group
    functions = manifest["config"]["aws"]["functions"]
    assert collected == {f"aws_lambda_{functions[k]}" for k in ("api", "s3", "s3_forward", "s3_chain", "chain_target")}
    (sweep,) = [RunDir(p) for p in runs.iterdir() if RunDir(p).read_manifest()["scenario"] == "memory-sweep"]
    assert {r.memory_mb for r in iter_records(sweep.records_dir / "awslab.csv")} == {256}
    refused = _cli(["cold-starts", "--runs", str(runs)], {**env, "LOADLAB_LAMBDA_URL": "https://example.com"})
    assert refused.returncode == 2 and "--yes" in refused.stderr
