"""Count-series CSVs: requests per minute or per second, one bin per line.

Two layouts are read (optionally gzipped; blank lines and '#' comments are skipped):

* the shared series format, e.g. ``wc98_per_minute_0430_0706.csv`` and ``traces/fifa98.csv``::

      minute_utc,requests            (or second_utc,requests for 1-s bins)
      1998-06-30 00:00:00,30127      (GMT)

* a plain ``time,count`` file (header optional) whose times are ISO 8601 (naive = GMT, or with an
  offset) or whole Unix seconds; the bin size comes from `bin_s` or is inferred from the smallest step.

Times must strictly increase; a step larger than one bin is a gap (bins with no requests). Every error
names the file and line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from labkit.errors import ConfigError, InputError
from traces.fileio import data_lines, split_fields
from traces.series import BIN_SIZES_S, MAX_BIN_COUNT, CountSeries, describe, time_range_problem

TIME_COLUMNS = {"minute_utc": 60, "second_utc": 1, "time": None, "timestamp": None, "unix_s": None}
COUNT_COLUMNS = ("requests", "count", "counts", "invocations", "arrivals")
BIN_HEADER_HINT = (
    "say the bin size with a first line 'minute_utc,requests' (1-minute bins) or 'second_utc,requests' "
    "(1-second bins), or from Python with load_trace(path, bin_s=60)"
)


def load_counts_csv(path: str | Path, *, bin_s: int | None = None) -> CountSeries:
    """Read a count CSV into a `CountSeries` (gaps kept; call `.dense()` for a gap-free grid)."""
    lines = data_lines(path)
    if not lines:
        raise InputError(f"{path}: empty file (expected a header such as 'minute_utc,requests' and rows)")
    header_bin_s, rows = _split_header(path, lines)
    if not rows:
        raise InputError(f"{path}: no data rows after the header (line {lines[0][0]})")
    bin_s = _resolve_bin(path, header_bin_s, bin_s)
    times = np.empty(len(rows), dtype=np.int64)
    counts = np.empty(len(rows), dtype=np.int64)
    numeric_times = _is_number(split_fields(path, rows[0][0], rows[0][1], 2, "time,count")[0])
    for i, (line, text) in enumerate(rows):
        time_text, count_text = split_fields(path, line, text, 2, "time,count")
        times[i] = _parse_time(path, line, time_text, numeric_times)
        counts[i] = _parse_count(path, line, count_text)
    _check_order(path, rows, times)
    bin_s = bin_s or _infer_bin(path, times)
    _check_grid(path, rows, times, bin_s)
    kind = {60: "per minute", 1: "per second"}[bin_s]
    return CountSeries(times, counts, bin_s, describe(path, f"counts {kind}"))


def _split_header(path: str | Path, lines: list[tuple[int, str]]) -> tuple[int | None, list[tuple[int, str]]]:
    """(bin size the header implies, data rows); a first line starting with a number is data."""
    line, text = lines[0]
    first = text.split(",")[0].strip()
    if _is_number(first) or _is_iso(first):
        return None, lines
    names = [f.strip().lower() for f in text.split(",")]
    if len(names) != 2 or names[0] not in TIME_COLUMNS or names[1] not in COUNT_COLUMNS:
        raise InputError(
            f"{path}:{line}: unrecognised header {text!r}; expected two columns, a time column "
            f"({', '.join(TIME_COLUMNS)}) then a count column ({', '.join(COUNT_COLUMNS)})"
        )
    return TIME_COLUMNS[names[0]], lines[1:]


def _resolve_bin(path: str | Path, from_header: int | None, requested: int | None) -> int | None:
    if requested is not None and requested not in BIN_SIZES_S:
        raise ConfigError(f"bin_s must be one of {BIN_SIZES_S}, got {requested!r}")
    if from_header and requested and from_header != requested:
        raise ConfigError(f"{path}: header says {from_header}-s bins but bin_s={requested} was asked for")
    return from_header or requested


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_iso(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _parse_time(path: str | Path, line: int, text: str, numeric: bool) -> int:
    """Whole Unix seconds from either whole-number seconds or an ISO date/time (naive = GMT)."""
    if numeric:
        try:
            value = float(text)
        except (ValueError, OverflowError):
            value = float("nan")
        if not value.is_integer():
            raise InputError(f"{path}:{line}: time {text!r} is not a whole number of Unix seconds")
        _check_time_range(path, line, text, value)
        return int(value)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{path}:{line}: time {text!r} is not ISO 8601 (e.g. '1998-06-30 16:00:00')") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    stamp = moment.timestamp()
    if not stamp.is_integer():
        raise InputError(f"{path}:{line}: time {text!r} is not on a whole second")
    _check_time_range(path, line, text, stamp)
    return int(stamp)


def _check_time_range(path: str | Path, line: int, text: str, stamp: float) -> None:
    problem = time_range_problem(stamp)
    if problem:
        raise InputError(f"{path}:{line}: time {_short(text)} {problem}")


def _short(text: str, limit: int = 40) -> str:
    """A field for a message, cut to `limit` characters (a 10,000-digit number stays readable)."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


def _parse_count(path: str | Path, line: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:  # also a number of more than 4,300 digits
        raise InputError(f"{path}:{line}: count {_short(text)} is not an integer") from exc
    if value < 0:
        raise InputError(f"{path}:{line}: count {_short(text)} is negative")
    if value > MAX_BIN_COUNT:
        raise InputError(
            f"{path}:{line}: count {_short(text)} is above {MAX_BIN_COUNT:,}, the most requests one bin may hold"
        )
    return value


def _check_order(path: str | Path, rows: list[tuple[int, str]], times: np.ndarray) -> None:
    bad = np.flatnonzero(np.diff(times) <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        what = "duplicate" if times[i] == times[i - 1] else "unsorted"
        raise InputError(
            f"{path}:{rows[i][0]}: {what} time (not after line {rows[i - 1][0]}); times must strictly increase"
        )


def _infer_bin(path: str | Path, times: np.ndarray) -> int:
    if times.size < 2:
        raise InputError(f"{path}: cannot infer the bin size from a single row; {BIN_HEADER_HINT}")
    step = int(np.diff(times).min())
    if step not in BIN_SIZES_S:
        raise InputError(f"{path}: smallest time step is {step} s, not 1 or 60; {BIN_HEADER_HINT}")
    return step


def _check_grid(path: str | Path, rows: list[tuple[int, str]], times: np.ndarray, bin_s: int) -> None:
    bad = np.flatnonzero(np.diff(times) % bin_s)
    if bad.size:
        i = int(bad[0]) + 1
        raise InputError(
            f"{path}:{rows[i][0]}: time is {times[i] - times[i - 1]} s after the previous row, "
            f"not a whole number of {bin_s}-s bins"
        )
