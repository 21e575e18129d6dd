"""One http workload of a plan run by Locust inside a run that is not a whole plan run: awslab's load phases
(inside their experiment's run context) and the benches (`run_locust`, a run dir of their own).

Locust reads the workload from the run's plan.json (`--lab-plan`, `--lab-workload`), exactly as under
experiments.runner: it is started by experiments.launch.start_http as a child of the run context (its own
process group, dies with the run), says when it is ready and starts its schedule when released
(labkit.startsync), with `--processes N` when the workload asks for more than one process,
its --csv / --html / console log in run/locust/<workload>*. The wait is bounded in time; Ctrl-C
(KeyboardInterrupt) stops Locust with SIGTERM, which records the requests in flight as "interrupted" and
closes its record files before exiting.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from analysis.compactor import Compactor
from experiments.launch import start_http
from experiments.plan import DEFAULT_MAX_PROCESSES, Plan
from experiments.planfile import parse_plan, write_plan_json
from experiments.targets import Endpoints
from labkit.errors import TargetError
from labkit.runctx import Child, RunContext, wait_all
from labkit.rundir import RunDir
from labkit.startsync import ready_tags, release

GRACE_S = 30.0  # past schedule + network timeout: Locust's start-up, in-flight requests and shutdown
INTERRUPT_WAIT_S = 30.0  # how long Locust gets to close its files after Ctrl-C

ProgressFn = Callable[[], None]


def check_exit(child: Child, name: str) -> None:
    # Locust exits 1 when any request failed: that is data (recorded), not a tool failure.
    code = child.poll()
    if code not in (0, 1):
        raise TargetError(f"locust {name} exited {code}; see {child.log_path}:\n{child.log_tail(1500)}")
    refused = [line for line in child.log_tail(20000).splitlines() if "load refused:" in line]
    if refused:
        raise TargetError(f"locust {name}: {refused[0].split('load refused:', 1)[1].strip()}")


def _release_when_ready(sync_dir: Path, name: str, child: Child) -> None:
    """Wait until Locust says it is ready (labkit.startsync), then release its start (TargetError otherwise)."""
    from experiments.runner import READY_TIMEOUT_S, RELEASE_LEAD_S

    deadline = time.monotonic() + READY_TIMEOUT_S
    while name not in ready_tags(sync_dir):
        if child.poll() is not None:
            raise TargetError(f"locust {name} exited {child.poll()} before it was ready; see {child.log_path}:\n"
                              f"{child.log_tail(1500)}")  # fmt: skip
        if time.monotonic() > deadline:
            raise TargetError(f"locust {name} not ready within {READY_TIMEOUT_S:g} s; see {child.log_path}")
        time.sleep(0.05)
    release(sync_dir, RELEASE_LEAD_S)


def run_workload(ctx: RunContext, plan: Plan, name: str, url: str, progress: ProgressFn | None = None,
                 interval_s: float = 5.0) -> Child:  # fmt: skip
    """Run http workload `name` of `plan` (already written to ctx.run's plan.json) against `url` to its end.

    The schedule starts once Locust is ready (its own start-sync folder, run/sync/<name>). `progress` is
    called every `interval_s` while Locust runs; TargetError when Locust overran its time bound, failed, or
    refused the workload.
    """
    (workload,) = [w for w in plan.http_workloads() if w.name == name]
    endpoints = Endpoints(target=plan.target, function_url=url, server_url=url)
    sync_dir = ctx.run.path / "sync" / name
    child = start_http(ctx, workload, endpoints, sync_dir, name)
    try:
        _release_when_ready(sync_dir, name, child)
        deadline = time.time() + workload.end_s() + workload.network_timeout_s + 2 * GRACE_S
        while wait_all([child], min(deadline, time.time() + interval_s)):
            if time.time() >= deadline:
                raise TargetError(f"locust {name} overran its time bound; see {child.log_path}")
            if progress is not None:
                progress()
    finally:
        if child.poll() is None:
            child.stop(timeout_s=INTERRUPT_WAIT_S)
    check_exit(child, name)
    return child


@dataclass(frozen=True)
class LoadPlan:
    """One Locust load against one URL, for the benches: `run_locust` makes it a one-workload Plan."""

    target: str  # the workload's name (locust/<target>_stats.csv); the records' target is "url"
    url: str  # base URL of the target
    shape: str = "constant"
    rate_rps: float = 5.0  # constant: the rate; other shapes: the peak
    duration_s: float = 20.0
    max_inflight: int = 64  # over all processes
    scenario: str = "load"  # the plan's (and run's) name
    predict_path: str = "/predict"
    images_dir: str = ""
    processes: int = 1
    max_lag_s: float = 1.0
    max_rate_rps: float = 1000.0
    max_duration_s: float = 3600.0
    network_timeout_s: float = 60.0
    yes_remote: bool = False

    def to_plan(self) -> Plan:
        shape = {"kind": self.shape, "peak_rps": self.rate_rps, "duration_s": self.duration_s}
        images = str(Path(self.images_dir).resolve()) if self.images_dir else ""
        workload = {"kind": "http", "name": self.target, "target": self.url, "shape": shape,
                    "predict_path": self.predict_path, "images": images,
                    "max_inflight": self.max_inflight, "max_lag_s": self.max_lag_s, "processes": self.processes,
                    "network_timeout_s": self.network_timeout_s}  # fmt: skip
        safety = {"max_rate_rps": self.max_rate_rps, "max_duration_s": self.max_duration_s,
                  "max_processes": min(256, max(DEFAULT_MAX_PROCESSES, self.processes)),
                  "allow_remote": self.yes_remote}  # fmt: skip
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", self.scenario).lstrip("-_.")[:63] or "load"
        return parse_plan({"name": name, "workloads": [workload], "safety": safety}, "LoadPlan")


def run_locust(plan: LoadPlan, run: RunDir, progress: ProgressFn | None = None, interval_s: float = 5.0) -> Child:
    """Run `plan` to completion in `run` (its plan.json written, its status set when Locust is done)."""
    full = plan.to_plan()
    with RunContext(run) as ctx, Compactor(run.records_dir):  # the records' columnar copy as they come
        write_plan_json(run.path, full)
        return run_workload(ctx, full, plan.target, plan.url.rstrip("/"), progress, interval_s)
