"""The run context owns every process of a plan: kill -9 of the runner or Ctrl-C leaves nothing running,
the run says `interrupted`, and the records up to then are kept and analysable."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from experiments_helpers import (
    alive,
    descendants,
    group_members,
    manifest,
    run_dir,
    start_runner,
    wait_records,
    write_plan,
)

from analysis.report import write_report

pytestmark = pytest.mark.timeout(240)

PLAN = """workloads:
  - name: function
    kind: http
    target: function
    shape: {kind: constant, peak_rps: 20, duration_s: 120}
  - name: server
    kind: http
    target: server
    shape: {kind: constant, peak_rps: 20, duration_s: 120}
"""


def _started(tmp_path: Path, reaper: list[int]) -> tuple[object, Path, list[int], set[int]]:
    runs = tmp_path / "runs"
    proc = start_runner(write_plan(tmp_path, PLAN), runs)
    reaper.append(proc.pid)
    run = run_dir(runs)
    wait_records(run, 20, files=2)
    pids = descendants(proc.pid)
    reaper.extend(pids)
    guardian = manifest(run)["guardian_pid"]
    pgids = {os.getpgid(p) for p in alive(pids)} - {os.getpgid(0)}
    return proc, run, [*pids, guardian], pgids


def test_kill_9_of_the_runner_stops_everything_and_marks_the_run_interrupted(tmp_path: Path, reaper: list[int]) -> None:
    proc, run, pids, pgids = _started(tmp_path, reaper)
    assert len(pids) >= 5, pids  # guardian, moto, gunicorn + workers, 2 Locust, environments
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    killed_at = time.monotonic()
    while alive(pids) and time.monotonic() - killed_at < 5.0:
        time.sleep(0.05)
    assert alive(pids) == [], f"still alive 5 s after kill -9: {alive(pids)}"
    assert group_members(pgids) == []
    status = manifest(run)
    assert status["status"] == "interrupted" and "died" in status["note"]
    files = write_report(run)  # what was recorded up to the kill is analysable
    assert "interrupted" in files.markdown.read_text()


def test_ctrl_c_exits_130_with_status_interrupted_and_no_process_left(tmp_path: Path, reaper: list[int]) -> None:
    proc, run, pids, pgids = _started(tmp_path, reaper)
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert alive(pids) == [] and group_members(pgids) == []
    status = manifest(run)
    assert status["status"] == "interrupted" and status["ended_unix_s"]
    records = list((run / "records").glob("locust-*.csv"))
    assert len(records) == 2 and all(len(p.read_bytes().splitlines()) > 1 for p in records)
