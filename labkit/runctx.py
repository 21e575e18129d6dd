"""The run context: one object that owns a run dir and every process the run starts, and sets the run's
final status from how it ended.

    with RunContext.create(Path("runs"), "fifa98-mixed", config) as ctx:
        proc = ctx.spawn([...], name="locust-function", log_path=ctx.run.path / "locust" / "function.log")
        ...
        ctx.problems.extend(check_schedules(...))      # any problem -> status "failed"
    # status: complete (no problems) | failed (a LabError, any other exception, or a problem) |
    #         interrupted (Ctrl-C, SIGTERM, or the runner killed: see labkit.guardian)

Every child is started in a session (process group) of its own, with the parent-death signal armed (it is
sent SIGTERM if the runner dies, even by `kill -9`), and inherits `LOADLAB_RUN_ID`: a guardian process
(`python -m labkit.guardian`) watches the runner through a pipe and, if the runner dies without closing the
run, kills every process carrying that run id and marks the run `interrupted`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from labkit.errors import Interrupted, LabError, TargetError
from labkit.procs import RUN_ID_ENV, run_processes, stop_processes
from labkit.rundir import RunDir
from localcloud.procs import with_parent_death_signal

GUARDIAN_LOG = "guardian.log"
STOP_TIMEOUT_S = 10.0


class Child:
    """One process started by a run: its own process group, output to a log file."""

    def __init__(self, popen: subprocess.Popen[bytes], name: str, log_path: Path) -> None:
        self.popen, self.name, self.log_path = popen, name, log_path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def poll(self) -> int | None:
        return self.popen.poll()

    def log_tail(self, max_chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-max_chars:]
        except OSError:
            return ""

    def stop(self, timeout_s: float = STOP_TIMEOUT_S, sig: signal.Signals = signal.SIGTERM) -> int | None:
        """Signal the whole process group, wait, then SIGKILL what is left; the leader's exit code."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # stragglers of the group (forked workers)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        return self.popen.returncode


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM is handled like Ctrl-C: it only raises (nothing is locked or set from the handler)."""
    raise KeyboardInterrupt


class RunContext:
    """See the module docstring."""

    def __init__(self, run: RunDir, *, handle_signals: bool = True, tag_processes: bool = True) -> None:
        self.run = run
        self.handle_signals = handle_signals  # False inside a process with signal handling of its own (Locust)
        self.tag_processes = tag_processes  # False where processes started meanwhile outlive the run (web UI)
        self.children: list[Child] = []
        self.problems: list[str] = []
        self._guardian: subprocess.Popen[bytes] | None = None
        self._guardian_w: int | None = None
        self._previous_sigterm: Any = None
        self._previous_run_env: str | None = None
        self.status = "running"
        self._interrupted = False

    @classmethod
    def create(cls, runs_root: Path, scenario: str, config: dict[str, Any] | None = None) -> RunContext:
        return cls(RunDir.create(runs_root, scenario, config=config))

    def __enter__(self) -> RunContext:
        self._previous_run_env = os.environ.get(RUN_ID_ENV)
        if self.tag_processes:
            os.environ[RUN_ID_ENV] = self.run.run_id
        self._start_guardian()
        if self.handle_signals and _main_thread():
            self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
        self.run.update_manifest(runner_pid=os.getpid(), guardian_pid=self._guardian.pid if self._guardian else None)
        return self

    def _start_guardian(self) -> None:
        read_fd, write_fd = os.pipe()
        log = (self.run.logs_dir / GUARDIAN_LOG).open("ab")
        try:
            self._guardian = subprocess.Popen(
                [sys.executable, "-m", "labkit.guardian", "--run-dir", str(self.run.path.resolve()),
                 "--watch-fd", str(read_fd), "--runner-pid", str(os.getpid())],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, pass_fds=(read_fd,),
                start_new_session=True,
            )  # fmt: skip
        finally:
            os.close(read_fd)
            log.close()
        self._guardian_w = write_fd

    def spawn(
        self,
        argv: Sequence[str],
        *,
        name: str,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Child:
        """Start `argv` as a child of this run (own process group, dies with the run)."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        full_env = {**os.environ, **(env or {}), RUN_ID_ENV: self.run.run_id}
        with log_path.open("ab") as log:
            try:
                popen = subprocess.Popen(with_parent_death_signal(argv), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=full_env, cwd=cwd,
                                         start_new_session=True)  # fmt: skip
            except OSError as exc:
                raise TargetError(f"could not start {name} ({argv[0]}): {exc}") from exc
        child = Child(popen, name, log_path)
        self.children.append(child)
        return child

    def stop_children(self, *, everything: bool = True) -> None:
        """Stop the children started by `spawn`; `everything`: also any other process carrying the run id."""
        for child in reversed(self.children):
            child.stop()
        if everything and self.tag_processes:
            stop_processes(run_processes(self.run.run_id, exclude={os.getpid()}), timeout_s=5.0)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        if self._interrupted or (exc_type is not None and issubclass(exc_type, KeyboardInterrupt | Interrupted)):
            self.status = "interrupted"
        elif exc_type is not None or self.problems:
            self.status = "failed"
        else:
            self.status = "complete"
        try:
            self.stop_children()
        finally:
            fields: dict[str, Any] = {"problems": self.problems}
            if exc is not None and exc_type is not None and not issubclass(exc_type, KeyboardInterrupt):
                fields["error"] = f"{exc_type.__name__}: {exc}"
            self.run.finish(status=self.status, **fields)
            self._release_guardian()
            self._restore()

    def _release_guardian(self) -> None:
        if self._guardian_w is not None:
            with contextlib.suppress(OSError):
                os.write(self._guardian_w, b"done\n")
            os.close(self._guardian_w)
            self._guardian_w = None
        if self._guardian is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._guardian.wait(timeout=5)

    def _restore(self) -> None:
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
        if not self.tag_processes:
            return
        if self._previous_run_env is None:
            os.environ.pop(RUN_ID_ENV, None)
        else:
            os.environ[RUN_ID_ENV] = self._previous_run_env

    def mark_interrupted(self) -> None:
        """The work inside the `with` was cut short by the user (it handled the Ctrl-C itself)."""
        self._interrupted = True

    def raise_for_status(self) -> None:
        """After the `with`: an error naming the problems when the run did not complete."""
        if self.status == "failed" and self.problems:
            raise TargetError(f"the run did not match its plan ({self.run.path}):\n  " + "\n  ".join(self.problems))


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def wait_all(children: Sequence[Child], deadline_unix_s: float, poll_s: float = 0.5) -> list[Child]:
    """Wait until every child exited or the deadline passed; the children still running then."""
    while time.time() < deadline_unix_s:
        running = [c for c in children if c.poll() is None]
        if not running:
            return []
        time.sleep(poll_s)
    return [c for c in children if c.poll() is None]


__all__ = ["Child", "LabError", "RunContext", "wait_all"]
