"""`python -m locustfiles`: open-model Locust load against one target (or both local ones), one run dir.

Steps: validate everything (target, URL, shape, safety) before sending anything; make runs/<run-id>/;
start the local cloud when a local target is asked for; run Locust headless per target with the same
shape (progress every few seconds: elapsed, target and achieved rate, records, errors, dropped); stop the
local cloud; finish the run and write its report (analysis.report.write_report).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from labkit.config import LabConfig, ModelConfig, TargetConfig
from labkit.errors import ConfigError, Interrupted, LabError
from labkit.rundir import RunDir
from localcloud.cloud import CloudOptions, LocalCloud
from locustfiles.progress import ProgressPrinter, RecordTail
from locustfiles.runner import LoadPlan, run_locust
from locustfiles.safety import check_duration, check_host, check_rate
from locustfiles.settings import LoadSettings
from locustfiles.shapes import AnyShape, build_shape
from locustfiles.targets import cloud_parts, remote_url, resolve_targets


def say(message: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


def base_plan(args: argparse.Namespace, s: LoadSettings) -> LoadPlan:
    """The plan the options describe, for a target still to be filled in (defaults from load.yaml)."""
    rate = _pick(args.peak_rps, _pick(args.rate_rps, s.rate_rps))
    return LoadPlan(
        target="", url="", shape=_pick(args.shape, s.shape), rate_rps=float(rate),
        duration_s=float(_pick(args.duration_s, s.duration_s)), max_inflight=_pick(args.max_inflight, s.max_inflight),
        scenario=args.scenario or f"load-{_pick(args.shape, s.shape)}", images_dir=_pick(args.images, s.images),
        processes=_pick(args.processes, s.processes), max_lag_s=_pick(args.max_lag_s, s.max_lag_s),
        max_rate_rps=_pick(args.max_rate_rps, s.max_rate_rps),
        max_duration_s=_pick(args.max_duration_s, s.max_duration_s), network_timeout_s=s.network_timeout_s,
        yes_remote=args.yes_remote, step_count=_pick(args.step_count, s.step_count), base_rps=args.base_rps,
        spike_at_s=args.spike_at_s, spike_s=args.spike_s,
        trace_path=str(Path(args.trace).resolve()) if args.trace else str(s.resolved_trace_path()),
        trace_start=_pick(args.trace_start, s.trace_start), trace_end=_pick(args.trace_end, s.trace_end),
        trace_process=_pick(args.trace_process, s.trace_process), seed=_pick(args.seed, s.seed),
    )  # fmt: skip


def check_base(plan: LoadPlan) -> AnyShape:
    """Build the shape and apply the rate and duration caps (before anything starts)."""
    if plan.max_inflight < 1 or plan.processes < 1:
        raise ConfigError(f"--max-inflight and --processes must be >= 1, got {plan.max_inflight}, {plan.processes}")
    shape = build_shape(plan.shape_spec())
    check_rate(shape.peak_rps, plan.max_rate_rps)
    check_duration(shape.duration_s, plan.max_duration_s)
    return shape


def remote_plans(targets: list[TargetConfig], plan: LoadPlan) -> dict[str, LoadPlan]:
    """URLs of the non-local targets, checked for consent (ConfigError saying what to set otherwise)."""
    plans = {}
    for target in targets:
        if not target.is_local:
            url = remote_url(target)
            check_host(url, plan.yes_remote)
            plans[target.name] = dataclasses.replace(plan, target=target.name, url=url,
                                                     predict_path=target.predict_path)  # fmt: skip
    return plans


def _local_urls(cloud: LocalCloud) -> dict[str, str]:
    return {"local-faas": cloud.endpoints.faas_url, "local-server": cloud.endpoints.server_url}


def _start_cloud(stack: ExitStack, targets: list[TargetConfig], plan: LoadPlan, run: RunDir, config: LabConfig,
                 args: argparse.Namespace) -> tuple[LocalCloud | None, dict[str, LoadPlan]]:  # fmt: skip
    """Start the local cloud parts the local targets need (stopped when `stack` closes); their plans."""
    parts = cloud_parts(targets)
    if not parts:
        return None, {}
    model = ModelConfig(name=args.model) if args.model else None
    options = CloudOptions(parts=parts, model=model, server_workers=args.server_workers)
    say(f"starting the local cloud ({', '.join(parts)}) on 127.0.0.1; first use builds the model")
    cloud = stack.enter_context(LocalCloud(config.localcloud, run.logs_dir / "localcloud", options))
    cloud.start()
    urls = _local_urls(cloud)
    say(f"local cloud up: {json.dumps(urls)}")
    plans = {t.name: dataclasses.replace(plan, target=t.name, url=urls[t.kind], predict_path=t.predict_path)
             for t in targets if t.is_local}  # fmt: skip
    return cloud, plans


def _run_targets(targets: list[TargetConfig], plan: LoadPlan, shape: AnyShape, run: RunDir,
                 config: LabConfig, args: argparse.Namespace) -> None:  # fmt: skip
    plans = remote_plans(targets, plan)
    with ExitStack() as stack:
        cloud, local_plans = _start_cloud(stack, targets, plan, run, config, args)
        plans.update(local_plans)
        for target in targets:
            target_plan = plans[target.name]
            say(f"{target.name}: {plan.shape} peaking at {shape.peak_rps:g} rps over {shape.duration_s:g} s "
                f"({shape.arrival_offsets_s().size} requests) -> {target_plan.url}")  # fmt: skip
            printer = ProgressPrinter(RecordTail(run.records_dir, f"locust-{target.name}-"), shape, target.name)
            run_locust(target_plan, run, progress=printer, interval_s=args.progress_interval_s)
            printer()
        if cloud is not None:
            stats = cloud.platform.stats() if cloud.platform else {}
            run.update_manifest(endpoints=cloud.endpoints.as_dict(), platform_stats=stats)


def run_load(args: argparse.Namespace, config: LabConfig, settings: LoadSettings) -> RunDir:
    """Everything `python -m locustfiles` does; returns the finished run dir."""
    targets = resolve_targets(args.target, config)
    plan = base_plan(args, settings)
    shape = check_base(plan)
    remote_plans(targets, plan)  # fail on a missing URL or missing consent before making a run dir
    runs_root = Path(args.runs or settings.runs_dir)
    load = {**dataclasses.asdict(plan), "shape": shape.metadata(), "targets": [t.name for t in targets],
            "arrivals": int(shape.arrival_offsets_s().size)}  # fmt: skip
    manifest_config = {"lab": config.as_dict(), "load": load}
    run = RunDir.create(runs_root, plan.scenario, config=manifest_config)
    say(f"run dir {run.path}")
    try:
        _run_targets(targets, plan, shape, run, config, args)
    except KeyboardInterrupt:
        run.finish(status="interrupted")
        raise Interrupted(f"interrupted; every record written so far is in {run.path}") from None
    except LabError:
        run.finish(status="failed")
        raise
    run.finish(status="complete")
    return run


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
