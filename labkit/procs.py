"""Processes that belong to a run: found by the run id they inherit (`LOADLAB_RUN_ID`), stopped together."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterable

import psutil

RUN_ID_ENV = "LOADLAB_RUN_ID"


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
    """SIGTERM, wait up to `timeout_s`, SIGKILL the rest; the pids still alive after that. A process held
    stopped (a function's CPU share, localcloud.faas.cpushare) is continued first, so it can act on SIGTERM."""
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGCONT)
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
