"""The report's figures drawn on two processes: a forked child draws its share while this process draws the rest.

matplotlib is pure Python for most of a figure's time (ticks, text extents, layout: ~0.3-1.1 s a figure) and holds
the GIL, so threads cannot share the work; a child forked once the summary is built already holds every module
and the summary, and sends its PNGs back through a pipe. About half the drawing time on two cores.

Forked only when this process runs no other Python thread (as the `python -m analysis` CLI: a fork copies only
the calling thread, and another thread's lock held at that moment would stay held in the child); the child gets
SIGKILL if this process dies (Linux PR_SET_PDEATHSIG); a child that fails, or sends nothing within
CHILD_TIMEOUT_S, is killed and its share drawn here. Anywhere fork is missing: everything here, in order.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import select
import signal
import threading
import time
from collections.abc import Callable

Drawn = bytes | str | None  # a PNG, the reason a chart was not drawn, or nothing to draw
CHILD_SHARE = ("latency_over_time", "cold_starts", "comparison")  # about half the usual drawing time (1 M, 10 M)
CHILD_TIMEOUT_S = 120.0  # a child that sends nothing by then is killed: its share is drawn here
_PR_SET_PDEATHSIG = 1


def draw(jobs: dict[str, Callable[[], Drawn]]) -> dict[str, Drawn]:
    """Each job's result, by name in `jobs`' order: CHILD_SHARE's in a forked child when one can be had."""
    theirs = [name for name in jobs if name in CHILD_SHARE]
    if not theirs or len(theirs) == len(jobs) or not _can_fork():
        return {name: job() for name, job in jobs.items()}
    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        _child(parent, write_fd, {name: jobs[name] for name in theirs})
    os.close(write_fd)
    try:
        ours = {name: job() for name, job in jobs.items() if name not in CHILD_SHARE}
        sent = _receive(read_fd, pid)
    finally:
        os.close(read_fd)
        _reap(pid)
    if sent is None:  # the child failed or hung: its share drawn here
        sent = {name: jobs[name]() for name in theirs}
    drawn = ours | sent
    return {name: drawn[name] for name in jobs}


def _can_fork() -> bool:
    return hasattr(os, "fork") and threading.active_count() == 1


def _child(parent: int, write_fd: int, jobs: dict[str, Callable[[], Drawn]]) -> None:
    """Draw `jobs`, send {name: result} pickled, exit (os._exit: none of the parent's exit handlers run here)."""
    code = 1
    try:
        _die_with(parent)
        data = pickle.dumps({name: job() for name, job in jobs.items()})
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(data)
        code = 0
    finally:
        os._exit(code)


def _die_with(parent: int) -> None:
    """SIGKILL when the parent dies (Linux); if it died before this was set, exit now."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _receive(read_fd: int, pid: int) -> dict[str, Drawn] | None:
    """The child's results, or None if it exits without sending them or sends nothing by CHILD_TIMEOUT_S."""
    chunks, deadline = [], time.monotonic() + CHILD_TIMEOUT_S
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([read_fd], [], [], left)
        if not ready:
            break
        chunk = os.read(read_fd, 1 << 20)
        if not chunk:  # the child closed its end: all sent, or it died
            try:
                return pickle.loads(b"".join(chunks)) if chunks else None
            except (pickle.UnpicklingError, EOFError, ValueError):
                return None
        chunks.append(chunk)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return None


def _reap(pid: int) -> None:
    """Wait for the child (killed first if it still runs once this process is done with it)."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
