"""A local cloud whose owner is killed with SIGKILL leaves no server behind (PR_SET_PDEATHSIG)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

OWNER = """
import sys, time
from pathlib import Path
from localcloud.s3 import MotoS3Server
server = MotoS3Server(log_path=Path(sys.argv[1])).start()
print(server.process.pid, flush=True)
time.sleep(120)
"""


def test_servers_die_with_a_killed_owner(tmp_path: Path):
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(tmp_path / "moto.log")], stdout=subprocess.PIPE,
                             text=True)  # fmt: skip
    server_pid = 0
    try:
        server_pid = int(owner.stdout.readline())  # type: ignore[union-attr]
        assert _alive(server_pid)
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(timeout=10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _alive(server_pid):
            time.sleep(0.1)
        assert not _alive(server_pid), "the moto server outlived its killed owner"
    finally:
        owner.kill()
        if server_pid and _alive(server_pid):
            os.kill(server_pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
