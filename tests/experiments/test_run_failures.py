"""A run whose load processes fail is never `complete`: a Locust master that cannot bind its private port, and a
worker that dies and so sends nothing of its share, both end the run `failed` with a non-zero exit."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import psutil
import pytest
from experiments_helpers import manifest, run_dir, start_runner, wait_records, write_plan

import experiments.launch
from experiments.__main__ import main

pytestmark = pytest.mark.timeout(240)

TWO_PROCESSES = """workloads:
  - name: server
    kind: http
    target: server
    processes: 2
    shape: {kind: constant, peak_rps: 10, duration_s: 20}
"""


def test_master_port_taken_ends_failed_not_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    with socket.socket() as foreign:  # someone else's server on the port the master is given
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        monkeypatch.setattr(experiments.launch, "free_port", lambda: foreign.getsockname()[1])
        code = main(["run", str(write_plan(tmp_path, TWO_PROCESSES)), "--runs", str(tmp_path / "runs"), "--no-report"])
    assert code == 4
    [run] = list((tmp_path / "runs").iterdir())
    status = manifest(run)
    assert status["status"] == "failed"
    said = " ".join([*status["problems"], status.get("error", "")])
    assert "locust server exited" in said and "Address already in use" in said
    assert "locust server exited" in capsys.readouterr().err


def _locust_workers(runner_pid: int) -> list[psutil.Process]:
    """Forked Locust workers: Locust processes whose parent is itself a Locust process."""
    procs = psutil.Process(runner_pid).children(recursive=True)
    locusts = {p.pid for p in procs if "locust" in " ".join(p.cmdline())}
    return [p for p in procs if p.pid in locusts and p.ppid() in locusts]


def test_a_worker_that_dies_leaves_its_share_missing_and_the_run_failed(tmp_path: Path, reaper: list[int]) -> None:
    runs = tmp_path / "runs"
    proc = start_runner(write_plan(tmp_path, TWO_PROCESSES), runs)
    reaper.append(proc.pid)
    run = run_dir(runs)
    wait_records(run, 5, files=2)
    workers = _locust_workers(proc.pid)
    assert len(workers) == 2, workers
    os.kill(workers[0].pid, signal.SIGKILL)
    deadline = time.monotonic() + 180
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert proc.returncode == 4
    status = manifest(run)
    assert status["status"] == "failed"
    assert any("scheduled requests have no record" in p for p in status["problems"]), status["problems"]
