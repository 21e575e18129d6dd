"""Managed subprocesses for the local cloud: own process group, log file, clean stop, no orphans.

A `ManagedProcess` runs one command in a new session (so it is the leader of its own process group
and a terminal Ctrl-C does not reach it), with stdout and stderr appended to a log file. `stop()`
sends SIGTERM to the whole group (the leader and anything it forked, e.g. gunicorn workers), waits,
then sends SIGKILL to whatever is left. A `weakref.finalize` does the same when the object is
garbage-collected or the interpreter exits (including after Ctrl-C), so no child outlives the parent
unless the parent itself is SIGKILLed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from labkit.errors import TargetError
from labkit.net import wait_http_ok
from localcloud.lifecycle import Service

log = logging.getLogger(__name__)

_POLL_INTERVAL_S = 0.05
PORT_CLASH_MARKERS = ("Address already in use", "Connection in use", "Errno 98")


def group_pids(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is `pgid`."""
    alive: list[int] = []
    for proc in psutil.process_iter(["status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE or os.getpgid(proc.pid) != pgid:
                continue
        except (ProcessLookupError, psutil.Error):
            continue
        alive.append(proc.pid)
    return alive


def _wait_group_gone(popen: subprocess.Popen[bytes], pgid: int, timeout_s: float) -> bool:
    """Reap the leader and wait until no live process is left in the group; True if all gone."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        popen.poll()
        if popen.returncode is not None and not group_pids(pgid):
            return True
        time.sleep(_POLL_INTERVAL_S)
    popen.poll()
    return popen.returncode is not None and not group_pids(pgid)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is already gone
        os.killpg(pgid, sig)


def terminate_group(popen: subprocess.Popen[bytes], pgid: int, timeout_s: float) -> list[int]:
    """SIGTERM the group, wait up to `timeout_s`, then SIGKILL; returns pids that survived SIGKILL."""
    _signal_group(pgid, signal.SIGTERM)
    if _wait_group_gone(popen, pgid, timeout_s):
        return []
    log.warning("process group %d did not exit within %.1f s of SIGTERM; sending SIGKILL", pgid, timeout_s)
    _signal_group(pgid, signal.SIGKILL)
    _wait_group_gone(popen, pgid, 5.0)
    return group_pids(pgid)


def _finalize(popen: subprocess.Popen[bytes], pgid: int, timeout_s: float, name: str) -> None:
    """Finalizer (GC or interpreter exit): stop the group if it still runs."""
    if popen.poll() is None or group_pids(pgid):
        survivors = terminate_group(popen, pgid, timeout_s)
        if survivors:
            sys.stderr.write(f"localcloud: {name}: processes {survivors} survived SIGKILL\n")


class ManagedProcess(Service):
    """One command in its own process group with output in `log_path`; a context manager."""

    def __init__(
        self,
        argv: Sequence[str],
        log_path: Path,
        *,
        name: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.argv = list(argv)
        self.log_path = Path(log_path)
        self.name = name
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.stop_timeout_s = stop_timeout_s
        self._popen: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize | None = None

    @property
    def pid(self) -> int:
        """Pid of the leader, which is also the process-group id."""
        if self._popen is None:
            raise TargetError(f"{self.name} was not started")
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return None if self._popen is None else self._popen.poll()

    def is_running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def start(self) -> ManagedProcess:
        """Start the command; raises TargetError if it cannot be executed."""
        if self._popen is not None:
            raise TargetError(f"{self.name} was already started (pid {self._popen.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env} if self.env is not None else None
        if shutil.which(self.argv[0], path=(env or os.environ).get("PATH")) is None:
            raise TargetError(f"could not start {self.name}: {self.argv[0]!r} is not an executable on PATH")
        with self.log_path.open("ab") as log_file:
            log_file.write(f"--- {self.name}: {' '.join(self.argv)}\n".encode())
            log_file.flush()
            try:
                self._popen = subprocess.Popen(
                    with_parent_death_signal(self.argv),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.cwd,
                    start_new_session=True,
                )
            except OSError as exc:
                raise TargetError(f"could not start {self.name} ({self.argv[0]}): {exc}") from exc
        self._finalizer = weakref.finalize(
            self, _finalize, self._popen, self._popen.pid, self.stop_timeout_s, self.name
        )
        log.info("started %s pid %d, log %s", self.name, self._popen.pid, self.log_path)
        return self

    def stop(self, timeout_s: float | None = None) -> int | None:
        """Stop the whole process group (idempotent); returns the leader's exit code.

        Raises TargetError if some process of the group survived SIGKILL.
        """
        if self._popen is None:
            return None
        if self._finalizer is not None:
            self._finalizer.detach()
        survivors = terminate_group(
            self._popen, self._popen.pid, self.stop_timeout_s if timeout_s is None else timeout_s
        )
        if survivors:
            raise TargetError(f"{self.name}: processes {survivors} survived SIGKILL (log {self.log_path})")
        return self._popen.returncode

    def surviving_pids(self) -> list[int]:
        """Live processes still in this process's group (empty after a clean stop)."""
        return [] if self._popen is None else group_pids(self._popen.pid)

    def log_tail(self, max_lines: int = 20) -> str:
        """The last lines of the log file ('' if it does not exist yet)."""
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-max_lines:])

    def log_mentions(self, markers: Sequence[str]) -> bool:
        """True when any of `markers` appears in the log file (e.g. a port clash)."""
        tail = self.log_tail(max_lines=200)
        return any(marker in tail for marker in markers)

    def exited_error(self, what: str) -> TargetError:
        """A TargetError saying the process exited early, naming the log file and its tail."""
        return TargetError(
            f"{what} exited with code {self.returncode} while starting; see log {self.log_path}:\n{self.log_tail()}"
        )

    def wait_http_ok(self, url: str, timeout_s: float, what: str) -> None:
        """Poll `url` until it answers 2xx; fail fast with the log tail if the process exits."""

        def check_alive() -> None:
            if not self.is_running():
                raise self.exited_error(what)

        wait_http_ok(url, timeout_s, what, _POLL_INTERVAL_S, check_alive, hint=f"see log {self.log_path}")

    def __enter__(self) -> ManagedProcess:
        if self._popen is None:
            self.start()
        return self


def with_parent_death_signal(argv: Sequence[str]) -> list[str]:
    """`argv` wrapped so the process gets SIGTERM when this one dies (see localcloud.pdeathsig).

    Linux sends that signal when the *thread* that forked the child exits, so the wrapper is used only
    from the main thread; from another thread the child relies on the exit hooks alone.
    """
    if threading.current_thread() is not threading.main_thread() or not sys.platform.startswith("linux"):
        return list(argv)
    return [sys.executable, "-m", "localcloud.pdeathsig", "--parent-pid", str(os.getpid()), "--", *argv]
