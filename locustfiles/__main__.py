"""python -m locustfiles --target local|local-faas|local-server|lambda|ec2 [options]  (make load TARGET=...)

Open-model inference load with Locust: requests are sent at the rate the shape gives (requests/s, not
users), on schedule even when replies slow down, up to --max-inflight requests in flight; a request that
cannot start within --max-lag-s of its intended time is recorded as "dropped". Every request is a record
(intended send, actual send, completion; latency from the intended send) in one new run dir, with Locust's
own --csv/--html in its locust/ folder and the report (report.md/html, summary.json) written at the end.

Shapes (defaults in config/load.yaml): ramp (0 -> --rate-rps over --duration-s, default 0 -> 100 rps in
60 s), constant, steps (--step-count plateaus), spike (--base-rps, one burst of --spike-s at --spike-at-s),
trace (--trace FILE, default traces/fifa98.csv, compressed into --duration-s and scaled to --peak-rps).

Targets: local-faas / local-server start the local cloud on 127.0.0.1 inside the run and stop it after;
local = both AT THE SAME TIME, same shape, on one clock (one plan with two http workloads: since the plan
model, no longer one after the other). lambda / ec2 take their URL from config/targets.yaml or
LOADLAB_LAMBDA_URL / LOADLAB_EC2_URL, and need --yes-remote. The options become one plan (experiments.plan,
written to runs/<id>/plan.json, which Locust reads) run by experiments.runner.run_plan; each workload is
named after its target (the records' scenario, locust/<target>_stats.csv); --scenario names the run.
Safety: peaks above --max-rate-rps (1000) and schedules longer than --max-duration-s are refused. Ctrl-C:
records in flight are written as "interrupted", the run dir is closed with status "interrupted". A run
whose records do not match the schedule ends "failed" (after the report). Exit codes: 0 ok, 2 bad config,
3 bad input, 4 target error or records off the schedule, 130 Ctrl-C.
--calibrate: only the latency floor (locustfiles.calibrate): this tool against a null endpoint on 127.0.0.1 at
the run's rate for --calibrate-s, printed; nothing is sent to the target.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.report import write_report
from experiments.runner import ensure_complete
from labkit.config import load_config
from labkit.errors import LabError
from locustfiles.cli import add_calibrate_arguments, run_calibration, run_load, say, summary_lines
from locustfiles.settings import TRACE_PROCESSES, load_settings
from locustfiles.shapes import SHAPE_NAMES


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m locustfiles", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--target", default="local", help="local | local-faas | local-server | lambda | ec2")
    p.add_argument("--shape", choices=SHAPE_NAMES, help="rate shape (default: config/load.yaml, ramp)")
    p.add_argument("--rate-rps", type=float, help="constant rate, or the peak of the other shapes (req/s)")
    p.add_argument("--peak-rps", type=float, help="the peak rate (same as --rate-rps; wins over it)")
    p.add_argument("--duration-s", type=float, help="schedule length in seconds (default 60)")
    p.add_argument("--max-inflight", type=int, help="cap on requests in flight over all processes (default 200)")
    p.add_argument("--processes", type=int, help="Locust processes (master + N workers) on this machine")
    p.add_argument("--max-lag-s", type=float, help="later than this past its intended time: 'dropped' (1.0)")
    p.add_argument("--step-count", type=int, help="steps: number of plateaus (5)")
    p.add_argument("--base-rps", type=float, help="spike: base rate (default a tenth of the peak)")
    p.add_argument("--spike-at-s", type=float, help="spike: burst start (default half-way)")
    p.add_argument("--spike-s", type=float, help="spike: burst length (default a tenth of the duration)")
    p.add_argument("--trace", help="trace: trace file (default traces/fifa98.csv)")
    p.add_argument("--trace-start", help="trace: window start, ISO GMT (default: the file's start)")
    p.add_argument("--trace-end", help="trace: window end, ISO GMT (default: the file's end)")
    p.add_argument("--trace-process", choices=TRACE_PROCESSES, help="trace: arrivals in a bin (uniform)")
    p.add_argument("--seed", type=int, help="seed of poisson trace arrivals (1998)")
    p.add_argument("--images", help="folder of JPEG/PNG payloads (default: generated images)")
    p.add_argument("--max-rate-rps", type=float, help="safety cap on the peak rate (1000)")
    p.add_argument("--max-duration-s", type=float, help="safety cap on the schedule length (3600)")
    p.add_argument("--max-processes", type=int, help="safety cap on Locust processes over all targets "
                   "(default 2 x this machine's cores; at most 256)")  # fmt: skip
    p.add_argument("--yes-remote", action="store_true", help="confirm sending load to a non-loopback host")
    p.add_argument("--runs", help="where run dirs are made (default runs/)")
    p.add_argument("--scenario", default="", help="name of the run (plan name, run id; default load-<shape>)")
    p.add_argument("--model", default="", help="local cloud model: smallcnn, mobilenetv2... (default: config)")
    p.add_argument("--server-workers", type=int, default=None, help="local gunicorn workers (default: config)")
    p.add_argument("--config-dir", type=Path, default=None, help="config directory (default config/)")
    p.add_argument("--progress-interval-s", type=float, default=5.0, help="seconds between progress lines")
    p.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    add_calibrate_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.calibrate:
            return run_calibration(args, load_settings(args.config_dir))
        ctx = run_load(args, load_config(args.config_dir), load_settings(args.config_dir))
        if not args.no_report:
            files = write_report(ctx.run.path)
            for line in summary_lines(files.summary_json):
                say(line)
            say(f"report: {files.markdown}")
        say(f"run dir: {ctx.run.path} ({ctx.status})")
        ensure_complete(ctx)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
