"""`python -m analysis RUN [RUN...]` (or `--latest`): report.md, report.html, summary.json and plots/.

One run: written into the run dir. Several runs (or outside inputs): one comparison report in --out.
SLA verdicts are always reported (config/sla.yaml by default). The exit code gates only when asked:
`--sla FILE` or `--gate` make a breach exit 10; otherwise 0. Bad input exits 3, bad config 2.
`--export-parquet FILE` writes one run's records as one Parquet file instead (no report).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from analysis.export import export_run
from analysis.pricing import DEFAULT_PRICING
from analysis.report import ReportOptions, write_reports
from analysis.sla import DEFAULT_SLA
from labkit.errors import ConfigError, LabError, SlaBreach
from labkit.rundir import latest_run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("run_dirs", nargs="*", type=Path, help="run directories (runs/<run-id>)")
    parser.add_argument("--latest", action="store_true", help="report on the most recent run under --runs")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="where runs live (default: runs)")
    parser.add_argument("--sla", type=Path, help="SLA spec; giving it turns the gate on (exit 10 on a breach)")
    parser.add_argument("--gate", action="store_true", help="exit 10 on a breach of the default SLA spec too")
    parser.add_argument("--no-sla", action="store_true", help="no SLA verdicts at all")
    parser.add_argument("--pricing", type=Path, default=DEFAULT_PRICING, help="price list (config/pricing.yaml)")
    parser.add_argument("--windows", default="10,60", help="window lengths in seconds, comma-separated")
    parser.add_argument(
        "--report-log",
        type=Path,
        action="append",
        default=[],
        help="REPORT lines (CloudWatch export or plain text): joined to the runs, or alone",
    )
    parser.add_argument(
        "--locust-csv",
        type=Path,
        action="append",
        default=[],
        help="Locust --csv PREFIX (aggregated: see the report for what it can tell)",
    )
    parser.add_argument("--out", type=Path, help="output dir for a multi-input report (default runs/comparison-*)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="skip (and count in the report) malformed record rows instead of stopping at the first",
    )
    parser.add_argument(
        "--export-parquet",
        type=Path,
        metavar="FILE",
        help="write the run's records as one Parquet file and exit (no report; one run dir or --latest)",
    )
    return parser  # fmt: skip


def _windows(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"--windows: {text!r} is not a comma-separated list of seconds") from None
    if not values or any(v <= 0 for v in values):
        raise ConfigError(f"--windows: {text!r}: expected seconds > 0")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        run_dirs = list(args.run_dirs) or ([latest_run(args.runs).path] if args.latest else [])
        if args.export_parquet is not None:
            print(export_run(run_dirs, args.export_parquet, skip_bad_rows=args.skip_bad_rows).describe())
            return 0
        if not run_dirs and not args.report_log and not args.locust_csv:
            parser.error("give a run directory, --latest, --report-log FILE or --locust-csv PREFIX")
        sla_path = None if args.no_sla else args.sla or (DEFAULT_SLA if DEFAULT_SLA.is_file() else None)
        options = ReportOptions(windows_s=_windows(args.windows), sla_path=sla_path, gate=bool(args.sla or args.gate),
                                pricing_path=args.pricing, report_logs=tuple(args.report_log),
                                locust_csv=tuple(args.locust_csv), plots=not args.no_plots,
                                skip_bad_rows=args.skip_bad_rows)  # fmt: skip
        out = args.out or (None if len(run_dirs) == 1 else args.runs / f"comparison-{time.strftime('%Y%m%d-%H%M%S')}")
        files = write_reports(run_dirs, options, out)
        print(f"report: {files.markdown}\n        {files.html}\n        {files.summary_json}")
        print(f"SLA: {files.sla_verdict}" + ("" if options.gate else " (not gating: exit 0)"))
        if options.gate and files.sla_verdict == "breach":
            raise SlaBreach(f"SLA breached; see {files.markdown}")
    except LabError as exc:
        print(f"error: {exc}" if not isinstance(exc, SlaBreach) else f"SLA breach: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
