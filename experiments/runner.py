"""Running a plan: one run context, the target up once, every workload of a sub-run at the same time.

1. the run dir is made and the resolved plan written to plan.json (Locust and the workload processes read it);
2. the local cloud is started inside the run (again only when a sweep changes the model), or the deployed AWS
   stack's endpoints are read;
3. per sub-run (one per combination of sweep values, or one): the values are applied (the function's
   configuration through the Lambda API), then every workload is started; once all say they are ready, one
   common start is released (labkit.startsync), each workload begins at its own `start_s` after it;
4. the records are checked against the schedules (experiments.checks): any mismatch -> status failed;
5. the run context stops whatever is left and sets the status (complete / failed / interrupted).
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.compactor import Compactor
from experiments.checks import Expected, check_run, http_arrivals
from experiments.launch import start_http, start_workload_process
from experiments.plan import BurstWorkload, HttpWorkload, Plan, S3ReplayWorkload
from experiments.planfile import write_plan_json
from experiments.targets import Endpoints, aws_endpoints, check_endpoints, local_endpoints, start_local_cloud
from labkit.config import LabConfig
from labkit.errors import TargetError
from labkit.runctx import Child, RunContext, wait_all
from labkit.startsync import ready_tags, release
from localcloud.cloud import LocalCloud

RELEASE_LEAD_S = 2.0  # once every workload is ready, the common start is this far ahead (workers get it meanwhile)
READY_TIMEOUT_S = 120.0  # how long the workload processes may take to start (Locust import, payloads, clients)
GRACE_S = 60.0  # past the last workload's end (+ its timeouts) before the sub-run is called overrun
PROGRESS_EVERY_S = 10.0

Say = Callable[[str], None]


@dataclass
class SubRun:
    index: int
    update: dict[str, Any]  # {parameter: value} of a sweep, {} otherwise
    start_unix_s: float = 0.0
    ended_unix_s: float = 0.0
    workloads: dict[str, dict[str, Any]] = field(default_factory=dict)  # tag -> facts
    expected: list[Expected] = field(default_factory=list)

    def tag(self, workload: str) -> str:
        parts = [f"{parameter.replace('_', '-')}-{value}" for parameter, value in self.update.items()]
        return "-".join([workload, *parts])

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "sweep": self.update, "start_unix_s": self.start_unix_s,
                "ended_unix_s": self.ended_unix_s, "workloads": self.workloads}  # fmt: skip


def sub_runs(plan: Plan) -> list[SubRun]:
    sweeps = plan.sweeps()
    combos = itertools.product(*[[(s.parameter, v) for v in s.values] for s in sweeps])
    return [SubRun(i, dict(combo)) for i, combo in enumerate(combos)]


def _deadline(plan: Plan, start_unix_s: float) -> float:
    timeouts = [getattr(w, "network_timeout_s", 0.0) + getattr(w, "result_timeout_s", 0.0) for w in plan.workloads]
    return start_unix_s + plan.span_s() + max(timeouts, default=0.0) + GRACE_S


def _expected(plan: Plan, sub: SubRun, name: str) -> Expected:
    w = plan.workload(name)
    tag = sub.tag(name)
    if isinstance(w, HttpWorkload):
        return Expected(tag, name, w.kind, http_arrivals(w), w.processes)
    if isinstance(w, S3ReplayWorkload):
        return Expected(tag, name, w.kind, len(w.schedule()))
    per_burst = getattr(w, "size", 1) * getattr(w, "repeats", 1)
    probes = getattr(w, "count", 0) * (1 + getattr(w, "warm_after", 0))
    return Expected(tag, name, w.kind, probes if w.kind == "cold-probe" else per_burst)


def start_sub_run(ctx: RunContext, plan: Plan, sub: SubRun, endpoints: Endpoints, say: Say) -> list[Child]:
    """Every workload of the sub-run started, each waiting for the common start, which is released once all
    of them are ready (a slow starter delays the start instead of sending late); their processes."""
    sync_dir = ctx.run.path / "sync" / str(sub.index)
    children = []
    for w in plan.workloads:
        tag = sub.tag(w.name)
        sub.expected.append(_expected(plan, sub, w.name))
        if isinstance(w, HttpWorkload):
            child = start_http(ctx, w, endpoints, sync_dir, tag)
        else:
            child = start_workload_process(ctx, w.name, endpoints, sync_dir, tag, sub.update)
        sub.workloads[tag] = {"workload": w.name, "kind": w.kind, "pid": child.pid,
                              **({"size": w.size} if isinstance(w, BurstWorkload) else {})}  # fmt: skip
        children.append(child)
    _await_ready(sync_dir, sub, children)
    sub.start_unix_s = release(sync_dir, RELEASE_LEAD_S)
    for w in plan.workloads:
        facts = sub.workloads[sub.tag(w.name)]
        facts.update(start_unix_s=sub.start_unix_s + w.start_s, planned_end_unix_s=sub.start_unix_s + w.end_s())
    return children


def _await_ready(sync_dir: Path, sub: SubRun, children: list[Child]) -> None:
    """Until every workload process said it is ready (TargetError when one exits first or time runs out)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while (missing := set(sub.workloads) - ready_tags(sync_dir)) and time.monotonic() < deadline:
        exited = [c for c in children if c.poll() is not None]
        if exited:
            raise TargetError(f"{exited[0].name} exited {exited[0].poll()} before it was ready "
                              f"(log {exited[0].log_path}): {_last_error(exited[0])}")  # fmt: skip
        time.sleep(0.05)
    if missing:
        raise TargetError(f"{', '.join(sorted(missing))} not ready within {READY_TIMEOUT_S:g} s; see their logs")


def wait_sub_run(plan: Plan, sub: SubRun, children: list[Child], say: Say) -> list[str]:
    """Wait for every process of the sub-run (progress lines meanwhile); problems with how they ended."""
    deadline = _deadline(plan, sub.start_unix_s)
    while True:
        running = wait_all(children, min(deadline, time.time() + PROGRESS_EVERY_S))
        if not running or time.time() >= deadline:
            break
        elapsed_s = time.time() - sub.start_unix_s
        say(f"sub-run {sub.index + 1}: {max(0.0, elapsed_s):.0f}/{plan.span_s():.0f} s; running: "
            f"{', '.join(c.name for c in running)}")  # fmt: skip
    problems = []
    for child in children:
        refused = [line for line in child.log_tail(20000).splitlines() if "load refused:" in line]
        if refused:
            problems.append(f"{child.name}: {refused[0].split('load refused:', 1)[1].strip()}")
        if child.poll() is None:
            problems.append(f"{child.name} overran the plan's time bound and was stopped (log {child.log_path})")
            child.stop()
        elif child.poll() not in (0, 1) or (child.poll() == 1 and _crashed(child)):
            # Locust also exits 1 when a request failed: that is data; a traceback is not
            problems.append(f"{child.name} exited {child.poll()} (log {child.log_path}): {_last_error(child)}")
    sub.ended_unix_s = time.time()
    return problems


def _crashed(child: Child) -> bool:
    return "Traceback (most recent call last)" in child.log_tail(20000)


def _last_error(child: Child) -> str:
    lines = [line.strip() for line in child.log_tail(20000).splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "Exception" in line]
    return (errors or lines or ["(no output)"])[-1][:300]


CLOUD_PARAMETERS = (
    "model",
    "model_source",
    "runtime",
)  # a new value needs a fresh local cloud (s3_trigger re-routes the running one; the rest: the Lambda API)


class Targets:
    """The endpoints of each sub-run: the deployed stack, or a local cloud kept while the sub-runs' cloud
    parameters (model, model source) stay the same and started anew when they change; closed at the end."""

    def __init__(self, plan: Plan, config: LabConfig, ctx: RunContext, say: Say) -> None:
        self.plan, self.config, self.ctx, self.say = plan, config, ctx, say
        self.cloud: LocalCloud | None = None
        self.key: dict[str, Any] | None = None
        self.endpoints: Endpoints | None = None

    def for_sub_run(self, sub: SubRun) -> Endpoints:
        if self.plan.target == "aws":
            self.endpoints = self.endpoints or aws_endpoints(self.config)
            check_endpoints(self.plan, self.endpoints)
            return self.endpoints
        key = {k: v for k, v in sub.update.items() if k in CLOUD_PARAMETERS}
        if self.cloud is None or key != self.key:
            self.close()
            self.say("starting the local cloud on 127.0.0.1 (S3, function platform, gunicorn); first use builds "
                     f"the model{f' ({key})' if key else ''}")  # fmt: skip
            work_dir = self.ctx.run.logs_dir / f"localcloud-{sub.index}"
            self.cloud = start_local_cloud(self.plan, self.config, work_dir, sub.update)
            self.key, self.endpoints = key, local_endpoints(self.cloud, self.config)
            check_endpoints(self.plan, self.endpoints)
            known = self.ctx.run.read_manifest().get("endpoints") or {}
            self.ctx.run.update_manifest(endpoints={**known, str(sub.index): self.endpoints.as_dict()})
        trigger = str(sub.update.get("s3_trigger", self.cloud.s3_trigger))
        if trigger != self.cloud.s3_trigger:
            self.say(f"uploads now drive {trigger} (the local S3 notification re-routed)")
            self.cloud.route_uploads(trigger)
            self.endpoints = dataclasses.replace(self.endpoints, s3_function=trigger)
        assert self.endpoints is not None
        return self.endpoints

    def close(self) -> None:
        """Stop the load first, then the cloud it was aimed at."""
        self.ctx.stop_children(everything=False)
        cloud, self.cloud = self.cloud, None
        if cloud is not None:
            if cloud.platform is not None:
                self.ctx.run.update_manifest(platform_stats=cloud.platform.stats())
            cloud.close()

    def __enter__(self) -> Targets:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_plan(plan: Plan, config: LabConfig, runs_root: Path, say: Say) -> RunContext:
    """Everything `python -m experiments run` does; the closed run context (status set)."""
    from experiments.sweep import apply_sweep_value

    ctx = RunContext.create(runs_root, plan.name, config={"plan": plan.name, "lab": config.as_dict()})
    say(f"run dir {ctx.run.path}")
    with ctx:
        write_plan_json(ctx.run.path, plan)
        done: list[SubRun] = []
        # the records' columnar copy written while the run goes (analysis.compactor): the report parses little
        with Compactor(ctx.run.records_dir), Targets(plan, config, ctx, say) as targets:
            for sub in sub_runs(plan):
                endpoints = targets.for_sub_run(sub)
                apply_sweep_value(plan, endpoints, sub.update, say)
                children = start_sub_run(ctx, plan, sub, endpoints, say)
                starts = time.strftime("%H:%M:%S", time.localtime(sub.start_unix_s))
                values = f" {sub.update}" if sub.update else ""
                count = f"{sub.index + 1}/{plan.sub_run_count()}"
                say(f"sub-run {count}{values}: {len(children)} workloads start at {starts}")
                ctx.problems.extend(wait_sub_run(plan, sub, children, say))
                done.append(sub)
                ctx.run.update_manifest(sub_runs=[s.as_dict() for s in done])
        records = ctx.run.records()
        ctx.problems.extend(check_run(plan, [e for s in done for e in s.expected], ctx.run.path, records))
    for problem in ctx.problems:
        say(f"problem: {problem}")
    return ctx


def ensure_complete(ctx: RunContext) -> None:
    if ctx.status != "complete":
        ctx.raise_for_status()
        raise TargetError(f"the run ended {ctx.status}: {ctx.run.path}")
