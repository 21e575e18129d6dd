"""`python -m labkit.demo` (`make demo`): the whole local experiment in a few minutes.

1. starts the local cloud on 127.0.0.1 (S3 with upload trigger, function platform, gunicorn server);
2. runs the same open-model constant-rate Locust load against the function platform (API-Gateway-like
   front) and then the server;
3. uploads a few images to local S3, each triggering the S3 function, and joins every upload with its
   result object;
4. writes everything to runs/<run-id>/ and the report (report.md, report.html, summary.json) there.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from analysis.report import write_report
from labkit.config import LabConfig, ModelConfig, load_config
from labkit.errors import ConfigError, Interrupted, LabError
from labkit.images import image_set
from labkit.rundir import RunDir
from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.s3 import make_client
from locustfiles.runner import LoadPlan, run_locust
from replay.results import join_results, wait_for_results
from replay.uploads import UploadJob, object_key, upload

LOCAL_TARGETS = ("local-faas", "local-server")


@dataclass(frozen=True)
class DemoOptions:
    rate_rps: float = 4.0
    duration_s: float = 20.0
    uploads: int = 6
    upload_rate_rps: float = 2.0
    model: str = ""
    keepalive_s: float = 60.0
    runs_root: Path = Path("runs")
    targets: tuple[str, ...] = ("local-faas", "local-server")
    result_timeout_s: float = 90.0


def say(message: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_uploads(cloud: LocalCloud, run: RunDir, options: DemoOptions) -> tuple[int, int]:
    """Paced uploads (open loop at upload_rate_rps), then the join with results; (uploads, results)."""
    s3 = make_client("s3", cloud.endpoints.s3_endpoint_url)
    images = image_set(None, count=max(1, options.uploads))
    start_unix_s = time.time() + 0.2
    uploads = []
    with run.writer("uploads") as writer:
        for index in range(options.uploads):
            intended = start_unix_s + index / options.upload_rate_rps
            time.sleep(max(0.0, intended - time.time()))
            image = images[index % len(images)]
            job = UploadJob(index, object_key(run.run_id, index, image.name), image.data, image.content_type, intended)
            record = upload(s3, cloud.endpoints.input_bucket, job, run_id=run.run_id, scenario="s3-upload",
                            target="local-s3")  # fmt: skip
            writer.write(record)
            uploads.append(record)
    keys = [u.object_key for u in uploads if u.ok]
    say(f"{len(uploads)} uploads done ({len(keys)} ok); waiting for the S3 function's results")
    results = wait_for_results(s3, cloud.endpoints.output_bucket, keys, timeout_s=options.result_timeout_s)
    with run.writer("s3-results") as writer:
        writer.write_all(join_results(uploads, results))
    return len(uploads), len(results)


def run_demo(config: LabConfig, options: DemoOptions) -> RunDir:
    unknown = [t for t in options.targets if t not in LOCAL_TARGETS]
    if unknown:
        raise ConfigError(f"--targets: {unknown} are not local targets; expected some of {', '.join(LOCAL_TARGETS)}")
    run = RunDir.create(options.runs_root, "demo", config={"lab": config.as_dict(), "demo": vars(options)})
    say(f"run dir {run.path}")
    model = ModelConfig(name=options.model) if options.model else None
    cloud_options = CloudOptions(keepalive_s=options.keepalive_s, model=model)
    try:
        with LocalCloud(config.localcloud, run.logs_dir, cloud_options) as cloud:
            say("starting the local cloud (S3, function platform, gunicorn); first use builds the model")
            cloud.start()
            say(f"local cloud up: {cloud.endpoints.as_dict()}")
            urls = {"local-faas": cloud.endpoints.faas_url, "local-server": cloud.endpoints.server_url}
            for target in options.targets:
                say(f"load: {options.rate_rps:g} req/s for {options.duration_s:g} s against {target}")
                plan = LoadPlan(target, urls[target], rate_rps=options.rate_rps, duration_s=options.duration_s,
                                scenario="constant-load")  # fmt: skip
                run_locust(plan, run)
            if options.uploads:
                say(f"S3: {options.uploads} uploads to s3://{cloud.endpoints.input_bucket}")
                count, found = run_uploads(cloud, run, options)
                say(f"S3: {found} of {count} results arrived")
            stats = cloud.platform.stats() if cloud.platform else {}
            bridge = vars(cloud.bridge.stats()) if cloud.bridge else {}
            run.update_manifest(endpoints=cloud.endpoints.as_dict(), platform_stats=stats, bridge_stats=bridge)
    except KeyboardInterrupt:
        run.finish(status="interrupted")
        raise Interrupted(f"interrupted; what was recorded so far is in {run.path}") from None
    except LabError:
        run.finish(status="failed")
        raise
    run.finish(status="complete")
    return run


def _parser() -> argparse.ArgumentParser:
    d = DemoOptions()
    parser = argparse.ArgumentParser(prog="python -m labkit.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--rate-rps", type=float, default=d.rate_rps, help="constant request rate per target")
    parser.add_argument("--duration-s", type=float, default=d.duration_s, help="seconds of load per target")
    parser.add_argument("--uploads", type=int, default=d.uploads, help="images uploaded to local S3 (0: none)")
    parser.add_argument("--model", default=d.model, help="built-in model (default: config/localcloud.yaml)")
    parser.add_argument("--keepalive-s", type=float, default=d.keepalive_s, help="idle environment expiry")
    parser.add_argument("--runs", type=Path, default=d.runs_root, help="where run dirs are made")
    parser.add_argument("--targets", default=",".join(d.targets), help="comma-separated: local-faas,local-server")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    options = DemoOptions(rate_rps=args.rate_rps, duration_s=args.duration_s, uploads=args.uploads,
                          model=args.model, keepalive_s=args.keepalive_s, runs_root=args.runs,
                          targets=tuple(t for t in args.targets.split(",") if t))  # fmt: skip
    try:
        run = run_demo(load_config(), options)
        files = write_report(run.path)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(files.markdown.read_text())
    say(f"report: {files.markdown}\n       {files.html}\n       {files.summary_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
