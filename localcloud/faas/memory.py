"""The memory ceiling of an execution environment, enforced from the platform side (Lambda's memory size).

`MemoryWatch` samples the environment every `SAMPLE_INTERVAL_S` (10 ms) on a thread while it
initialises or runs an invocation. The measure is the main process's VmHWM (peak RSS, from
/proc/<pid>/status: a spike between two samples is still seen, only later) plus the current RSS of
its descendant processes (listed from /proc/<pid>/task/*/children, psutil where that file is missing;
refreshed every `CHILD_REFRESH_SAMPLES` samples). One sample costs ~40-100 us. Over
the limit (memory_mb MiB) the watch calls `on_exceed` once (the environment SIGKILLs its process
group) and stops; `stop()` takes one last sample, so an invocation that peaked after the last tick is
caught too. The environment then reports Lambda's `Runtime.OutOfMemory`.

Kernel backstop: the runtime sets RLIMIT_DATA (private writable memory) to `rlimit_data_mb(memory_mb)`
on itself, a generous 2 x memory + 256 MB: the sampler decides, the rlimit only stops one giant
allocation (say 10 GB at once) from taking the machine before a sample sees it; the allocation then
fails (MemoryError, std::bad_alloc), which the runtime reports as out of memory. RLIMIT_AS is not used:
ONNX Runtime and glibc thread arenas reserve far more address space than they touch. cgroups are not
available to the platform.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from localcloud.faas.cpushare import CpuQuota

SAMPLE_INTERVAL_S = 0.010
CHILD_REFRESH_SAMPLES = 5  # re-list descendant processes every 5 samples (50 ms)
_MIB = 1 << 20
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def rlimit_data_mb(memory_mb: int) -> int:
    """The RLIMIT_DATA backstop for a memory size: 2 x memory + 256 MB (the sampler is the real limit)."""
    return 2 * memory_mb + 256


def peak_rss_bytes(pid: int) -> int | None:
    """VmHWM (peak RSS) of a live process from /proc, in bytes; None when it is gone or unreadable."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None  # a zombie has no memory lines


def peak_rss_mb(pid: int) -> int | None:
    """VmHWM of a live process in MB (MiB, rounded up); None when unavailable."""
    peak = peak_rss_bytes(pid)
    return None if peak is None else math.ceil(peak / _MIB)


def descendant_pids(pid: int) -> list[int]:
    """Every descendant of `pid` (children, grandchildren...) from procfs; psutil without /proc children files."""
    if not Path(f"/proc/{pid}/task/{pid}/children").exists():
        try:
            return [child.pid for child in psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            return []
    found: list[int] = []
    parents = [pid]
    while parents:
        parent = parents.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                kids = [int(text) for text in Path(f"/proc/{parent}/task/{task}/children").read_text().split()]
            except OSError:
                continue
            found += kids
            parents += kids
    return found


def rss_bytes(pids: list[int]) -> int:
    """Current RSS of the given processes from /proc/<pid>/statm (those already gone count 0)."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_BYTES
        except (OSError, IndexError, ValueError):
            continue
    return total


class MemoryWatch:
    """Samples one environment's process tree on a thread; calls `on_exceed` once past `limit_mb`."""

    def __init__(
        self,
        pid: int,
        limit_mb: int,
        on_exceed: Callable[[], None],
        interval_s: float = SAMPLE_INTERVAL_S,
        cpu_quota: CpuQuota | None = None,
    ) -> None:
        self.pid = pid
        self.cpu_quota = cpu_quota  # the CPU share of the same memory size, held while this watch runs
        self.limit_bytes = limit_mb * _MIB
        self.interval_s = interval_s
        self.peak_bytes = 0
        self.exceeded = False
        self.detected_monotonic_s: float | None = None
        self._on_exceed = on_exceed
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._children: list[int] = []
        self._samples = 0
        self._thread = threading.Thread(target=self._run, name=f"memwatch-{pid}", daemon=True)

    @property
    def peak_mb(self) -> int:
        """The highest measure seen, in MB (MiB, rounded up)."""
        return math.ceil(self.peak_bytes / _MIB)

    def start(self) -> MemoryWatch:
        if self.cpu_quota is not None:
            self.cpu_quota.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling (and holding the CPU share) and take one last sample (idempotent)."""
        if self.cpu_quota is not None:
            self.cpu_quota.stop()
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        self.sample()

    def sample(self) -> bool:
        """Measure once; past the limit, flag it and call on_exceed (once). False when the process is gone."""
        with self._lock:
            if self.exceeded:
                return False
            if self._samples % CHILD_REFRESH_SAMPLES == 0:
                self._children = descendant_pids(self.pid)
            self._samples += 1
            main = peak_rss_bytes(self.pid)
            if main is None:
                return False
            used = main + rss_bytes(self._children)
            self.peak_bytes = max(self.peak_bytes, used)
            if used <= self.limit_bytes:
                return True
            self.exceeded = True
            self.detected_monotonic_s = time.monotonic()
        if self.cpu_quota is not None:
            self.cpu_quota.stop()  # a held (stopped) process could not act on being terminated
        self._on_exceed()
        return False

    def _run(self) -> None:
        while self.sample() and not self._stop.wait(self.interval_s):
            pass
