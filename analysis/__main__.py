"""`python -m analysis RUN_DIR` (or `--latest`): write report.md, report.html and summary.json into the run dir."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.report import write_report
from labkit.errors import LabError
from labkit.rundir import latest_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    parser.add_argument("run_dirs", nargs="*", type=Path, help="run directories (runs/<run-id>)")
    parser.add_argument("--latest", action="store_true", help="report on the most recent run under --runs")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="where runs live (default: runs)")
    args = parser.parse_args(argv)
    try:
        run_dirs = list(args.run_dirs) or ([latest_run(args.runs).path] if args.latest else [])
        if not run_dirs:
            parser.error("give a run directory, or --latest")
        for run_dir in run_dirs:
            files = write_report(run_dir)
            print(f"report: {files.markdown}\n        {files.html}\n        {files.summary_json}")
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
