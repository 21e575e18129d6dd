"""Helpers for running `python -m experiments` as a real child process on a small plan (model smallcnn)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def write_plan(tmp_path: Path, body: str, name: str = "small") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\ncloud: {{model: smallcnn, keepalive_s: 120}}\n{body}", encoding="utf-8")
    return path


def start_runner(plan: Path, runs: Path, *extra: str) -> subprocess.Popen[bytes]:
    """The experiment runner in a session of its own (a test signals it, not its own process group)."""
    argv = [sys.executable, "-m", "experiments", "run", str(plan), "--runs", str(runs), "--no-report", *extra]
    log = (runs.parent / f"{plan.stem}-runner.log").open("wb")
    return subprocess.Popen(argv, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def run_dir(runs: Path, timeout_s: float = 30.0) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [p for p in runs.glob("*/") if (p / "manifest.json").is_file()] if runs.is_dir() else []
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no run dir under {runs} within {timeout_s} s")


def wait_records(run: Path, count: int, files: int = 1, timeout_s: float = 90.0) -> None:
    """Until `files` record files each hold at least `count` rows (every workload is sending)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = sorted(max(0, len(p.read_bytes().splitlines()) - 1) for p in (run / "records").glob("*.csv"))
        if len(rows) >= files and rows[-files] >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {files} record files of {count} rows in {run} after {timeout_s} s")


def manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text(encoding="utf-8"))


def descendants(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.Error:
            continue
    return out


def group_members(pgids: set[int]) -> list[int]:
    out = []
    for proc in psutil.process_iter(["status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) in pgids:
                out.append(proc.pid)
        except (psutil.Error, ProcessLookupError):
            continue
    return out


@pytest.fixture
def reaper() -> Iterator[list[int]]:
    """Pids a test started; anything left is killed at the end (a failing test leaves nothing behind)."""
    pids: list[int] = []
    yield pids
    for pid in alive(pids):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
