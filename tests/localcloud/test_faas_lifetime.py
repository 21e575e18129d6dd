"""No environment process outlives the platform: Ctrl-C (atexit) and even a SIGKILLed platform."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

FIXTURES = Path(__file__).resolve().parent
pytestmark = pytest.mark.timeout(60)

SCRIPT = """
import json, signal, sys, threading, time
from pathlib import Path
from localcloud.faas.platform import Platform
from localcloud.faas.spec import FunctionSpec

signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored (sh's `&`)
fixtures, log_dir = Path(sys.argv[1]), Path(sys.argv[2])
specs = [FunctionSpec(name=name, handler="faas_fixture_handlers.sleep", python_path=(fixtures,)) for name in "fg"]
platform = Platform(specs, log_dir)  # deliberately never closed by this script
platform.invoke("f", b"{}")
threading.Thread(target=platform.invoke, args=("g", b'{"sleep_ms": 30000}'), daemon=True).start()
while len(platform.environments()) < 2 or platform.stats()["functions"]["g"]["environments_busy"] < 1:
    time.sleep(0.02)
print(json.dumps([env["pid"] for env in platform.environments()]), flush=True)
while True:
    time.sleep(0.05)
"""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _run_platform_process(tmp_path: Path) -> tuple[subprocess.Popen[str], list[int]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(FIXTURES), str(tmp_path / "logs")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    pids = json.loads(line)
    assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    return proc, pids


def _wait_all_gone(pids: list[int], timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    return [pid for pid in pids if _alive(pid)]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_environments_die_with_the_platform_process(tmp_path: Path, sig: signal.Signals) -> None:
    proc, pids = _run_platform_process(tmp_path)
    try:
        proc.send_signal(sig)
        proc.wait(timeout=10.0)
        assert _wait_all_gone(pids, timeout_s=5.0) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in pids:
            if _alive(pid):
                psutil.Process(pid).kill()
