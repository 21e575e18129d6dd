"""python -m experiments run PLAN [--target local|aws] [--quick] [--dry-run] [--calibrate] [--runs DIR]

Runs every workload of a plan file (experiments/*.yaml, or a shipped plan by name: fifa98-mixed, demo, ...)
at the same time against the same targets, into one run dir (runs/<run-id>/ with plan.json, records,
manifest) and one report (report.md, report.html, summary.json).

  --target local   the embedded local cloud on 127.0.0.1, started once for the plan (default)
  --target aws     the deployed stack (`make deploy`); sends real traffic that costs money: needs --yes
  --quick          every time in the plan compressed so that at most 30 s of traffic run (shapes, rates kept)
  --dry-run        print the resolved plan (per workload: kind, target, requests, peak rate, duration,
                   start offset) and exit 0 without starting anything
  --calibrate      after the run, the latency floor (this tool against a null endpoint on 127.0.0.1 at the
                   plan's peak http rate, 5 s) into runs/<id>/calibration.json and the report

`python -m experiments list` lists the shipped plans. Exit codes: 0 complete, 2 bad plan, 3 bad input,
4 a workload did not match its schedule or a target failed, 130 interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from experiments.describe import describe
from experiments.planfile import EXPERIMENTS_DIR, find_plan, load_plan, revalidate
from labkit.errors import ConfigError, Interrupted, exit_code_of


def say(message: str) -> None:
    print(f"[experiment {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a plan file")
    run.add_argument("plan", help="plan file (experiments/NAME.yaml) or a shipped plan's name")
    run.add_argument("--target", choices=("local", "aws"), default=None, help="local cloud (default) or aws")
    run.add_argument("--yes", action="store_true", help="confirm --target aws (real traffic, real cost)")
    run.add_argument("--quick", action="store_true", help="compress the plan to at most 30 s of traffic")
    run.add_argument("--dry-run", action="store_true", help="print the resolved plan and exit")
    run.add_argument("--runs", type=Path, default=Path("runs"), help="where the run dir is made (default runs/)")
    run.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    run.add_argument("--calibrate", action="store_true", help="after the run, measure the latency floor at the "
                     "plan's peak http rate (runs/<id>/calibration.json, shown in the report)")  # fmt: skip
    commands.add_parser("list", help="list the shipped plans")
    return parser


def _list() -> int:
    for path in sorted(EXPERIMENTS_DIR.glob("*.yaml")):
        plan = load_plan(path)
        print(f"{path.stem:28s} {plan.description[:100]}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from experiments.runner import ensure_complete, run_plan
    from labkit.config import load_config

    path = find_plan(args.plan)
    plan = load_plan(path, target=args.target, quick=args.quick)
    if plan.target == "aws":
        if not args.yes:
            raise ConfigError("--target aws sends real traffic to the deployed stack (it costs money): add --yes")
        plan = revalidate(plan, {"safety": {**plan.safety.model_dump(), "allow_remote": True}}, str(path))
    print(describe(plan), flush=True)
    if args.dry_run:
        return 0
    ctx = run_plan(plan, load_config(), args.runs, say)
    if args.calibrate and ctx.status != "interrupted":
        from locustfiles.calibrate import calibrate_run

        calibrate_run(plan, ctx.run.path, say)
    if not args.no_report:
        from analysis.report import write_report

        files = write_report(ctx.run.path)
        say(f"report: {files.markdown}\n       {files.html}\n       {files.summary_json}")
    if ctx.status == "interrupted":
        raise Interrupted(f"interrupted; what was recorded so far is in {ctx.run.path}")
    ensure_complete(ctx)
    say(f"run dir: {ctx.run.path} (complete)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return exit_code_of(lambda: _list() if args.command == "list" else _run(args))


if __name__ == "__main__":
    sys.exit(main())
