"""Trustworthy runs, item 10: the Locust master of `--processes N` listens on loopback only (locust.conf), and
the log says so when a master is bound to a non-loopback address."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from labkit.net import free_port
from locustfiles.labcloud import is_loopback, open_master_warning

REPO = Path(__file__).resolve().parents[2]


def _listening(pid: int, port: int) -> list[str]:
    """The addresses process `pid` listens on at TCP `port`."""
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.NoSuchProcess:
        return []
    return [c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN and c.laddr.port == port]


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C to the master and its forked workers (a worker outlives a master killed alone), then SIGKILL."""
    os.killpg(proc.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=60)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.mark.timeout(120)
def test_processes_master_listens_on_loopback_only(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "locust", "--processes", "2", "--headless", "--master-bind-port", str(port),
            "--master-port", str(port), "--host", "http://127.0.0.1:9", "--lab-shape", "constant",
            "--lab-rate-rps", "1", "--lab-duration-s", "60", "--lab-runs-root", str(tmp_path / "runs")]  # fmt: skip
    log = (tmp_path / "locust.log").open("w")
    proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,  # reads REPO/locust.conf
                            start_new_session=True)  # fmt: skip
    try:
        deadline, addresses = time.monotonic() + 60, []
        while not addresses and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.3)
            addresses = _listening(proc.pid, port)
        assert addresses, f"the master never listened on {port}: {(tmp_path / 'locust.log').read_text()[-2000:]}"
        assert addresses == ["127.0.0.1"]
    finally:
        _stop_group(proc)
        log.close()
    assert "not loopback" not in (tmp_path / "locust.log").read_text()


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                                ("localhost", True), ("*", False), ("0.0.0.0", False),
                                                ("192.168.1.5", False), ("", False)])  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_master_on_all_interfaces_is_reported() -> None:
    """(Pure: importing Locust here would monkey-patch ssl inside the test process after others imported it.)"""
    warning = open_master_warning("*", 5557)
    assert warning is not None and "*:5557" in warning and "--master-bind-host 127.0.0.1" in warning
    assert open_master_warning("127.0.0.1", 5557) is None
