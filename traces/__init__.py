"""Trace files and loaders, and arrival schedules built from them.

Loaders (all errors are `labkit.errors.InputError` naming file and line/offset; bad options `ConfigError`):
  load_trace(path, kind="auto")   any of the kinds below, detected from content
  load_ita_counts / read_records / iter_records / load_ita_timestamps   ITA WorldCup98 raw binary logs
  load_counts_csv                 per-minute / per-second count CSVs (shared series format, time,count)
  load_azure_counts               Azure Functions 2019 invocations_per_function_md.anon.dNN.csv
  load_timestamps                 one arrival time (s) per line
Schedules:
  build_schedule(series, start=, end=, speedup=, scale=|peak_rps=|mean_rps=, process=, seed=) -> Schedule
  (names=OptionNames(max_count="--max-uploads", ...) spells the parameters in its errors as a CLI's flags)

Committed data: traces/fifa98.csv (one day of the real FIFA'98 per-minute series, see traces/README.md)
and traces/samples/wc98_sample.gz (the archive's 1,000-record test log) with its official .check.
"""

from __future__ import annotations

from pathlib import Path

from traces.azure import load_azure_counts, read_azure_rows, select_rows
from traces.counts import load_counts_csv
from traces.ita import RECORD_DTYPE, decode, encode, iter_records, load_ita_counts, load_ita_timestamps, read_records
from traces.ita_check import ItaCheck, compute_check, format_check, parse_check
from traces.loader import KINDS, detect_kind, load_trace
from traces.schedule import MAX_ARRIVALS, PROCESSES, OptionNames, Schedule, WindowError, build_schedule
from traces.series import CountSeries, Timestamps, iso_utc, to_unix_s
from traces.timestamps import load_timestamps

TRACES_DIR = Path(__file__).resolve().parent
FIFA98_CSV = TRACES_DIR / "fifa98.csv"
WC98_SAMPLE = TRACES_DIR / "samples" / "wc98_sample.gz"

__all__ = [
    "FIFA98_CSV",
    "KINDS",
    "MAX_ARRIVALS",
    "PROCESSES",
    "RECORD_DTYPE",
    "TRACES_DIR",
    "WC98_SAMPLE",
    "CountSeries",
    "ItaCheck",
    "OptionNames",
    "Schedule",
    "Timestamps",
    "WindowError",
    "build_schedule",
    "compute_check",
    "decode",
    "detect_kind",
    "encode",
    "format_check",
    "iso_utc",
    "iter_records",
    "load_azure_counts",
    "load_counts_csv",
    "load_ita_counts",
    "load_ita_timestamps",
    "load_timestamps",
    "load_trace",
    "parse_check",
    "read_azure_rows",
    "read_records",
    "select_rows",
    "to_unix_s",
]
