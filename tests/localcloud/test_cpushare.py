"""The CPU share of a small memory size (localcloud.faas.cpushare): a busy process held to `share` of a CPU uses
no more CPU time than the quota allows (an upper bound: a busy machine only lowers it), and is left running."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from localcloud.faas.cpushare import PERIOD_S, TICK_S, CpuQuota, cpu_share, cpu_time_ns

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
BUSY = "import time\nend = time.monotonic() + 20\nwhile time.monotonic() < end:\n    pass\n"


def test_a_busy_process_gets_at_most_its_share_and_runs_on_after() -> None:
    proc = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        time.sleep(0.3)  # past the interpreter's start
        share = cpu_share(512)
        before_ns, start_s = cpu_time_ns(proc.pid), time.monotonic()
        assert before_ns is not None
        quota = CpuQuota(proc.pid, share).start()
        time.sleep(1.5)
        quota.stop()
        used_s = (cpu_time_ns(proc.pid) - before_ns) / 1e9
        elapsed_s = time.monotonic() - start_s
        # at most the quota of every period begun, plus what one tick can overshoot on each
        periods = elapsed_s / PERIOD_S + 1
        assert used_s <= periods * (share * PERIOD_S + 2 * TICK_S), (used_s, elapsed_s)
        assert psutil.Process(proc.pid).status() != psutil.STATUS_STOPPED
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_memory_sizes_map_to_lambda_shares() -> None:
    assert cpu_share(1769) == 1.0 and cpu_share(512) == pytest.approx(0.2894, abs=1e-4)
    assert cpu_time_ns(2**22 + 12345) is None  # no such process
