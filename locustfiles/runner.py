"""Running Locust headless as a child process against one target, with its outputs kept in the run dir.

`run_locust(plan, run)` runs the root locustfile.py (one dispatcher per process, `OpenModelShape`) with
`--processes N` when `plan.processes > 1`, writes Locust's --csv / --html / console log to run/locust/, and
returns when Locust has exited. It is bounded in time; Ctrl-C (KeyboardInterrupt) is passed on to Locust,
which records the requests in flight as "interrupted" and closes its record files before exiting.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labkit.errors import TargetError
from labkit.rundir import RunDir
from locustfiles.shapes import ShapeSpec

LOCUSTFILE = Path(__file__).resolve().parent.parent / "locustfile.py"
GRACE_S = 30.0  # past schedule + network timeout: Locust's start-up, in-flight requests and shutdown
INTERRUPT_WAIT_S = 30.0  # how long Locust gets to close its files after Ctrl-C

ProgressFn = Callable[[], None]


@dataclass(frozen=True)
class LoadPlan:
    target: str  # target name recorded in every record
    url: str  # base URL of the target
    shape: str = "constant"
    rate_rps: float = 5.0  # constant: the rate; other shapes: the peak
    duration_s: float = 20.0
    max_inflight: int = 64  # over all processes
    scenario: str = "load"
    predict_path: str = "/predict"
    images_dir: str = ""
    processes: int = 1
    max_lag_s: float = 1.0
    max_rate_rps: float = 1000.0
    max_duration_s: float = 3600.0
    network_timeout_s: float = 60.0
    yes_remote: bool = False
    step_count: int = 5
    base_rps: float | None = None
    spike_at_s: float | None = None
    spike_s: float | None = None
    trace_path: str = ""
    trace_start: str = ""
    trace_end: str = ""
    trace_process: str = "uniform"
    seed: int = 1998

    def shape_spec(self) -> ShapeSpec:
        return ShapeSpec(name=self.shape, rate_rps=self.rate_rps, duration_s=self.duration_s,
                         step_count=self.step_count, base_rps=self.base_rps, spike_at_s=self.spike_at_s,
                         spike_s=self.spike_s, trace_path=self.trace_path, trace_start=self.trace_start,
                         trace_end=self.trace_end, trace_process=self.trace_process, seed=self.seed)  # fmt: skip

    def time_bound_s(self) -> float:
        return self.duration_s + self.network_timeout_s + 2 * GRACE_S


def _optional(value: float | None) -> str:
    return "" if value is None else str(value)


def locust_command(plan: LoadPlan, run: RunDir) -> list[str]:
    prefix = (run.path / "locust" / plan.target).resolve()
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", plan.url,
        "--csv", str(prefix), "--html", f"{prefix}.html", "--only-summary", "--loglevel", "INFO",
        "--lab-run-dir", str(run.path.resolve()), "--lab-target", plan.target, "--lab-scenario", plan.scenario,
        "--lab-shape", plan.shape, "--lab-rate-rps", str(plan.rate_rps), "--lab-duration-s", str(plan.duration_s),
        "--lab-step-count", str(plan.step_count), "--lab-base-rps", _optional(plan.base_rps),
        "--lab-spike-at-s", _optional(plan.spike_at_s), "--lab-spike-s", _optional(plan.spike_s),
        "--lab-trace-start", plan.trace_start, "--lab-trace-end", plan.trace_end,
        "--lab-trace-process", plan.trace_process, "--lab-seed", str(plan.seed),
        "--lab-max-inflight", str(plan.max_inflight), "--lab-max-lag-s", str(plan.max_lag_s),
        "--lab-max-rate-rps", str(plan.max_rate_rps), "--lab-max-duration-s", str(plan.max_duration_s),
        "--lab-network-timeout-s", str(plan.network_timeout_s), "--lab-predict-path", plan.predict_path,
        "--lab-images", str(Path(plan.images_dir).resolve()) if plan.images_dir else "",
    ]  # fmt: skip
    if plan.trace_path:
        command += ["--lab-trace", str(Path(plan.trace_path).resolve())]
    if plan.yes_remote:
        command.append("--lab-yes-remote")
    if plan.processes > 1:
        command += ["--processes", str(plan.processes)]
    return command


def _wait(proc: subprocess.Popen[bytes], plan: LoadPlan, log_path: Path, progress: ProgressFn | None,
          interval_s: float) -> int:  # fmt: skip
    deadline = time.monotonic() + plan.time_bound_s()
    while True:
        try:
            return proc.wait(timeout=interval_s)
        except subprocess.TimeoutExpired:
            if progress is not None:
                progress()
            if time.monotonic() > deadline:
                proc.terminate()
                proc.wait(timeout=INTERRUPT_WAIT_S)
                raise TargetError(f"locust against {plan.target} overran its time bound; see {log_path}") from None


def _interrupt(proc: subprocess.Popen[bytes]) -> None:
    """Stop Locust (SIGTERM: it may ignore SIGINT when started in the background) and give it time to record
    what is in flight and close its files."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=INTERRUPT_WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def run_locust(plan: LoadPlan, run: RunDir, progress: ProgressFn | None = None, interval_s: float = 5.0) -> Path:
    """Run the plan to completion; Locust's console output goes to run/locust/<target>.log.

    `progress` is called every `interval_s` while Locust runs. Locust runs in run/locust/ so no
    locust.conf of the caller's directory applies.
    """
    out_dir = run.path / "locust"
    out_dir.mkdir(exist_ok=True)
    log_path = out_dir / f"{plan.target}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(locust_command(plan, run), stdout=log, stderr=subprocess.STDOUT, cwd=out_dir)
        try:
            returncode = _wait(proc, plan, log_path, progress, interval_s)
        except BaseException:
            _interrupt(proc)
            raise
    # Locust exits 1 when any request failed: that is data (recorded), not a tool failure.
    if returncode not in (0, 1):
        tail = log_path.read_text()[-1500:]
        raise TargetError(f"locust against {plan.target} exited {returncode}; see {log_path}:\n{tail}")
    refused = [line for line in log_path.read_text().splitlines() if "load refused:" in line]
    if refused:
        raise TargetError(f"locust against {plan.target}: {refused[0].split('load refused:', 1)[1].strip()}")
    return log_path
