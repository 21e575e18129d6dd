"""ManagedProcess (localcloud/procs.py): process groups, clean stop, no orphans after Ctrl-C or GC."""

from __future__ import annotations

import gc
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from labkit.errors import TargetError
from localcloud.procs import ManagedProcess

pytestmark = pytest.mark.timeout(60)

# A leader that forks a child into its group, ignores SIGTERM, and sleeps: forces the SIGKILL path.
STUBBORN = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    grandchild = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    subprocess.Popen([sys.executable, "-c", grandchild])
    print("ready", flush=True)
    time.sleep(60)
    """
)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_for_log(proc: ManagedProcess, text: str, timeout_s: float = 10.0) -> None:
    """Wait for a whole log line equal to `text` (the command line logged at start contains it too)."""
    deadline = time.monotonic() + timeout_s
    while text not in proc.log_tail().splitlines() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert text in proc.log_tail().splitlines()


def test_stop_kills_the_whole_group_even_when_sigterm_is_ignored(tmp_path: Path) -> None:
    proc = ManagedProcess([sys.executable, "-c", STUBBORN], tmp_path / "p.log", name="stubborn", stop_timeout_s=0.5)
    with proc:
        _wait_for_log(proc, "ready")
        members = proc.surviving_pids()
        assert proc.pid in members and len(members) == 2  # leader + forked child share the group
        started = time.monotonic()
    assert time.monotonic() - started < 5.0
    assert proc.surviving_pids() == []
    assert all(_gone(pid) for pid in members)
    assert proc.returncode == -signal.SIGKILL


def test_finalizer_stops_an_unreferenced_process(tmp_path: Path) -> None:
    proc = ManagedProcess(
        [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "p.log", name="sleeper"
    ).start()
    pid = proc.pid
    del proc
    gc.collect()
    assert _gone(pid)


def test_no_orphan_after_parent_ctrl_c(tmp_path: Path) -> None:
    parent_code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from localcloud.procs import ManagedProcess
        child = ManagedProcess([sys.executable, "-c", "import time; time.sleep(60)"],
                               Path({str(tmp_path / "child.log")!r}), name="child").start()
        print(child.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    assert not _gone(child_pid)
    parent.send_signal(signal.SIGINT)  # what Ctrl-C delivers; the child, in its own session, gets nothing
    assert parent.wait(timeout=20) != 0
    assert _gone(child_pid)


def test_wait_http_ok_fails_fast_when_the_process_exits(tmp_path: Path) -> None:
    proc = ManagedProcess(
        [sys.executable, "-c", "print('boom'); raise SystemExit(7)"], tmp_path / "x.log", name="quitter"
    ).start()
    started = time.monotonic()
    with pytest.raises(TargetError, match=r"(?s)exited with code 7.*boom") as excinfo:
        proc.wait_http_ok("http://127.0.0.1:9/", timeout_s=30, what="quitter")
    assert time.monotonic() - started < 10
    assert str(tmp_path / "x.log") in str(excinfo.value)
    proc.stop()


def test_unstartable_command_is_a_target_error(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="could not start"):
        ManagedProcess(["/nonexistent/binary"], tmp_path / "n.log", name="nothing").start()
