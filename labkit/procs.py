"""Processes that belong to a run: found by the run id they inherit (`LOADLAB_RUN_ID`), stopped together.

`with_parent_death_signal(argv)` wraps a command so that it receives SIGTERM when the process that started
it dies, even by `kill -9` (Linux PR_SET_PDEATHSIG through `python -m localcloud.pdeathsig`; armed only
from the main thread, since Linux ties it to the thread that forked).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Sequence

import psutil

RUN_ID_ENV = "LOADLAB_RUN_ID"


def with_parent_death_signal(argv: Sequence[str]) -> list[str]:
    if threading.current_thread() is not threading.main_thread() or not sys.platform.startswith("linux"):
        return list(argv)
    return [sys.executable, "-m", "localcloud.pdeathsig", "--parent-pid", str(os.getpid()), "--", *argv]


def run_processes(run_id: str, exclude: Iterable[int] = ()) -> list[psutil.Process]:
    """Live processes of this user whose environment carries `LOADLAB_RUN_ID=run_id`."""
    skip, found = set(exclude), []
    for proc in psutil.process_iter(["pid", "status"]):
        if proc.pid in skip or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            if proc.environ().get(RUN_ID_ENV) == run_id:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def stop_processes(procs: list[psutil.Process], timeout_s: float) -> list[int]:
    """SIGTERM, wait up to `timeout_s`, SIGKILL the rest; the pids still alive after that."""
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGTERM)
    _gone, alive = psutil.wait_procs(procs, timeout=timeout_s)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    _gone, alive = psutil.wait_procs(alive, timeout=2.0)
    return [p.pid for p in alive]


def wait_gone(pids: Iterable[int], timeout_s: float) -> list[int]:
    """Wait until none of `pids` is alive (zombies count as gone); those still alive at the deadline."""
    deadline = time.monotonic() + timeout_s
    remaining = list(pids)
    while True:
        remaining = [p for p in remaining if _alive(p)]
        if not remaining or time.monotonic() > deadline:
            return remaining
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
