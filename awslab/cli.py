"""The `python -m awslab` commands: argument parsing and the glue between config, AWS clients and run dirs."""

from __future__ import annotations

import argparse
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from awslab.aws import AwsContext, aws_errors
from awslab.collect import collect_reports, collect_results, join_run, plan_for_run
from awslab.endpoints import Endpoints, apply_endpoints, endpoints_path, read_endpoints, write_endpoints
from awslab.experiments import Lab, LoadPhase, bursts, cold_starts, memory_sweep, probes, stderr_progress
from awslab.functions import UpdateBound
from awslab.invoke import http_sender, predict_payload
from awslab.local import FAAS_TARGET, LOCAL_TARGET, cloud_options, collect_local, local_cloud, local_context
from awslab.params import DeployOptions
from awslab.stack import WaitBound, deploy_stack, destroy_stack, stack_outputs
from labkit.config import LabConfig, load_config
from labkit.errors import ConfigError, Interrupted, exit_code_of
from labkit.images import image_set
from labkit.net import is_loopback_host
from labkit.records import iter_records
from labkit.runctx import RunContext
from labkit.rundir import RunDir, latest_run

say = stderr_progress


def context(args: argparse.Namespace, region: str = "") -> AwsContext:
    return AwsContext(region=args.region or region or "us-east-1", profile=args.profile, endpoint_url=args.endpoint_url)


def require_yes(args: argparse.Namespace, what: str) -> None:
    """Refuse billable work on AWS without --yes (an emulator on loopback needs no consent)."""
    endpoint_host = urlsplit(args.endpoint_url).hostname if args.endpoint_url else None
    if args.yes or (endpoint_host and is_loopback_host(endpoint_host)):
        return
    raise ConfigError(f"{what} creates billable AWS resources or sends traffic to AWS; add --yes if you mean it")


def cmd_deploy(args: argparse.Namespace) -> int:
    options = DeployOptions(
        image_uri=args.image_uri,
        stack_name=args.stack_name,
        memory_mb=args.memory_mb,
        timeout_s=args.timeout_s,
        architecture=args.architecture,
        model_name=args.model,
        model_source=args.model_source,
        model_uri=args.model_uri,
        runtime=args.runtime,
        s3_trigger=args.s3_trigger,
        efs_access_point_arn=args.efs_access_point_arn,
        subnet_ids=tuple(_csv(args.subnet_ids)),
        security_group_ids=tuple(_csv(args.security_group_ids)),
        create_ec2=args.ec2,
        ec2_instance_type=args.ec2_instance_type,
        ec2_workers=args.ec2_workers,
        ec2_allowed_cidr=args.ec2_allowed_cidr,
        log_retention_days=args.log_retention_days,
    )
    options.validate()
    require_yes(args, f"deploying stack {options.stack_name}")
    aws = context(args)
    cf = aws.client("cloudformation")
    bound = WaitBound(args.wait_delay_s, args.wait_max_attempts)
    body = options.template_path.read_text(encoding="utf-8")
    outcome = deploy_stack(cf, options.stack_name, body, options.parameters(), bound, say)
    endpoints = Endpoints.from_outputs(options.stack_name, aws.region, stack_outputs(cf, options.stack_name), args.api)
    path = write_endpoints(endpoints, args.endpoints or endpoints_path())
    for warning in endpoints.warnings():
        say(f"warning: {warning}")
    say(f"stack {options.stack_name} {outcome}; endpoints written to {path} (and {path.with_suffix('.env')})")
    for key, value in sorted(endpoints.outputs.items()):
        print(f"{key}\t{value}")
    return 0


def cmd_destroy(args: argparse.Namespace) -> int:
    require_yes(args, f"deleting stack {args.stack_name} (and every object in its buckets)")
    aws = context(args)
    bound = WaitBound(args.wait_delay_s, args.wait_max_attempts)
    deleted = destroy_stack(aws.client("cloudformation"), aws.client("s3"), args.stack_name, bound, say)
    path = args.endpoints or endpoints_path()
    if path.is_file() and read_endpoints(path).stack_name == args.stack_name:
        path.unlink()
        path.with_suffix(".env").unlink(missing_ok=True)
        say(f"removed {path}")
    say("nothing deleted" if not deleted else "done")
    return 0


def cmd_endpoints(args: argparse.Namespace) -> int:
    endpoints = read_endpoints(args.endpoints)
    if args.env:
        for key, value in endpoints.env().items():
            print(f"export {key}={shlex.quote(value)}")
    else:
        config = apply_endpoints(load_config(), endpoints)
        for name in ("lambda", "ec2"):
            if name in config.targets:
                target = config.targets[name]
                print(f"{name}\t{target.resolved_url() or '(no url)'}\t{target.function_name}\t{target.region}")
    return 0


def _csv(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _numbers(text: str, kind: Callable[[str], Any], option: str) -> list[Any]:
    try:
        values = [kind(part) for part in _csv(text)]
    except ValueError:
        raise ConfigError(f"{option} {text!r}: expected comma-separated numbers") from None
    if not values:
        raise ConfigError(f"{option}: give at least one value")
    return values


def open_lab(args: argparse.Namespace, scenario: str, experiment: dict[str, Any]) -> tuple[Lab, Endpoints, str]:
    """Endpoints -> the `lambda` target of the config -> clients, sender and a new run (context not entered)."""
    endpoints = read_endpoints(args.endpoints)
    config = apply_endpoints(load_config(args.config_dir), endpoints)
    target = config.target(args.target)
    base_url = target.resolved_url().rstrip("/")
    if not base_url or not target.function_name:
        raise ConfigError(
            f"target {args.target!r} has no URL or function name; deploy again or set {target.url_env or 'its url'}"
        )
    require_yes(args, f"{scenario} against {base_url}")
    aws = context(args, target.region)
    lam = aws.client("lambda")
    payload = predict_payload(image_set(args.images, count=1)[0].data)
    about = {"name": target.name, "url": base_url, "function_name": target.function_name, "region": aws.region}
    ctx = RunContext.create(
        args.runs,
        scenario,
        config={"aws": endpoints.as_dict(), "experiment": experiment, "target": about, "lab": config.as_dict()},
    )
    lab = Lab(
        run=ctx.run,
        writer=ctx.run.writer("awslab"),
        lam=lam,
        function=target.function_name,
        sender=http_sender(base_url + target.predict_path, payload),
        target=target.name,
        bound=UpdateBound(delay_s=args.update_delay_s, max_attempts=args.update_max_attempts),
        ctx=ctx,
        predict_path=target.predict_path,
    )
    say(f"run {ctx.run.path}: {scenario} on {target.function_name} via {base_url}")
    return lab, endpoints, base_url


LabBody = Callable[[Lab, str], None]  # an experiment: body(lab, base_url)


def open_local_run(
    args: argparse.Namespace, config: LabConfig, scenario: str, experiment: dict[str, Any]
) -> RunContext:
    """The run (context not entered yet) of an experiment against the local cloud (`--target local`)."""
    target = config.target(FAAS_TARGET)
    local = {"model": args.local_model or config.localcloud.model.name, "keepalive_s": args.local_keepalive_s}
    about = {"name": target.name, "url": "", "function_name": target.function_name, "region": ""}
    return RunContext.create(
        args.runs,
        scenario,
        config={"experiment": experiment, "target": about, "local": local, "lab": config.as_dict()},
    )


def local_lab(args: argparse.Namespace, ctx: RunContext, config: LabConfig, url: str) -> Lab:
    """What the experiments need, aimed at the local platform's front and Lambda API at `url`."""
    target = config.target(FAAS_TARGET)
    return Lab(
        run=ctx.run,
        writer=ctx.run.writer("awslab"),
        lam=local_context(url).client("lambda"),
        function=target.function_name,
        sender=http_sender(url + target.predict_path, predict_payload(image_set(args.images, 1)[0].data)),
        target=target.name,
        bound=UpdateBound(delay_s=args.update_delay_s, max_attempts=args.update_max_attempts),
        ctx=ctx,
        predict_path=target.predict_path,
    )


def run_local(args: argparse.Namespace, scenario: str, experiment: dict[str, Any], body: LabBody) -> int:
    """Start the local cloud inside a new run (context), run `body` against it, then join its REPORT lines."""
    config = load_config(args.config_dir)
    ctx = open_local_run(args, config, scenario, experiment)
    options = cloud_options(args.local_model, args.local_keepalive_s)
    say(f"run {ctx.run.path}: starting the local cloud (function platform; first use builds the model)")
    try:
        with ctx, local_cloud(config, ctx.run.logs_dir / "localcloud", options) as cloud:
            url = cloud.endpoints.faas_url
            ctx.run.update_manifest(endpoints=cloud.endpoints.as_dict())
            lab = local_lab(args, ctx, config, url)
            say(f"{scenario} on local function {lab.function} via {url}")
            try:
                run_body(lab, lambda: body(lab, url))
            finally:
                ctx.run.update_manifest(platform_stats=cloud.platform.stats() if cloud.platform else {})
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; the records sent so far are kept in {ctx.run.path}") from None
    say(f"{ctx.run.read_manifest().get('records', 0)} records in {ctx.run.path}")
    if args.collect:
        collect_local(ctx.run, Path(cloud.endpoints.aggregate_log), say)
    return 0


def run_lab(args: argparse.Namespace, scenario: str, experiment: dict[str, Any], body: LabBody) -> int:
    """`body(lab, base_url)` against AWS (the endpoints file) or, with `--target local`, the local cloud."""
    if args.target == LOCAL_TARGET:
        return run_local(args, scenario, experiment, body)
    lab, _endpoints, url = open_lab(args, scenario, experiment)
    return run_experiment(args, lab, lambda: body(lab, url))


def run_body(lab: Lab, body: Callable[[], None]) -> None:
    """Run `body` (AWS failures translated), then close the records and count them in the manifest."""
    try:
        with aws_errors(f"run {lab.run.run_id}"):
            body()
    finally:
        lab.writer.close()
        lab.run.update_manifest(records=record_count(lab.run))


def record_count(run: RunDir) -> int:
    """The records of every file of the run: the lab's own and its load phases' (Locust's files)."""
    return sum(1 for path in run.record_files() for _ in iter_records(path))


def run_experiment(args: argparse.Namespace, lab: Lab, body: Callable[[], None], collect: bool = True) -> int:
    """Run `body` in the lab's run context (status complete / failed / interrupted set by it), then collect."""
    if lab.ctx is None:
        raise ConfigError("an experiment needs its run context (Lab.ctx)")
    try:
        with lab.ctx:
            run_body(lab, body)
    except KeyboardInterrupt:
        kept = lab.run.read_manifest().get("records", 0)  # counted by run_body, before the interrupt came out of it
        raise Interrupted(f"interrupted; {kept} records kept in {lab.run.path}") from None
    say(f"{lab.run.read_manifest().get('records', 0)} records in {lab.run.path}")
    if collect and args.collect:
        collect_run(args, lab.run)
    return 0


def collect_run(args: argparse.Namespace, run: RunDir) -> dict[str, Any]:
    if args.collect_wait_s > 0:
        say(f"waiting {args.collect_wait_s:g} s for CloudWatch to ingest the last REPORT lines")
        time.sleep(args.collect_wait_s)
    fallback = read_endpoints(args.endpoints).as_dict() if (args.endpoints or endpoints_path()).is_file() else None
    pattern = '{ $.type = "platform.report" }' if args.log_format == "json" else "REPORT"
    plan = plan_for_run(run, fallback, args.margin_s, pattern)
    region = ((run.read_manifest().get("config") or {}).get("aws") or fallback or {}).get("region", "")
    aws = context(args, region)
    fetched = collect_reports(aws.client("logs", max_attempts=1), plan, run, say)
    results = collect_results(aws.client("s3"), plan, run, say) if plan.output_bucket else 0
    summary = {
        **join_run(run, say),
        "result_objects": results,
        "complete": all(f.complete for f in fetched),
        "collected_unix_s": time.time(),
    }
    run.update_manifest(aws_collect=summary)
    return summary


def cmd_memory_sweep(args: argparse.Namespace) -> int:
    memory = _numbers(args.memory_mb, int, "--memory-mb")
    experiment = {
        "kind": "memory-sweep",
        "memory_mb": memory,
        "cold": args.cold,
        "warm": args.warm,
        "load_rate_rps": args.load_rate_rps,
        "load_duration_s": args.load_duration_s,
    }

    def body(lab: Lab, url: str) -> None:
        phase = LoadPhase(url, args.load_rate_rps, args.load_duration_s, predict_path=lab.predict_path)
        load = phase if args.load_duration_s > 0 else None
        memory_sweep(lab, memory, args.cold, args.warm, load)

    return run_lab(args, "memory-sweep", experiment, body)


def cmd_cold_starts(args: argparse.Namespace) -> int:
    experiment = {"kind": "cold-starts", "count": args.count, "warm": args.warm}
    return run_lab(args, "cold-starts", experiment, lambda lab, _url: cold_starts(lab, args.count, args.warm))


def cmd_probe(args: argparse.Namespace) -> int:
    idle = _numbers(args.idle_s, float, "--idle-s")
    experiment = {"kind": "probe", "idle_s": idle, "repeats": args.repeats}
    return run_lab(args, "coldstart-probe", experiment, lambda lab, _url: probes(lab, idle, args.repeats))


def cmd_burst(args: argparse.Namespace) -> int:
    sizes = _numbers(args.sizes, int, "--sizes")
    if max(sizes) > args.max_burst or min(sizes) < 1:
        raise ConfigError(f"--sizes {args.sizes}: each must be 1..{args.max_burst} (raise --max-burst if you mean it)")
    experiment = {"kind": "burst", "sizes": sizes, "cold": not args.no_cold, "warm": not args.no_warm}
    return run_lab(args, "burst", experiment, lambda lab, _url: bursts(lab, sizes, not args.no_cold, not args.no_warm))


def cmd_collect(args: argparse.Namespace) -> int:
    run = latest_run(args.runs) if args.latest else RunDir.open(args.run_dir) if args.run_dir else None
    if run is None:
        raise ConfigError("give a run directory or --latest")
    manifest = run.read_manifest()
    local_log = (manifest.get("endpoints") or {}).get("aggregate_log")
    if "local" in (manifest.get("config") or {}) and local_log:  # a --target local run: the platform's log
        summary = collect_local(run, Path(local_log), say)
    else:
        summary = collect_run(args, run)
    print(f"{run.path}\t{summary}")
    return 0


def main_with(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    args = parser.parse_args(argv)
    return exit_code_of(lambda: int(args.func(args)))
