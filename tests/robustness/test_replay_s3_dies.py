"""A replay whose S3 endpoint dies mid-run (moto killed) ends non-zero with status `failed`, says how many
uploads failed, and prints the command that resumes it: never `complete` with exit 0."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localcloud.s3 import MotoS3Server

pytestmark = pytest.mark.timeout(180)
REPO = Path(__file__).resolve().parents[2]


def _flat_trace(path: Path, minutes: int = 10, per_minute: int = 100) -> Path:
    rows = [f"1998-06-30T19:{m:02d}:00Z,{per_minute}" for m in range(minutes)]
    path.write_text("time,count\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_s3_dying_mid_replay_fails_the_run_with_the_resume_command(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with MotoS3Server(log_path=tmp_path / "moto.log") as moto:
        moto.client("s3").create_bucket(Bucket="dies-in")
        argv = [sys.executable, "-m", "replay", str(_flat_trace(tmp_path / "flat.csv")), "--s3-endpoint",
                moto.endpoint_url, "--bucket", "dies-in", "--window", "all", "--speedup", "60", "--peak-rps", "20",
                "--process", "uniform", "--max-attempts", "2", "--runs", str(runs), "--no-report"]  # fmt: skip
        proc = subprocess.Popen(argv, cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = list(runs.glob("*/records/replay.csv"))
            if found and found[0].read_text().count(",true,") >= 20:
                break
            time.sleep(0.05)
        moto.stop()  # S3 goes away with most of the schedule still to send
        _out, err = proc.communicate(timeout=150)
    assert proc.returncode == 4, err[-2000:]
    [run] = list(runs.iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert any("uploads failed" in p for p in manifest["problems"])
    assert f"python -m replay --resume {run}" in err
