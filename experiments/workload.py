"""`python -m experiments.workload RUN_DIR NAME --sync-dir DIR --endpoints JSON --tag TAG --sub-run JSON`:
one non-HTTP workload of a run's plan.json, in a process of its own (started by the experiment runner).

- s3-replay: the replay engine (replay.runner) uploads on the trace schedule from the plan's common start
  (labkit.startsync) + start_s and joins every
  upload with its result; records/<tag>-replay.csv and <tag>-s3-results.csv;
- burst: `size` simultaneous invokes through the function front, `repeats` times, each burst after a forced
  configuration change when `cold` (new environments); records/<tag>.csv;
- cold-probe: one invoke every `interval_s`, each after the environment is known to be gone (a forced
  configuration change, or waiting past the keep-alive), then `warm_after` warm ones; records/<tag>.csv.
What the workload did goes to workloads/<tag>.json (status, counts); the run's manifest stays the runner's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from experiments.plan import BurstWorkload, ColdProbeWorkload, S3ReplayWorkload
from experiments.planfile import read_plan_json
from experiments.targets import Endpoints
from labkit.errors import ConfigError, LabError
from labkit.rundir import RunDir
from labkit.startsync import await_start, mark_ready

WORKLOADS_DIR = "workloads"
SYNC_TIMEOUT_S = 180.0


class WorkloadRun(RunDir):
    """The run dir as seen by one workload: same records/ and logs/, its own status file as 'manifest'."""

    def __init__(self, path: Path, tag: str) -> None:
        super().__init__(path)
        self.tag = tag

    @property
    def manifest_path(self) -> Path:
        return self.path / WORKLOADS_DIR / f"{self.tag}.json"

    def start(self, **fields: Any) -> None:
        self.manifest_path.parent.mkdir(exist_ok=True)
        self.write_manifest({"run_id": self.run_id, "workload": self.tag, "status": "running",
                             "started_unix_s": time.time(), **fields})  # fmt: skip


def say(tag: str, message: str) -> None:
    print(f"[{tag} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _ready(run: WorkloadRun, sync_dir: Path) -> float:
    """Say this workload is ready; the plan's common start (unix s)."""
    mark_ready(sync_dir, run.tag)
    return await_start(sync_dir, SYNC_TIMEOUT_S)


def run_s3_replay(run: WorkloadRun, w: S3ReplayWorkload, endpoints: Endpoints, sync_dir: Path) -> int:
    from labkit.config import load_config
    from replay.options import ReplayOptions, build_trace_schedule
    from replay.runner import _replay_locked

    spec = w.schedule_spec()
    local = endpoints.target == "local"
    schedule = build_trace_schedule(spec)
    start_unix_s = _ready(run, sync_dir)
    options = ReplayOptions(
        schedule=spec, target="local" if local else "aws", bucket=endpoints.input_bucket,
        results_bucket=endpoints.output_bucket, s3_endpoint=endpoints.s3_endpoint_url if local else "",
        images=w.images, image_count=w.image_count, max_attempts=w.max_attempts, result_timeout_s=w.result_timeout_s,
        report_logs=(endpoints.platform_log,) if endpoints.platform_log else (), runs_root=run.path.parent,
        yes=True, write_report=False, start_at_unix_s=start_unix_s + w.start_s, records_prefix=f"{run.tag}-",
    )  # fmt: skip
    run.start(config={"replay": options.as_dict(), "schedule": schedule.metadata()}, arrivals=len(schedule))
    outcome = _replay_locked(options, run, schedule, load_config(), lambda m: say(run.tag, m))
    say(run.tag, f"{outcome.ok} of {outcome.total} uploads ok, {outcome.joined} joined, {outcome.missing} missing")
    return 0 if outcome.status == "complete" else 4


def _lab(run: WorkloadRun, w: BurstWorkload | ColdProbeWorkload, endpoints: Endpoints) -> Any:
    """An awslab Lab bound to the function front and the Lambda API (local or AWS)."""
    import boto3

    from awslab.experiments import Lab
    from awslab.functions import UpdateBound
    from awslab.invoke import http_sender, predict_payload
    from labkit.images import image_set

    function = endpoints.api_function if w.function == "inference-api" else w.function
    if endpoints.target == "local":
        lam = boto3.client("lambda", endpoint_url=endpoints.lambda_endpoint, region_name=endpoints.region,
                           aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    else:
        lam = boto3.client("lambda", region_name=endpoints.region)
    payload = predict_payload(image_set(None, count=1)[0].data)
    sender = http_sender(f"{endpoints.function_url}/predict", payload)
    writer = run.writer(run.tag)
    target = "local-faas" if endpoints.target == "local" else "lambda"
    return Lab(run=run, writer=writer, lam=lam, function=function, sender=sender, target=target,
               bound=UpdateBound(), progress=lambda m: say(run.tag, m))  # fmt: skip


def _sleep_until(unix_s: float) -> None:
    time.sleep(max(0.0, unix_s - time.time()))


def run_burst(run: WorkloadRun, w: BurstWorkload, endpoints: Endpoints, sync_dir: Path) -> int:
    from awslab.invoke import burst

    run.start(arrivals=w.size * w.repeats)
    lab = _lab(run, w, endpoints)
    start_unix_s = _ready(run, sync_dir)
    try:
        for repeat in range(w.repeats):
            _sleep_until(start_unix_s + w.start_s + repeat * w.interval_s)
            if w.cold:
                lab.force_cold()
            records = burst(lab.sender, w.size, lab.identity(run.tag), timeout_s=w.timeout_s)
            lab.writer.write_all(records)
            say(run.tag, f"burst {repeat + 1}/{w.repeats}: {sum(r.ok for r in records)}/{w.size} ok, "
                f"{sum(bool(r.cold_start) for r in records)} cold")  # fmt: skip
    finally:
        lab.writer.close()
    return 0


def run_cold_probe(run: WorkloadRun, w: ColdProbeWorkload, endpoints: Endpoints, sync_dir: Path) -> int:
    run.start(arrivals=w.count * (1 + w.warm_after))
    lab = _lab(run, w, endpoints)
    start_unix_s = _ready(run, sync_dir)
    try:
        for index in range(w.count):
            _sleep_until(start_unix_s + w.start_s + index * w.interval_s)
            if w.force == "config-change":
                lab.force_cold()
            lab.send(run.tag)
            for _ in range(w.warm_after):
                lab.send(run.tag)
    finally:
        lab.writer.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.workload", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("name")
    parser.add_argument("--sync-dir", type=Path, required=True, help="the sub-run's start-sync folder")
    parser.add_argument("--endpoints", required=True, help="JSON of experiments.targets.Endpoints")
    parser.add_argument("--tag", required=True, help="records and status file name of this (sub-run's) workload")
    parser.add_argument("--sub-run", default="{}", help="JSON: the sweep value of this sub-run")
    args = parser.parse_args(argv)
    run = WorkloadRun(args.run_dir, args.tag)
    try:
        plan = read_plan_json(args.run_dir)
        workload = plan.workload(args.name)
        endpoints = Endpoints.from_dict(json.loads(args.endpoints))
        runners = {"s3-replay": run_s3_replay, "burst": run_burst, "cold-probe": run_cold_probe}
        if workload.kind not in runners:
            raise ConfigError(f"workload {args.name!r} is {workload.kind}; http workloads run in Locust")
        code = runners[workload.kind](run, workload, endpoints, args.sync_dir)  # type: ignore[operator]
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        _finish(run, "failed", error=str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _finish(run, "interrupted")
        return 130
    _finish(run, "complete" if code == 0 else "failed")
    return code


def _finish(run: WorkloadRun, status: str, **fields: Any) -> None:
    if not run.manifest_path.is_file():
        run.start()
    current = run.read_manifest().get("status")
    if current in (None, "running") or status != "complete":
        run.finish(status=status if current in (None, "running", "complete") else current, **fields)


if __name__ == "__main__":
    sys.exit(main())
