"""The `python -m awslab` commands: argument parsing and the glue between config, AWS clients and run dirs."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from awslab.aws import AwsContext, aws_errors
from awslab.collect import collect_reports, collect_results, join_run, plan_for_run
from awslab.endpoints import Endpoints, apply_endpoints, endpoints_path, read_endpoints, write_endpoints
from awslab.experiments import Lab, LoadPhase, bursts, cold_starts, memory_sweep, probes, stderr_progress
from awslab.functions import UpdateBound
from awslab.invoke import http_sender, predict_payload
from awslab.params import DeployOptions
from awslab.stack import WaitBound, deploy_stack, destroy_stack, stack_outputs
from labkit.config import load_config
from labkit.errors import ConfigError, Interrupted, LabError
from labkit.images import image_set
from labkit.net import is_loopback_host
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
    """Endpoints -> the `lambda` target of the config -> clients, sender and a new run dir."""
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
    run = RunDir.create(
        args.runs,
        scenario,
        config={
            "aws": endpoints.as_dict(),
            "experiment": experiment,
            "target": {
                "name": target.name,
                "url": base_url,
                "function_name": target.function_name,
                "region": aws.region,
            },
            "lab": config.as_dict(),
        },
    )
    bound = UpdateBound(delay_s=args.update_delay_s, max_attempts=args.update_max_attempts)
    lab = Lab(
        run=run,
        writer=run.writer("awslab"),
        lam=lam,
        function=target.function_name,
        sender=http_sender(base_url + target.predict_path, payload),
        target=target.name,
        bound=bound,
    )
    say(f"run {run.path}: {scenario} on {target.function_name} via {base_url}")
    return lab, endpoints, base_url


def run_experiment(args: argparse.Namespace, lab: Lab, body: Callable[[], None]) -> int:
    """Run `body`, finish the run dir whatever happens (interrupted / failed / complete), then collect."""
    try:
        with aws_errors(f"run {lab.run.run_id}"):
            body()
    except KeyboardInterrupt:
        lab.writer.close()
        lab.run.finish("interrupted", records=lab.writer.count)
        raise Interrupted(f"interrupted; {lab.writer.count} records kept in {lab.run.path}") from None
    except LabError as exc:
        lab.writer.close()
        lab.run.finish("failed", error=str(exc), records=lab.writer.count)
        raise
    lab.writer.close()
    lab.run.finish("complete", records=lab.writer.count)
    say(f"{lab.writer.count} records in {lab.run.path}")
    if args.collect:
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
    lab, _endpoints, url = open_lab(args, "memory-sweep", experiment)
    load = LoadPhase(url, args.load_rate_rps, args.load_duration_s) if args.load_duration_s > 0 else None
    return run_experiment(args, lab, lambda: memory_sweep(lab, memory, args.cold, args.warm, load))


def cmd_cold_starts(args: argparse.Namespace) -> int:
    lab, _, _ = open_lab(args, "cold-starts", {"kind": "cold-starts", "count": args.count, "warm": args.warm})
    return run_experiment(args, lab, lambda: cold_starts(lab, args.count, args.warm))


def cmd_probe(args: argparse.Namespace) -> int:
    idle = _numbers(args.idle_s, float, "--idle-s")
    lab, _, _ = open_lab(args, "coldstart-probe", {"kind": "probe", "idle_s": idle, "repeats": args.repeats})
    return run_experiment(args, lab, lambda: probes(lab, idle, args.repeats))


def cmd_burst(args: argparse.Namespace) -> int:
    sizes = _numbers(args.sizes, int, "--sizes")
    if max(sizes) > args.max_burst or min(sizes) < 1:
        raise ConfigError(f"--sizes {args.sizes}: each must be 1..{args.max_burst} (raise --max-burst if you mean it)")
    lab, _, _ = open_lab(
        args, "burst", {"kind": "burst", "sizes": sizes, "cold": not args.no_cold, "warm": not args.no_warm}
    )
    return run_experiment(args, lab, lambda: bursts(lab, sizes, not args.no_cold, not args.no_warm))


def cmd_collect(args: argparse.Namespace) -> int:
    run = latest_run(args.runs) if args.latest else RunDir.open(args.run_dir) if args.run_dir else None
    if run is None:
        raise ConfigError("give a run directory or --latest")
    summary = collect_run(args, run)
    print(f"{run.path}\t{summary}")
    return 0


def main_with(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return Interrupted.exit_code
