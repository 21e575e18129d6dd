"""The report's figures on two processes (analysis.drawing): the child's share really drawn in a child, results
in the jobs' order, a failed or hung child's share drawn here, no fork beside other threads, no child left."""

import os
import subprocess
import sys
import threading
import time

import pytest

from analysis import drawing

THEIRS = drawing.CHILD_SHARE


def _jobs(parent: int, hang_s: float = 0.0, fail: bool = False) -> dict:
    """Jobs returning the pid that ran them; CHILD_SHARE's first one may hang or fail, in a child only."""

    def who(name: str):
        def job():
            if os.getpid() != parent and name == THEIRS[0]:
                if fail:
                    raise ValueError("a figure that breaks")
                time.sleep(hang_s)
            return f"{name}:{os.getpid()}".encode()

        return job

    names = ["latency_cdf", *THEIRS, "sla_windows"]
    return {name: who(name) for name in names}


def _pids(drawn: dict) -> dict[str, int]:
    return {name: int(value.decode().split(":")[1]) for name, value in drawn.items()}


@pytest.fixture
def forkable(monkeypatch):
    """Fork allowed although pytest may run threads of its own (the jobs here take no lock)."""
    monkeypatch.setattr(drawing, "_can_fork", lambda: hasattr(os, "fork"))


def _no_child_left(pids: dict[str, int]) -> None:
    for pid in set(pids.values()) - {os.getpid()}:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_the_childs_share_is_drawn_in_a_child_and_the_rest_here_in_order(forkable):
    drawn = drawing.draw(_jobs(os.getpid()))
    assert list(drawn) == ["latency_cdf", *THEIRS, "sla_windows"]
    pids = _pids(drawn)
    assert pids["latency_cdf"] == pids["sla_windows"] == os.getpid()
    assert len({pids[name] for name in THEIRS}) == 1 and pids[THEIRS[0]] != os.getpid()
    _no_child_left(pids)


def test_a_failed_childs_share_is_drawn_here(forkable):
    drawn = drawing.draw(_jobs(os.getpid(), fail=True))
    assert set(_pids(drawn).values()) == {os.getpid()} and list(drawn)[1:-1] == list(THEIRS)


def test_a_hung_child_is_killed_and_its_share_drawn_here(forkable, monkeypatch):
    monkeypatch.setattr(drawing, "CHILD_TIMEOUT_S", 0.5)
    drawn = drawing.draw(_jobs(os.getpid(), hang_s=60.0))  # sleeps in the child only
    assert set(_pids(drawn).values()) == {os.getpid()}


def test_no_fork_beside_another_thread():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, args=(10,), daemon=True)
    other.start()
    try:
        assert not drawing._can_fork()
        assert set(_pids(drawing.draw(_jobs(os.getpid()))).values()) == {os.getpid()}
    finally:
        stop.set()
        other.join(5)


def test_nothing_for_the_child_to_draw_is_drawn_here_without_a_fork(forkable):
    jobs = {name: job for name, job in _jobs(os.getpid()).items() if name not in THEIRS}
    assert set(_pids(drawing.draw(jobs)).values()) == {os.getpid()}


CHILD_SCRIPT = """
import os, sys, time
from analysis import drawing
pid_file, parent = sys.argv[1], os.getpid()
def theirs():
    open(pid_file, "w").write(str(os.getpid()))
    time.sleep(60)
def ours():
    time.sleep(60)
drawing.draw({"latency_cdf": ours, drawing.CHILD_SHARE[0]: theirs})
"""


def test_the_child_dies_with_its_parent_even_on_kill_9(tmp_path):
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, "-c", CHILD_SCRIPT, str(pid_file)], cwd=os.getcwd())
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pid_file.read_text())
    finally:
        parent.kill()  # SIGKILL: no handler of the parent's runs
        parent.wait(10)
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie is dead, waiting for init to reap it
    except FileNotFoundError:
        return False
