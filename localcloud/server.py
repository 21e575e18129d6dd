"""A fixed-worker HTTP server like one EC2 box: gunicorn with N sync workers on loopback.

`GunicornServer` starts `python -m gunicorn APP` in its own process group, waits until the health
path answers 200 and all N workers are up, and stops the master and every worker on exit.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import psutil

from labkit.errors import ConfigError, TargetError
from labkit.net import LOOPBACK, free_port, is_loopback_host
from localcloud.lifecycle import Service
from localcloud.procs import PORT_CLASH_MARKERS, ManagedProcess

_START_ATTEMPTS = 3


class GunicornServer(Service):
    """gunicorn serving `app` ("module:attr") with `workers` sync workers; a context manager."""

    def __init__(
        self,
        app: str = "handlers.server:app",
        workers: int = 2,
        host: str = LOOPBACK,
        port: int = 0,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        boot_timeout_s: float = 120.0,
        health_path: str = "/healthz",
        worker_timeout_s: int = 120,
        graceful_timeout_s: int = 5,
        access_log: bool = True,
    ) -> None:
        if workers < 1:
            raise ConfigError(f"gunicorn workers must be >= 1, got {workers}")
        if ":" not in app:
            raise ConfigError(f"gunicorn app must be 'module:attribute', got {app!r}")
        if not is_loopback_host(host):
            raise ConfigError(f"the local server binds loopback only, got host {host!r}")
        if log_path is None:
            log_path = Path(tempfile.mkdtemp(prefix="localcloud-gunicorn-")) / "gunicorn.log"
        self.app = app
        self.workers = workers
        self.host = host
        self.port = port
        self.env = dict(env or {})
        self.log_path = Path(log_path)
        self.access_log_path = self.log_path.with_suffix(".access.log") if access_log else None
        self.boot_timeout_s = boot_timeout_s
        self.health_path = health_path if health_path.startswith("/") else f"/{health_path}"
        self.worker_timeout_s = worker_timeout_s
        self.graceful_timeout_s = graceful_timeout_s
        self._proc: ManagedProcess | None = None

    @property
    def url(self) -> str:
        if self._proc is None:
            raise TargetError("gunicorn is not running; call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def process(self) -> ManagedProcess:
        if self._proc is None:
            raise TargetError("gunicorn is not running; call start() first")
        return self._proc

    def _argv(self, port: int) -> list[str]:
        argv = [
            sys.executable, "-m", "gunicorn", self.app,
            "--workers", str(self.workers),
            "--worker-class", "sync",
            "--bind", f"{self.host}:{port}",
            "--timeout", str(self.worker_timeout_s),
            "--graceful-timeout", str(self.graceful_timeout_s),
            "--max-requests", "0",
            "--no-control-socket",
        ]  # fmt: skip
        if self.access_log_path is not None:
            argv += ["--access-logfile", str(self.access_log_path)]
        return argv

    def start(self) -> GunicornServer:
        """Start gunicorn and wait until it is healthy with all workers up.

        Raises TargetError naming the log file when gunicorn exits (e.g. the app cannot be
        imported) or does not become healthy within `boot_timeout_s`.
        """
        if self._proc is not None:
            raise TargetError(f"gunicorn already running at {self.url}")
        fixed_port = self.port != 0
        for attempt in range(1, _START_ATTEMPTS + 1):
            port = self.port if fixed_port else free_port(self.host)
            proc = ManagedProcess(
                self._argv(port),
                self.log_path,
                name=f"gunicorn {self.app} :{port}",
                env=self.env,
                stop_timeout_s=self.graceful_timeout_s + 5.0,
            ).start()
            try:
                self._wait_ready(proc, port)
            except TargetError:
                proc.stop()
                clash = proc.log_mentions(PORT_CLASH_MARKERS)
                if fixed_port or not clash or attempt == _START_ATTEMPTS:
                    raise
                continue
            self.port, self._proc = port, proc
            return self
        raise TargetError(f"gunicorn did not start after {_START_ATTEMPTS} attempts; see {self.log_path}")

    def _wait_ready(self, proc: ManagedProcess, port: int) -> None:
        started = time.monotonic()
        what = f"gunicorn {self.app}"
        proc.wait_http_ok(f"http://{self.host}:{port}{self.health_path}", self.boot_timeout_s, what)
        remaining_s = self.boot_timeout_s - (time.monotonic() - started)
        deadline = time.monotonic() + max(remaining_s, 1.0)
        while time.monotonic() < deadline:
            if not proc.is_running():
                raise proc.exited_error(what)
            if len(self.worker_pids(proc)) >= self.workers:
                return
            time.sleep(0.05)
        raise TargetError(
            f"{what}: only {len(self.worker_pids(proc))} of {self.workers} workers came up within "
            f"{self.boot_timeout_s:.0f} s; see log {self.log_path}"
        )

    def worker_pids(self, proc: ManagedProcess | None = None) -> list[int]:
        """Pids of the live worker processes (children of the gunicorn master)."""
        proc = proc or self.process
        try:
            children = psutil.Process(proc.pid).children()
        except psutil.NoSuchProcess:
            return []
        alive: list[int] = []
        for child in children:
            try:
                if child.status() != psutil.STATUS_ZOMBIE:
                    alive.append(child.pid)
            except psutil.NoSuchProcess:
                continue
        return alive

    def stop(self) -> None:
        """Stop the master and all workers (idempotent); TargetError if any process survives."""
        if self._proc is not None:
            proc, self._proc = self._proc, None
            proc.stop()
