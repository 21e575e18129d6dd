"""The published experiments against the deployed function, as plain functions writing one run dir each.

- memory sweep: per memory setting (update + wait until live), a cold phase (each request after a forced
  new environment), a warm phase (back-to-back requests) and optionally a Locust load phase on the API;
- forced cold starts: a configuration change (env var bump) before each request, then warm follow-ups;
- periodic cold-start probes: one request after each idle gap, to see when environments are reclaimed;
- burst concurrency: 1..N simultaneous requests, cold (after a forced change) and then warm.
Scenarios name the setting (`memory-1024-cold`, `burst-8-warm`, `probe-idle-600s`...), so the analysis
groups by them. Records go to records/awslab.csv as they complete (nothing lost on Ctrl-C).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from awslab.functions import UpdateBound, force_cold_start, function_config, set_memory
from awslab.invoke import Sender, burst
from labkit.errors import ConfigError
from labkit.records import RequestRecord
from labkit.recordwriter import RecordWriter
from labkit.runctx import RunContext
from labkit.rundir import RunDir

if TYPE_CHECKING:
    from experiments.plan import Plan


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class LoadPhase:
    """A Locust phase per memory setting, on the lambda target's URL: one http workload each of the run's
    plan.json (target `function`), run by locustfiles.runner.run_workload inside the run context."""

    url: str
    rate_rps: float = 5.0
    duration_s: float = 60.0
    shape: str = "constant"
    max_inflight: int = 64
    predict_path: str = "/predict"


@dataclass
class Lab:
    """What every experiment needs: where records go, the function, how to send, how to wait."""

    run: RunDir
    writer: RecordWriter
    lam: Any
    function: str
    sender: Sender
    target: str = "lambda"
    bound: UpdateBound = field(default_factory=UpdateBound)
    progress: Callable[[str], None] = stderr_progress
    sleep: Callable[[float], None] = time.sleep
    bumps: int = 0
    ctx: RunContext | None = None  # the run context (owns the Locust processes of load phases)
    predict_path: str = "/predict"  # on the target's base URL (load phases)

    def identity(self, scenario: str) -> dict[str, str]:
        return {
            "run_id": self.run.run_id,
            "source": "awslab",
            "scenario": scenario,
            "target": self.target,
            "worker": "awslab",
        }

    def send(self, scenario: str) -> RequestRecord:
        record = self.sender(self.identity(scenario), None)
        self.writer.write(record)
        self.progress(f"  {scenario}: {describe(record)}")
        return record

    def force_cold(self) -> None:
        self.bumps += 1
        force_cold_start(self.lam, self.function, self.bound, f"{self.run.run_id}-{self.bumps}")


def describe(record: RequestRecord) -> str:
    if not record.ok:
        return f"FAILED {record.error_kind} {record.status_code or ''} {record.error_message[:120]}"
    cold = {True: "cold", False: "warm", None: "cold?"}[record.cold_start]
    return f"{record.status_code} {cold} {record.latency_ms or 0:.0f} ms (init {record.init_ms or 0:.0f} ms)"


def cold_then_warm(lab: Lab, prefix: str, cold_count: int, warm_count: int, fresh: bool = False) -> None:
    """`cold_count` requests each after a forced new environment, then `warm_count` back to back.
    `fresh`: the function was just changed, so the first request is cold without forcing it."""
    for index in range(cold_count):
        if index > 0 or not fresh:
            lab.force_cold()
        lab.progress(f"{prefix}: cold {index + 1}/{cold_count}")
        lab.send(f"{prefix}-cold")
    for index in range(warm_count):
        if index == 0:
            lab.progress(f"{prefix}: warm x{warm_count}")
        lab.send(f"{prefix}-warm")


def memory_sweep(lab: Lab, memory_mb: list[int], cold_count: int, warm_count: int, load: LoadPhase | None) -> None:
    """Each memory setting in turn (the change itself makes the first request cold); memory restored after."""
    plan = load_plan(lab, load, [f"memory-{m}-load" for m in memory_mb]) if load is not None else None
    original_mb = int(function_config(lab.lam, lab.function).get("MemorySize", 0))
    try:
        for setting_mb in memory_mb:
            lab.progress(f"memory {setting_mb} MB: updating {lab.function} and waiting until it is live")
            set_memory(lab.lam, lab.function, setting_mb, lab.bound)
            cold_then_warm(lab, f"memory-{setting_mb}", cold_count, warm_count, fresh=True)
            if load is not None and plan is not None:
                run_load_phase(lab, plan, load, f"memory-{setting_mb}-load")
    finally:
        if original_mb and original_mb not in memory_mb[-1:]:
            lab.progress(f"restoring {lab.function} to {original_mb} MB")
            set_memory(lab.lam, lab.function, original_mb, lab.bound)


def load_plan(lab: Lab, load: LoadPhase, scenarios: list[str]) -> Plan:
    """The run's plan.json: one http workload per load phase (named after its scenario), written now."""
    from experiments.plan import DEFAULT_MAX_PROCESSES
    from experiments.planfile import parse_plan, write_plan_json

    shape = {"kind": load.shape, "peak_rps": load.rate_rps, "duration_s": load.duration_s}
    workloads = [{"kind": "http", "name": name, "target": "function", "shape": shape, "max_inflight": load.max_inflight,
                  "predict_path": load.predict_path} for name in scenarios]  # fmt: skip
    safety = {"allow_remote": True, "max_processes": min(256, max(DEFAULT_MAX_PROCESSES, len(scenarios)))}
    data = {"name": lab.run.run_id[:63], "description": "awslab load phases", "workloads": workloads,
            "target": "local" if lab.target.startswith("local-") else "aws", "safety": safety}  # fmt: skip
    plan = parse_plan(data, "awslab load phases")
    write_plan_json(lab.run.path, plan)
    return plan


def run_load_phase(lab: Lab, plan: Plan, load: LoadPhase, scenario: str) -> None:
    """Locust on the plan's workload `scenario`, a child of the run context (records: target lambda)."""
    from analysis.compactor import Compactor
    from locustfiles.runner import run_workload  # Locust starts only when a load phase runs

    if lab.ctx is None:
        raise ConfigError("a load phase needs the experiment's run context (Lab.ctx)")
    lab.progress(f"{scenario}: Locust {load.shape} {load.rate_rps:g} req/s for {load.duration_s:g} s")
    with Compactor(lab.run.records_dir):  # the records' columnar copy as they come (analysis.compactor)
        run_workload(lab.ctx, plan, scenario, load.url.rstrip("/"),
                     progress=lambda: lab.progress(f"{scenario}: running"), interval_s=10.0)  # fmt: skip


def cold_starts(lab: Lab, count: int, warm_after: int) -> None:
    """`count` forced cold starts, each followed by `warm_after` warm requests on the same environment."""
    for index in range(count):
        lab.progress(f"forced cold start {index + 1}/{count}")
        lab.force_cold()
        lab.send("cold-forced")
        for _ in range(warm_after):
            lab.send("cold-forced-warm")


def probes(lab: Lab, idle_s: list[float], repeats: int) -> None:
    """After a warm-up request, one request after each idle gap (`repeats` times per gap)."""
    lab.send("probe-warmup")
    for gap_s in idle_s:
        for index in range(repeats):
            lab.progress(
                f"probe: idle {gap_s:g} s ({index + 1}/{repeats}), next request at "
                f"{time.strftime('%H:%M:%S', time.localtime(time.time() + gap_s))}"
            )
            lab.sleep(gap_s)
            lab.send(f"probe-idle-{gap_s:g}s")


def bursts(lab: Lab, sizes: list[int], cold: bool, warm: bool) -> None:
    """Per size N: N simultaneous requests after a forced change (cold), then N again at once (warm)."""
    for size in sizes:
        phases = [p for p, wanted in (("cold", cold), ("warm", warm)) if wanted]
        for phase in phases:
            if phase == "cold":
                lab.force_cold()
            scenario = f"burst-{size}-{phase}"
            records = burst(lab.sender, size, lab.identity(scenario))
            lab.writer.write_all(records)
            ok = sum(r.ok for r in records)
            colds = sum(bool(r.cold_start) for r in records)
            lab.progress(
                f"{scenario}: {ok}/{size} ok, {colds} cold, max latency "
                f"{max((r.latency_ms or 0) for r in records):.0f} ms"
            )
