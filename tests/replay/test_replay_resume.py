"""Kill -9 a replay mid-run, then --resume: every schedule index ends uploaded exactly once, nothing doubled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from replay_traces import write_counts

from labkit.records import iter_records
from localcloud.s3 import MotoS3Server

pytestmark = pytest.mark.timeout(120)
REPO = Path(__file__).resolve().parents[2]
UPLOADS = 100  # 10 one-minute bins of 100 at peak 20/s, 120x faster: 5 s


def _replay(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "replay", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def _ok_rows(csv_path: Path) -> int:
    return csv_path.read_text(encoding="utf-8").count(",true,") if csv_path.is_file() else 0


def _kill_when(proc: subprocess.Popen[str], runs: Path, min_ok: int, timeout_s: float = 60.0) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        found = list(runs.glob("*/records/replay.csv"))
        if found and _ok_rows(found[0]) >= min_ok:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            return found[0].parent.parent
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"replay did not reach {min_ok} uploads in time: {proc.communicate()[1][-2000:]}")


def test_resume_after_kill_9_uploads_every_index_exactly_once(moto: MotoS3Server, tmp_path: Path) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="resume-in")
    trace = write_counts(tmp_path / "flat.csv", [100] * 10)
    runs = tmp_path / "runs"
    common = ["--s3-endpoint", moto.endpoint_url, "--no-report"]
    first = _replay(str(trace), *common, "--bucket", "resume-in", "--window", "all", "--speedup", "120",
                    "--peak-rps", "20", "--process", "uniform", "--runs", str(runs))  # fmt: skip
    run_dir = _kill_when(first, runs, min_ok=30)
    # killed: the run's guardian stops what the replay started and marks the run interrupted within seconds
    deadline = time.monotonic() + 10
    while json.loads((run_dir / "manifest.json").read_text())["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"
    before = [r for r in iter_records(run_dir / "records" / "replay.csv") if r.ok]
    assert 30 <= len(before) < UPLOADS

    second = _replay("--resume", str(run_dir), *common)
    out, err = second.communicate(timeout=90)
    assert second.returncode == 0, err[-3000:]
    assert f"{UPLOADS} of {UPLOADS} ok" in out

    records = list(iter_records(run_dir / "records" / "replay.csv"))
    ok_per_key = Counter(r.object_key for r in records if r.ok)
    run_id = run_dir.name
    assert len(ok_per_key) == UPLOADS and set(ok_per_key.values()) == {1}  # every index once, none twice
    indexes = sorted(int(key.rsplit("/", 1)[1][:8]) for key in ok_per_key)
    assert indexes == list(range(UPLOADS))
    listed = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="resume-in",
              Prefix=f"uploads/{run_id}/") for o in page.get("Contents", [])]  # fmt: skip
    assert sorted(listed) == sorted(ok_per_key)

    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["uploads_ok"] == UPLOADS
    [segment] = manifest["segments"]  # the killed segment 0 never wrote its entry
    assert segment["segment"] == 1 and manifest["segments_started"] == 2
    assert segment["pending_at_start"] == UPLOADS - len(before) and segment["ok"] == segment["pending_at_start"]
    resumed = [r for r in records if r.ok and r.actual_send_unix_s > before[-1].completion_unix_s]
    assert resumed and max(r.send_lag_ms for r in resumed) < 5000  # re-based: not late by the pause


def test_ctrl_c_lets_uploads_finish_marks_the_run_interrupted_and_says_how_to_resume(
    moto: MotoS3Server, tmp_path: Path
) -> None:
    moto.client("s3").create_bucket(Bucket="sigint-in")
    trace = write_counts(tmp_path / "flat.csv", [100] * 10)
    runs = tmp_path / "runs"
    proc = _replay(str(trace), "--s3-endpoint", moto.endpoint_url, "--bucket", "sigint-in", "--window", "all",
                   "--speedup", "60", "--peak-rps", "20", "--runs", str(runs), "--no-report")  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (found := list(runs.glob("*/records/replay.csv"))):
        time.sleep(0.05)
    while time.monotonic() < deadline and _ok_rows(found[0]) < 20:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    run_dir = found[0].parent.parent
    assert proc.returncode == 130, err[-2000:]
    assert f"--resume {run_dir}" in err
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["segments"][0]["status"] == "interrupted"
    records = list(iter_records(run_dir / "records" / "replay.csv"))
    assert 20 <= len(records) < 200 and all(r.ok for r in records)  # in-flight ones finished and were kept
    assert manifest["uploads_ok"] == len(records)
