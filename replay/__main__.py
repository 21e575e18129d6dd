"""`python -m replay TRACE`: replay a traffic trace as S3 uploads, open loop, and join them with the results.

With no options it replays the committed FIFA'98 day's evening (traces/fifa98.csv, 19:00-23:00 GMT:
England v Argentina, busiest minute 21:42) 160x faster (4 h in 90 s), scaled so the busiest minute
runs at 10 uploads/s (~540 uploads, Poisson arrivals with seed 1998), against the local cloud (S3 +
function platform, started here and stopped at the end), and writes runs/<run-id>/ with:
  records/replay.csv      every upload attempt (s3-put: intended/actual send time, lag, bytes, status)
  records/s3-results.csv  every upload joined with its inference result (s3-infer: completion, cold
                          start, end-to-end latency from the intended send, REPORT duration/billed/memory)
                          or a missing_result record
  logs/s3-results.jsonl   the result objects as collected; logs/platform.log the REPORT lines
  report.md / report.html / summary.json

Uploads are retried with backoff (every attempt recorded). Ctrl-C stops scheduling, lets uploads in
flight finish, keeps everything and prints how to resume. --resume RUN re-reads the run's schedule
from its manifest and uploads only the slots without an ok record; resumed sends are RE-BASED (the
rest of the schedule is shifted to start at the resume time; lag is measured against that).
With the local cloud, results of uploads whose inference was not collected before an interruption
are lost with that cloud and reported as missing_result.

Engines (--engine): `threads` (default) sends from this process, a pool of threads with boto3 (retries with
backoff, --resume). `locust` sends the same schedule with Locust users, the open-model pacing of the HTTP load
(locustfiles.pacing): --processes N runs a Locust master and N workers on this machine (arrival i goes to
worker i mod N; --remote-workers K adds K workers on other machines, see the README, "Replaying FIFA'98 at
1:1"), each upload one SigV4-signed PUT on a pooled keep-alive connection, retried like the thread engine's,
every attempt an s3-put record in records/replay-p<i>of<N>-<host>-<pid>.csv (one file per process; the join
reads them all); a send that cannot start within 1 s of its intended time is recorded as `dropped`.
--workers is then the cap of uploads in flight over all processes. A run interrupted under --engine locust
is resumed with the thread engine (--resume).

Exit codes: 0 done, 2 bad options, 3 bad trace/run dir, 4 target unreachable or every upload failed,
130 interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from analysis.report import write_report
from labkit.config import load_config
from labkit.errors import ConfigError, TargetError, exit_code_of
from replay.options import (
    DEFAULT_MAX_UPLOADS,
    DEFAULT_PEAK_RPS,
    DEFAULT_PROCESS,
    DEFAULT_SEED,
    DEFAULT_SPEEDUP,
    DEFAULT_WINDOW,
    ENGINES,
    TARGETS,
    ReplayOptions,
    ScheduleSpec,
    build_trace_schedule,
    file_sha256,
)
from replay.runner import Outcome, check_confirmation, replay

SCHEDULE_ARGS = ("window", "speedup", "peak_rps", "mean_rps", "process", "seed", "max_uploads")
TARGET_ARGS = ("target", "bucket", "results_bucket", "images", "image_count", "s3_endpoint", "model")


def say(message: str) -> None:
    print(f"[replay {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m replay", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("trace", nargs="?", type=Path, help="trace file (any kind traces.load_trace reads)")
    s = p.add_argument_group("schedule (fixed for a run; --resume re-reads it)")
    s.add_argument("--window", help=f"START,END as times of day on the trace's first day or ISO date/times, "
                                    f"or 'all' (default {DEFAULT_WINDOW})")  # fmt: skip
    s.add_argument("--speedup", type=float, help=f"time compression (default {DEFAULT_SPEEDUP:g})")
    s.add_argument("--peak-rps", type=float, help=f"busiest bin's upload rate (default {DEFAULT_PEAK_RPS:g})")
    s.add_argument("--mean-rps", type=float, help="scale to this mean rate instead of --peak-rps")
    s.add_argument("--process", choices=("uniform", "poisson", "exact"), help=f"arrivals (default {DEFAULT_PROCESS})")
    s.add_argument("--seed", type=int, help=f"Poisson seed (default {DEFAULT_SEED})")
    s.add_argument("--max-uploads", type=int, help=f"refuse bigger schedules (default {DEFAULT_MAX_UPLOADS:,})")
    t = p.add_argument_group("target")
    t.add_argument("--target", choices=TARGETS, help="local (default: the local cloud, or --s3-endpoint) or aws")
    t.add_argument("--bucket", help="upload bucket (required for aws; default the local cloud's input bucket)")
    t.add_argument("--results-bucket", help="where the S3 function writes results/<key>.json (aws, --s3-endpoint)")
    t.add_argument("--s3-endpoint", help="an S3 API already running (e.g. moto) instead of starting the local cloud")
    t.add_argument("--images", help="folder of JPEG/PNG payloads (default: generated JPEGs)")
    t.add_argument("--image-count", type=int, help="how many generated images to cycle through (default 8)")
    t.add_argument("--model", help="local cloud model (default: config/localcloud.yaml), e.g. smallcnn")
    t.add_argument(
        "--yes",
        action="store_true",
        help="confirm --target aws (real S3 costs money), or an --s3-endpoint not on this machine",
    )
    r = p.add_argument_group("run")
    r.add_argument("--engine", choices=ENGINES, default="threads",
                   help="threads (default: boto3 in this process) or locust (Locust users, --processes)")  # fmt: skip
    r.add_argument("--processes", type=int, help="--engine locust: Locust worker processes on this machine (1)")
    r.add_argument("--remote-workers", type=int, help="--engine locust: Locust worker processes on other machines "
                   "the master waits for (it prints their command)")  # fmt: skip
    r.add_argument("--master-bind-host", help="--engine locust: where the Locust master listens (127.0.0.1; "
                   "for --remote-workers an address they reach: its port has no authentication)")  # fmt: skip
    r.add_argument("--workers", type=int, help="sender threads (default: sized to the peak rate, 4..256); with "
                   "--engine locust the cap of uploads in flight over all processes")  # fmt: skip
    r.add_argument("--max-attempts", type=int, default=5, help="attempts per upload (default 5)")
    r.add_argument("--result-timeout-s", type=float, default=120.0,
                   help="wait this long after the last upload for results (default 120)")  # fmt: skip
    r.add_argument("--report-log", action="append", default=[], help="extra log with REPORT lines (repeatable)")
    r.add_argument("--runs", type=Path, default=Path("runs"), help="where run dirs are made (default runs)")
    r.add_argument("--resume", type=Path, help="finish an interrupted run: runs/<run-id>")
    r.add_argument("--no-report", action="store_true", help="do not write report.md/html at the end")
    r.add_argument("--dry-run", action="store_true", help="build and print the schedule, upload nothing")
    return p


def options_from_args(args: argparse.Namespace) -> tuple[ReplayOptions, set[str]]:
    """Options (defaults filled in) and the names given explicitly (a resume refuses schedule changes)."""
    explicit = {name for name in (*SCHEDULE_ARGS, *TARGET_ARGS) if getattr(args, name) is not None}
    if any(name in explicit for name in SCHEDULE_ARGS):
        explicit.add("schedule")
    trace = args.trace.resolve() if args.trace else None
    if trace is not None:
        explicit.add("trace")
    if args.resume is None:
        schedule = ScheduleSpec(
            trace=str(trace), trace_sha256=file_sha256(trace), window=args.window or DEFAULT_WINDOW,
            speedup=args.speedup or DEFAULT_SPEEDUP,
            peak_rps=None if args.mean_rps is not None else (args.peak_rps or DEFAULT_PEAK_RPS),
            mean_rps=args.mean_rps, process=args.process or DEFAULT_PROCESS,
            seed=DEFAULT_SEED if args.seed is None else args.seed, max_uploads=args.max_uploads or DEFAULT_MAX_UPLOADS,
        )  # fmt: skip
    else:
        schedule = ScheduleSpec(trace=str(trace or ""), trace_sha256="")  # replaced by the manifest's
    options = ReplayOptions(
        schedule=schedule, target=args.target or "local", bucket=args.bucket or "",
        results_bucket=args.results_bucket or "", s3_endpoint=args.s3_endpoint or "", images=args.images or "",
        image_count=args.image_count or 8, model=args.model or "", workers=args.workers,
        max_attempts=args.max_attempts, result_timeout_s=args.result_timeout_s, report_logs=tuple(args.report_log),
        runs_root=args.runs, resume=args.resume, yes=args.yes, write_report=not args.no_report,
        engine=args.engine, processes=args.processes or 1, remote_workers=args.remote_workers or 0,
        master_bind_host=args.master_bind_host or "",
    )  # fmt: skip
    return options, explicit


def _validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.trace is None and args.resume is None:
        parser.error("give a TRACE file (e.g. traces/fifa98.csv), or --resume runs/<run-id>")
    if args.peak_rps is not None and args.mean_rps is not None:
        parser.error("give --peak-rps or --mean-rps, not both")
    checks = [("--workers", args.workers, 1), ("--max-attempts", args.max_attempts, 1),
              ("--processes", args.processes, 1), ("--image-count", args.image_count, 1),
              ("--max-uploads", args.max_uploads, 1), ("--remote-workers", args.remote_workers, 0)]  # fmt: skip
    for name, value, low in checks:
        if value is not None and value < low:
            parser.error(f"{name} must be >= {low}, got {value}")
    for name in ("speedup", "peak_rps", "mean_rps"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0, got {value}")
    if args.result_timeout_s < 0:
        parser.error(f"--result-timeout-s must be >= 0, got {args.result_timeout_s}")
    for name in ("processes", "remote_workers", "master_bind_host"):
        if getattr(args, name) is not None and args.engine != "locust":
            parser.error(f"--{name.replace('_', '-')} is for --engine locust")
    if args.remote_workers and not args.master_bind_host:
        parser.error("--remote-workers needs --master-bind-host (an address of this machine the others reach)")
    if args.engine == "locust" and args.resume is not None:
        parser.error("--resume sends the rest with the thread engine: drop --engine locust")
    if args.target == "aws" and args.s3_endpoint:
        parser.error("--s3-endpoint is for a local S3 API; --target aws uses the default AWS session")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def print_summary(outcome: Outcome) -> None:
    lag = outcome.lag_ms
    print(f"run: {outcome.run.path} (status {outcome.status})")
    print(f"uploads: {outcome.already_done + outcome.ok} of {outcome.total} ok; this segment sent {outcome.sent}, "
          f"{outcome.retries} retries, {outcome.failed} failed")  # fmt: skip
    print(f"schedule lag (first attempts): p50 {_ms(lag[0])}, p99 {_ms(lag[1])}, max {_ms(lag[2])}")
    if outcome.results_expected:
        e2e = outcome.e2e_latency_ms
        print(f"results: {outcome.joined} joined, {outcome.missing} missing; {outcome.cold_starts} cold starts; "
              f"end-to-end latency p50 {_ms(e2e[0])}, p99 {_ms(e2e[1])}, max {_ms(e2e[2])}")  # fmt: skip
    for note in outcome.notes:
        print(f"note: {note}")


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _validate(parser, args)
    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        return exit_code_of(lambda: _run(args))
    finally:
        signal.signal(signal.SIGTERM, previous)


def _dry_run(options: ReplayOptions) -> int:
    """The schedule the options give (checked like a real run: window, rates, --max-uploads), nothing sent."""
    if options.resume is not None:
        raise ConfigError("--dry-run builds a new schedule; it does not combine with --resume")
    check_confirmation(options)
    meta = build_trace_schedule(options.schedule).metadata()
    print(f"schedule: {meta['arrivals']} uploads over {meta['duration_s']:.1f} s (peak {meta['peak_rps']:.2f}/s, "
          f"mean {meta['mean_rps']:.2f}/s), {meta['window_start_utc']} to {meta['window_end_utc']} "
          f"x{meta['speedup']:g}, {meta['process']} arrivals; target {options.target}")  # fmt: skip
    print("nothing was uploaded (--dry-run)")
    return 0


def _run(args: argparse.Namespace) -> int:
    options, explicit = options_from_args(args)
    if args.dry_run:
        return _dry_run(options)
    outcome = replay(options, explicit, load_config(), say)
    print_summary(outcome)
    if outcome.status == "interrupted":
        print(f"interrupted; to upload the rest: python -m replay --resume {outcome.run.path}\n"
              f"  (or: make replay REPLAY_ARGS='--resume {outcome.run.path}')", file=sys.stderr)  # fmt: skip
        return 130
    if options.write_report:
        files = write_report(outcome.run.path)
        print(f"report: {files.markdown}\n        {files.html}\n        {files.summary_json}")
    if outcome.status != "complete":
        for problem in outcome.problems:
            print(f"problem: {problem}", file=sys.stderr)
        print(f"the run ended {outcome.status} ({outcome.run.path})", file=sys.stderr)
        return TargetError.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
