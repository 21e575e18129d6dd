"""The CPU share of a memory size below one vCPU, enforced: Lambda gives a function `memory_mb / 1769` of a vCPU
(CFS bandwidth control on the sandbox), so a 512 MB function computes at about 29% of a core. Locally the share
is enforced the same way, by CPU time per period: while the environment runs an init or an invocation, a
thread reads its CPU time (`/proc/<pid>/task/*/schedstat`, ns) every `TICK_S`; once the period's quota is used,
the process is stopped (SIGSTOP) until the period ends (SIGCONT). An idle environment uses no CPU and is never
stopped. Above one vCPU the share is the thread count (FunctionSpec.cpu_threads), capped at this machine's cores.

Opt-in per function (`cpu_quota: true` in config/localcloud.yaml or a plan's `cloud.functions`): without it a
small memory size only gets one thread, and runs at a whole core. Linux only (/proc); elsewhere it says so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

PERIOD_S = 0.1  # CFS's default bandwidth period
TICK_S = 0.005
MB_PER_VCPU = 1769


def cpu_share(memory_mb: int) -> float:
    """The fraction of one vCPU Lambda gives `memory_mb` (1.0 and above: whole vCPUs, not enforced here)."""
    return memory_mb / MB_PER_VCPU


def cpu_time_ns(pid: int) -> int | None:
    """CPU time of every thread of `pid` so far (ns), None when the process is gone."""
    total, seen = 0, False
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for task in tasks:
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
            seen = True
    return total if seen else None


def available() -> bool:
    return Path(f"/proc/{os.getpid()}/task").is_dir()


class CpuQuota:
    """Holds `pid` to `share` of one CPU per `period_s` while started (see the module doc)."""

    def __init__(self, pid: int, share: float, period_s: float = PERIOD_S, tick_s: float = TICK_S) -> None:
        self.pid, self.share, self.period_s, self.tick_s = pid, share, period_s, tick_s
        self.stopped_s = 0.0  # wall time the process spent held back, for the record
        self._stop = threading.Event()
        self._held = False
        self._thread = threading.Thread(target=self._run, name=f"cpuquota-{pid}", daemon=True)

    def start(self) -> CpuQuota:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop enforcing and let the process run (idempotent)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        self._release()

    def _signal(self, signum: int) -> bool:
        try:
            os.kill(self.pid, signum)
        except OSError:
            return False
        return True

    def _release(self) -> None:
        if self._held:
            self._held = False
            self._signal(signal.SIGCONT)

    def _run(self) -> None:
        quota_ns = self.share * self.period_s * 1e9
        period_start = time.monotonic()
        base = cpu_time_ns(self.pid)
        held_at = 0.0
        while base is not None and not self._stop.wait(self.tick_s):
            now = time.monotonic()
            if now - period_start >= self.period_s:  # a new period: run again, with a fresh quota
                if self._held:
                    self.stopped_s += now - held_at
                self._release()
                period_start, base = now, cpu_time_ns(self.pid)
                continue
            used = cpu_time_ns(self.pid)
            if used is None:
                return
            if not self._held and used - base >= quota_ns and self._signal(signal.SIGSTOP):
                self._held, held_at = True, now
        self._release()
