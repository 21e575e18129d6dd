"""Running Locust headless as a child process against one target, with its outputs kept in the run dir."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from labkit.errors import TargetError
from labkit.rundir import RunDir

LOCUSTFILE = Path(__file__).resolve().parent / "inference.py"
GRACE_S = 30.0  # time past the schedule for in-flight requests and Locust's own shutdown


@dataclass(frozen=True)
class LoadPlan:
    target: str  # target name recorded in every record
    url: str  # base URL of the target
    shape: str = "constant"
    rate_rps: float = 5.0
    duration_s: float = 20.0
    max_inflight: int = 64
    scenario: str = "load"
    predict_path: str = "/predict"
    images_dir: str = ""


def locust_command(plan: LoadPlan, run: RunDir) -> list[str]:
    out_dir = run.path / "locust"
    prefix = out_dir / plan.target
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--users", "1", "--spawn-rate", "1",
        "--host", plan.url, "--run-time", f"{int(plan.duration_s + GRACE_S)}s", "--stop-timeout", "10",
        "--csv", str(prefix), "--html", f"{prefix}.html", "--only-summary", "--loglevel", "WARNING",
        "--lab-shape", plan.shape, "--lab-rate-rps", str(plan.rate_rps), "--lab-duration-s", str(plan.duration_s),
        "--lab-max-inflight", str(plan.max_inflight), "--lab-run-dir", str(run.path), "--lab-target", plan.target,
        "--lab-scenario", plan.scenario, "--lab-predict-path", plan.predict_path, "--lab-images", plan.images_dir,
    ]  # fmt: skip


def run_locust(plan: LoadPlan, run: RunDir) -> Path:
    """Run the plan to completion; Locust's console output goes to run/locust/<target>.log."""
    out_dir = run.path / "locust"
    out_dir.mkdir(exist_ok=True)
    log_path = out_dir / f"{plan.target}.log"
    with log_path.open("w") as log:
        try:
            proc = subprocess.run(
                locust_command(plan, run),
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=plan.duration_s + 2 * GRACE_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TargetError(f"locust against {plan.target} overran its time bound; see {log_path}") from None
    # Locust exits 1 when any request failed: that is data (recorded), not a tool failure.
    if proc.returncode not in (0, 1):
        tail = log_path.read_text()[-1500:]
        raise TargetError(f"locust against {plan.target} exited {proc.returncode}; see {log_path}:\n{tail}")
    return log_path
