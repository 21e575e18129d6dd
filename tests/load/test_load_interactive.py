"""`locust` in the repo root (web UI + locust.conf + local cloud) and Ctrl-C of `python -m locustfiles`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from labkit.net import free_port, wait_http_ok
from labkit.records import read_records
from labkit.rundir import RunDir
from locustfiles.shapes import steps

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _finished_runs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("*/report.md"))


def test_web_ui_runs_a_shape_picked_in_the_form_against_the_local_cloud(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "locust.log").open("w")
    argv = [sys.executable, "-m", "locust", "--web-port", str(port), "--lab-model", "smallcnn",
            "--lab-runs-root", str(tmp_path / "runs")]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)  # reads REPO/locust.conf
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http_ok(url + "/", timeout_s=90, what="the Locust web UI")
        page = requests.get(url + "/", timeout=10).text
        assert "lab_shape" in page and "lab_rate_rps" in page and "OpenModelShape" in page
        form = {"lab_shape": "steps", "lab_rate_rps": "8", "lab_duration_s": "4", "lab_step_count": "2",
                "lab_target": "local-server"}  # fmt: skip
        answer = requests.post(url + "/swarm", data=form, timeout=10).json()
        assert answer["success"], answer
        [run_path] = _wait_for(lambda: _finished_runs(tmp_path / "runs"), 60, "the run's report")
        run = RunDir.open(run_path)
        expected = steps(8.0, 4.0, 2).arrival_offsets_s().size
        records = run.records()
        assert len(records) == expected and all(r.target == "local-server" and r.ok for r in records)
        assert run.read_manifest()["status"] == "complete"
        assert run.read_manifest()["config"]["load"]["shape"]["shape"] == "steps"
        # its records' compactor ran in a process of its own and was stopped (it says so) before the report
        assert "segments written: " in (run_path / "logs" / "compactor.log").read_text()
        stats = requests.get(url + "/stats/requests", timeout=10).json()
        assert sum(s["num_requests"] for s in stats["stats"] if s["name"] == "predict") == expected

        # a second test from the same UI, stopped by hand: its own run dir, closed as "interrupted"
        form.update(lab_shape="constant", lab_duration_s="60", lab_target="local-faas")
        assert requests.post(url + "/swarm", data=form, timeout=10).json()["success"]
        _wait_for(lambda: len(list((tmp_path / "runs").glob("*/records/*.csv"))) == 2, 30, "the second run")
        time.sleep(3)
        requests.post(url + "/stop", timeout=10)
        second = _wait_for(lambda: [p for p in _finished_runs(tmp_path / "runs") if p != run_path], 30, "stop")
        stopped = RunDir.open(second[0])
        assert stopped.read_manifest()["status"] == "interrupted"
        assert "segments written: " in (second[0] / "logs" / "compactor.log").read_text()
        assert 0 < len(stopped.records()) < 8 * 60
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) is not None
        log.close()


def test_ctrl_c_flushes_records_and_closes_the_run_dir_as_interrupted(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "locustfiles", "--target", "local-server", "--model", "smallcnn",
            "--shape", "constant", "--rate-rps", "10", "--duration-s", "120", "--runs", str(tmp_path)]  # fmt: skip
    log = (tmp_path / "cli.log").open("w")
    proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        files = _wait_for(lambda: list(tmp_path.glob("*/records/*.csv")), 90, "a record file")
        _wait_for(lambda: len(files[0].read_text().splitlines()) > 20, 60, "20 records")
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
        assert proc.wait(timeout=90) == 130
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    [run_path] = [p for p in tmp_path.iterdir() if p.is_dir()]
    run = RunDir.open(run_path)
    assert run.read_manifest()["status"] == "interrupted"
    records = read_records(run.record_files())  # every row complete and readable
    assert len(records) >= 20 and all(r.intended_send_unix_s for r in records)  # at least those seen before Ctrl-C
    assert files[0].read_text().endswith("\n")
    assert "interrupted" in (tmp_path / "cli.log").read_text()
