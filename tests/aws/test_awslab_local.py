"""`python -m awslab ... --target local`: the published experiments, unchanged, against the local cloud's function
platform (real environment processes on loopback, smallcnn model): no AWS, no credentials, no --yes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from labkit.config import REPO_ROOT
from labkit.records import iter_records
from labkit.reportlog import iter_report_lines
from labkit.rundir import latest_run

pytestmark = pytest.mark.timeout(240)


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


@pytest.fixture
def local_env(aws_env: None, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """No AWS credentials at all, no endpoints file; the smallcnn model from a per-session cache."""
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    env["LOADLAB_AWS_ENDPOINTS"] = str(tmp_path / "no-endpoints.json")
    env["MODEL_CACHE_DIR"] = str(tmp_path_factory.getbasetemp() / "awslab-local-models")
    return env


def test_memory_sweep_against_the_local_cloud(local_env: dict[str, str], tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    common = ["--target", "local", "--local-model", "smallcnn", "--runs", str(runs), "--update-delay-s", "1"]
    done = _cli(["memory-sweep", "--memory-mb", "256,512,1024", "--cold", "2", "--warm", "2", *common], local_env)
    assert done.returncode == 0, done.stderr
    run = latest_run(runs)
    manifest = run.read_manifest()
    assert manifest["status"] == "complete" and manifest["records"] == 12
    assert manifest["config"]["target"]["name"] == "local-faas" and manifest["endpoints"]["faas_url"]
    records = list(iter_records(run.records_dir / "awslab.csv"))
    assert Counter(r.scenario for r in records) == {
        f"memory-{m}-{p}": 2 for m in (256, 512, 1024) for p in ("cold", "warm")
    }
    assert all(r.ok and r.target == "local-faas" for r in records)
    for record in records:
        memory = int(record.scenario.split("-")[1])
        assert record.memory_mb == memory, record
        assert record.cold_start is record.scenario.endswith("-cold"), record
        assert (record.init_ms is not None) is record.cold_start
        assert record.billed_ms  # joined from the platform's REPORT lines
    cold = [r for r in records if r.cold_start]
    assert len({r.instance_id for r in cold}) == 6  # every cold request ran in a new environment
    for memory in (256, 512, 1024):  # the warm ones reuse the last cold environment of their setting
        setting = [r for r in records if r.scenario.startswith(f"memory-{memory}-")]
        assert {r.instance_id for r in setting if not r.cold_start} == {setting[1].instance_id}
    reports = list(iter_report_lines(run.logs_dir / "cloudwatch" / "local-faas.log"))
    assert sorted(r.memory_size_mb for r in reports if r.cold_start) == [256, 256, 512, 512, 1024, 1024]
    assert manifest["local_collect"]["records_matched"] == 12
    stats = manifest["platform_stats"]["functions"]["inference-api"]
    assert stats["cold_starts"] == 6 and stats["memory_mb"] == 1769  # restored after the sweep
    assert "--yes" not in done.stderr and "error" not in done.stderr.lower()
    again = _cli(["collect", str(run.path)], local_env)  # a later collection reads the platform's log again
    assert again.returncode == 0 and "'records_matched': 12" in again.stdout, again.stderr


def test_burst_and_cold_starts_against_the_local_cloud(local_env: dict[str, str], tmp_path: Path) -> None:
    common = ["--target", "local", "--local-model", "smallcnn", "--update-delay-s", "1"]
    done = _cli(["burst", "--sizes", "3", "--runs", str(tmp_path / "burst"), *common], local_env)
    assert done.returncode == 0, done.stderr
    records = list(iter_records(latest_run(tmp_path / "burst").records_dir / "awslab.csv"))
    by = Counter((r.scenario, r.cold_start) for r in records)
    assert by == {("burst-3-cold", True): 3, ("burst-3-warm", False): 3}
    done = _cli(["cold-starts", "--count", "2", "--warm", "1", "--runs", str(tmp_path / "cold"), *common], local_env)
    assert done.returncode == 0, done.stderr
    records = list(iter_records(latest_run(tmp_path / "cold").records_dir / "awslab.csv"))
    assert [(r.scenario, r.cold_start) for r in records] == [("cold-forced", True), ("cold-forced-warm", False)] * 2


def test_a_load_phase_counts_its_records_in_the_run(local_env: dict[str, str], tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    args = ["memory-sweep", "--memory-mb", "256", "--cold", "1", "--warm", "1", "--load-rate-rps", "5"]
    args += ["--load-duration-s", "2", "--target", "local", "--local-model", "smallcnn", "--runs", str(runs)]
    done = _cli([*args, "--update-delay-s", "1"], local_env)
    assert done.returncode == 0, done.stderr
    run = latest_run(runs)
    per_file = {path.name: sum(1 for _ in iter_records(path)) for path in run.record_files()}
    assert per_file.pop("awslab.csv") == 2 and sum(per_file.values()) == 10  # Locust's file: 5 req/s for 2 s
    assert run.read_manifest()["records"] == 12  # the lab's records and its load phase's, not the lab's alone
    assert f"12 records in {run.path}" in done.stderr + done.stdout
