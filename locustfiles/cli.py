"""`python -m locustfiles`: open-model Locust load against one target (or both local ones), as a plan.

Steps: validate everything (target, URL, shape, safety) before sending anything; build one `Plan`
(experiments.plan) with one http workload per target, named after the target; run it with
experiments.runner.run_plan (one run dir and run context: the local cloud is started inside the run for
local targets, every workload runs at the same time on one clock, Locust reads its workload from the run's
plan.json, the records are checked against the schedule); progress every few seconds (elapsed, target and
achieved rate, records, errors, dropped). The caller writes the report.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

from experiments.plan import DEFAULT_MAX_PROCESSES, Plan
from experiments.planfile import parse_plan
from experiments.runner import run_plan
from labkit.config import LabConfig, TargetConfig
from labkit.errors import ConfigError, Interrupted
from labkit.runctx import RunContext
from locustfiles.progress import RunProgress
from locustfiles.safety import check_duration, check_host, check_rate
from locustfiles.settings import LoadSettings
from locustfiles.shapes import AnyShape, ShapeSpec, build_shape
from locustfiles.targets import plan_roles, remote_url, resolve_targets


def say(message: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


def shape_spec(args: argparse.Namespace, s: LoadSettings) -> ShapeSpec:
    """The shape the options describe (defaults from load.yaml)."""
    rate = _pick(args.peak_rps, _pick(args.rate_rps, s.rate_rps))
    trace = Path(args.trace).resolve() if args.trace else s.resolved_trace_path()
    return ShapeSpec(name=_pick(args.shape, s.shape), rate_rps=float(rate),
                     duration_s=float(_pick(args.duration_s, s.duration_s)),
                     step_count=_pick(args.step_count, s.step_count), base_rps=args.base_rps,
                     spike_at_s=args.spike_at_s, spike_s=args.spike_s, trace_path=str(trace),
                     trace_start=_pick(args.trace_start, s.trace_start),
                     trace_end=_pick(args.trace_end, s.trace_end),
                     trace_process=_pick(args.trace_process, s.trace_process),
                     seed=_pick(args.seed, s.seed))  # fmt: skip


def check_shape(spec: ShapeSpec, args: argparse.Namespace, s: LoadSettings) -> AnyShape:
    """Build the shape and apply the rate and duration caps (before anything starts)."""
    max_inflight, processes = _pick(args.max_inflight, s.max_inflight), _pick(args.processes, s.processes)
    if max_inflight < 1 or processes < 1:
        raise ConfigError(f"--max-inflight and --processes must be >= 1, got {max_inflight}, {processes}")
    shape = build_shape(spec)
    check_rate(shape.peak_rps, _pick(args.max_rate_rps, s.max_rate_rps))
    check_duration(shape.duration_s, _pick(args.max_duration_s, s.max_duration_s))
    return shape


def check_remote(targets: list[TargetConfig], yes_remote: bool) -> None:
    """Every non-local target has a URL and consent (ConfigError saying what to set otherwise)."""
    for target in targets:
        if not target.is_local:
            check_host(remote_url(target), yes_remote)


def plan_name(args: argparse.Namespace, spec: ShapeSpec) -> str:
    """--scenario (default load-<shape>) as a plan name: the run's name (run id, manifest scenario)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", args.scenario or f"load-{spec.name}").lstrip("-_.")[:63]
    return name or "load"


def workload(target: TargetConfig, role: str, spec: ShapeSpec, args: argparse.Namespace,
             s: LoadSettings) -> dict[str, Any]:  # fmt: skip
    """One http workload: the target's name (so the records' scenario and locust/<name>_stats.csv say it)."""
    images = _pick(args.images, s.images)
    trace = {"path": spec.trace_path, "start": spec.trace_start, "end": spec.trace_end,
             "process": spec.trace_process, "seed": spec.seed}  # fmt: skip
    shape = {"kind": spec.name, "peak_rps": spec.rate_rps, "duration_s": spec.duration_s,
             "step_count": spec.step_count, "base_rps": spec.base_rps, "spike_at_s": spec.spike_at_s,
             "spike_s": spec.spike_s, "trace": trace}  # fmt: skip
    return {"kind": "http", "name": target.name, "target": role, "shape": shape, "predict_path": target.predict_path,
            "images": str(Path(images).resolve()) if images else "",
            "max_inflight": _pick(args.max_inflight, s.max_inflight), "max_lag_s": _pick(args.max_lag_s, s.max_lag_s),
            "processes": _pick(args.processes, s.processes), "network_timeout_s": s.network_timeout_s}  # fmt: skip


def build_plan(args: argparse.Namespace, s: LoadSettings, targets: list[TargetConfig], spec: ShapeSpec) -> Plan:
    """The plan of the options: every value given explicitly (load.yaml's defaults, not the plan model's)."""
    plan_target, roles = plan_roles(targets)
    workloads = [workload(t, role, spec, args, s) for t, role in zip(targets, roles, strict=True)]
    safety = {
        "max_rate_rps": _pick(args.max_rate_rps, s.max_rate_rps),
        "max_duration_s": _pick(args.max_duration_s, s.max_duration_s),
        "max_processes": _pick(args.max_processes, DEFAULT_MAX_PROCESSES),  # raised only by --max-processes
        "allow_remote": bool(args.yes_remote),
    }
    data = {
        "name": plan_name(args, spec),
        "description": f"python -m locustfiles --target {args.target}: {spec.name} load, all targets at once",
        "target": plan_target,
        "cloud": {"model": args.model or "", "server_workers": args.server_workers},
        "workloads": workloads,
        "safety": safety,
    }
    return parse_plan(data, "python -m locustfiles options")


def _load_section(spec: ShapeSpec, shape: AnyShape, plan: Plan, targets: list[TargetConfig]) -> dict[str, Any]:
    """What the manifest's config.load says (the report reads a constant shape's configured rate there)."""
    first = plan.http_workloads()[0]
    return {"shape": shape.metadata(), "rate_rps": spec.rate_rps, "duration_s": spec.duration_s,
            "targets": [t.name for t in targets], "arrivals": int(shape.arrival_offsets_s().size),
            "processes": first.processes, "max_inflight": first.max_inflight, "max_lag_s": first.max_lag_s}  # fmt: skip


def run_load(args: argparse.Namespace, config: LabConfig, settings: LoadSettings) -> RunContext:
    """Everything `python -m locustfiles` does; the closed run context (status set)."""
    targets = resolve_targets(args.target, config)
    spec = shape_spec(args, settings)
    shape = check_shape(spec, args, settings)
    check_remote(targets, args.yes_remote)  # a missing URL or consent fails before a run dir exists
    plan = build_plan(args, settings, targets, spec)
    names = [t.kind for t in targets]  # the records' target
    together = " and ".join(t.name for t in targets) + (" at the same time" if len(targets) > 1 else "")
    say(f"{together}: {spec.name} peaking at {shape.peak_rps:g} rps over {shape.duration_s:g} s "
        f"({shape.arrival_offsets_s().size} requests{' each' if len(targets) > 1 else ''})")  # fmt: skip
    progress = RunProgress(shape, names, args.progress_interval_s, say)
    try:
        ctx = run_plan(plan, config, Path(args.runs or settings.runs_dir), progress.say)
    except KeyboardInterrupt:
        progress.stop()
        where = progress.run_path or "the run dir"
        raise Interrupted(f"interrupted; every record written so far is in {where}") from None
    progress.stop()
    manifest_config = ctx.run.read_manifest().get("config") or {}
    ctx.run.update_manifest(config={**manifest_config, "load": _load_section(spec, shape, plan, targets)})
    return ctx


def add_calibrate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calibrate", action="store_true",
                   help="only measure the latency floor: this tool against a null endpoint on 127.0.0.1 at the "
                   "run's rate (--rate-rps, --processes) for --calibrate-s; print the client's own added latency "
                   "p50/p90/p99 from the intended and the actual send; nothing is sent to the target")  # fmt: skip
    p.add_argument("--calibrate-s", type=float, default=5.0, help="--calibrate: seconds of traffic (5)")


def run_calibration(args: argparse.Namespace, s: LoadSettings) -> int:
    """`python -m locustfiles --calibrate`: measure and print the latency floor (exit code 0)."""
    from locustfiles.calibrate import calibrate

    rate_rps = float(_pick(args.peak_rps, _pick(args.rate_rps, s.rate_rps)))
    check_rate(rate_rps, _pick(args.max_rate_rps, s.max_rate_rps))
    processes = int(_pick(args.processes, s.processes))
    say(f"calibrating: {rate_rps:g} req/s for {args.calibrate_s:g} s against a null endpoint (no target)")
    calibration = calibrate(rate_rps, args.calibrate_s, processes, images_dir=_pick(args.images, s.images) or "")
    for line in calibration.lines():
        say(line)
    return 0


def summary_lines(summary_json: Path) -> list[str]:
    """One line per target of the written summary: requests, ok, errors by kind, achieved rate, p50/p99."""
    lines = []
    for group in json.loads(summary_json.read_text()).get("groups", []):
        lat = group.get("latency_ms", {})
        rps = group.get("throughput", {}).get("achieved_rps") or group.get("achieved_rps") or 0.0
        lines.append(f"{group['target']}: {group['count']} requests, {group['ok']} ok, errors {group['errors']}, "
                     f"{rps:.1f} rps, latency p50 {lat.get('p50', float('nan')):.1f} ms "
                     f"p99 {lat.get('p99', float('nan')):.1f} ms")  # fmt: skip
    return lines
