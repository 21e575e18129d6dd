"""Per-time-window figures of one group of records (one target/scenario/operation): pure, vectorised.

A request belongs to the window of its time `t_s` (intended send time; see frame.prepare), windows are
`window_s` long and counted from `origin_s` (the group's first request), so two targets run one after
the other line up window by window. Per window:

- offered_rps: requests intended to be sent in the window / its duration (the load asked for);
- achieved_rps: successful completions in the window / its duration (what the target delivered);
  the duration is window_s, except for the last window, which ends one median send interval after
  the last send (the end of the schedule);
- error_rate and errors by kind; latency percentiles (from intended and from actual send) of the
  successful requests sent in the window, exact (analysis.latency.grouped_percentiles);
- cold starts: count, known (requests whose cold/warm status is known) and rate.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from analysis.latency import PERCENTILES, grouped_percentiles, percentile_key

DEFAULT_WINDOWS_S: tuple[float, ...] = (10.0, 60.0)
LATENCY_COLUMNS = {"latency": "latency_ms", "service": "service_latency_ms"}  # table prefix -> record column
NICE_WINDOWS_S: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


def plot_window_s(span_s: float, target_windows: int = 30) -> float:
    """A round window length giving about `target_windows` windows over `span_s` (for time plots)."""
    for window in NICE_WINDOWS_S:
        if span_s / window <= target_windows:
            return window
    return NICE_WINDOWS_S[-1]


def window_index(t_s: np.ndarray, origin_s: float, window_s: float) -> np.ndarray:
    """Window number of each time (NaN times go to window 0)."""
    index = np.floor((np.nan_to_num(t_s, nan=origin_s) - origin_s) / window_s)
    return np.maximum(index, 0).astype(np.int64)


def _count(codes: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(codes[mask], minlength=n)[:n]


def sorted_latencies(group: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per latency column: the rows with a successful, known value, and those values sorted.

    One sort per group serves the overall figures, their CIs and the SLA checks; windows take the rows.
    """
    ok = group["ok_bool"].to_numpy(dtype=bool)
    out = {}
    for prefix, column in LATENCY_COLUMNS.items():
        values = group[column].to_numpy(dtype=float)
        rows = np.flatnonzero(ok & ~np.isnan(values))
        out[prefix] = (rows, np.sort(values[rows]))
    return out


def _latency_columns(codes: np.ndarray, values: np.ndarray, n: int, prefix: str, rows: np.ndarray) -> dict:
    stats = grouped_percentiles(codes[rows], values[rows], n, PERCENTILES)
    cols = {f"{prefix}_{percentile_key(p)}": stats[percentile_key(p)] for p in PERCENTILES}
    cols[f"{prefix}_max"] = stats["max"]
    return cols


def window_frame(
    group: pd.DataFrame,
    window_s: float,
    origin_s: float | None = None,
    latencies: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> pd.DataFrame:
    """One row per window from the first to the last request of the group (empty windows included).

    `latencies`: the group's `sorted_latencies`, when the caller has them already (their rows are used).
    """
    t_s = group["t_s"].to_numpy(dtype=float)
    if t_s.size == 0 or np.isnan(t_s).all():
        return pd.DataFrame()
    origin = float(np.nanmin(t_s)) if origin_s is None else origin_s
    codes = window_index(t_s, origin, window_s)
    n = int(codes.max()) + 1
    ok = group["ok_bool"].to_numpy(dtype=bool)
    completion = group["completion_unix_s"].to_numpy(dtype=float)
    done_codes = window_index(completion, origin, window_s)
    done_ok = ok & ~np.isnan(completion) & (done_codes < n)
    cold_known = group["cold_known"].to_numpy(dtype=bool)
    cold = group["cold_bool"].to_numpy(dtype=bool) & cold_known
    requests = np.bincount(codes, minlength=n)
    sent = np.sort(t_s[~np.isnan(t_s)])
    step_s = float(np.median(np.diff(sent))) if sent.size > 1 else window_s
    end_s = float(sent[-1]) + step_s - origin  # the schedule's end: last send + one typical interval
    duration = np.full(n, float(window_s))
    duration[-1] = min(window_s, max(end_s - (n - 1) * window_s, 1e-3))  # the last window may be partial
    errors = _count(codes, ~ok, n)
    known = _count(codes, cold_known, n)
    cold_count = _count(codes, cold, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        columns: dict[str, Any] = {
            "window": np.arange(n),
            "start_s": np.arange(n) * window_s,
            "duration_s": duration,
            "requests": requests,
            "offered_rps": requests / duration,
            "achieved_rps": _count(done_codes, done_ok, n) / duration,
            "errors": errors,
            "error_rate": np.where(requests > 0, errors / np.maximum(requests, 1), np.nan),
            "cold_starts": cold_count,
            "cold_known": known,
            "cold_start_rate": np.where(known > 0, cold_count / np.maximum(known, 1), np.nan),
        }
    latencies = latencies if latencies is not None else sorted_latencies(group)
    for prefix, column in LATENCY_COLUMNS.items():
        values = group[column].to_numpy(dtype=float)
        columns.update(_latency_columns(codes, values, n, prefix, latencies[prefix][0]))
    frame = pd.DataFrame(columns)
    frame.attrs.update(window_s=window_s, origin_s=origin)
    return frame


def window_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows (NaN becomes None, numpy scalars become Python numbers)."""
    columns = {}
    for name in frame.columns:
        values = frame[name].to_numpy()
        listed = values.tolist()  # Python numbers, one conversion per column
        if values.dtype.kind == "f" and np.isnan(values).any():
            listed = [None if math.isnan(v) else v for v in listed]
        columns[name] = listed
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def windows_table(groups: list[dict[str, Any]]) -> pd.DataFrame:
    """Every group's per-window figures (every window length) as one flat table: windows.csv."""
    frames = []
    for g in groups:
        for size, rows in (g.get("windows") or {}).items():
            if rows:
                frame = pd.DataFrame(rows)
                frame.insert(0, "window_s", float(size))
                for i, key in enumerate(("group", "run_id", "target", "scenario", "operation")):
                    frame.insert(i, key, g.get("label", "") if key == "group" else g[key])
                frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
