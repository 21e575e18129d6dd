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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.latency import PERCENTILES, code_counts, grouped_percentiles, in_order, percentile_key, sorted_median

DEFAULT_WINDOWS_S: tuple[float, ...] = (10.0, 60.0)
LATENCY_COLUMNS = {"latency": "latency_ms", "service": "service_latency_ms"}  # table prefix -> record column
NICE_WINDOWS_S: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


def plot_window_s(span_s: float, target_windows: int = 30) -> float:
    """A round window length giving about `target_windows` windows over `span_s` (for time plots)."""
    for window in NICE_WINDOWS_S:
        if span_s / window <= target_windows:
            return window
    return NICE_WINDOWS_S[-1]


def _count(codes: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Rows of each code 0..n-1 where `mask` (`code_counts`; no gather when the mask holds every row, as
    `cold_known` usually does)."""
    return code_counts(codes if np.count_nonzero(mask) == mask.size else codes[mask], n)


def sorted_latencies(group: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per latency column: the rows with a successful, known value, and those values sorted.

    One sort per group serves the overall figures, their CIs and the SLA checks; windows take the rows.
    """
    ok = group["ok_bool"].to_numpy(dtype=bool)
    out, shared = {}, None  # the columns' rows: one array when they are the same rows (the usual case)
    for prefix, column in LATENCY_COLUMNS.items():
        values = group[column].to_numpy(dtype=float)
        keep = ok & ~np.isnan(values)
        same = shared is not None and np.array_equal(shared[0], keep)
        shared = shared if same else (keep, np.flatnonzero(keep))
        chosen = values[shared[1]]
        chosen.sort()
        out[prefix] = (shared[1], chosen)
    return out


def _latency_columns(codes: np.ndarray, n: int, prefix: str, values: np.ndarray) -> dict:
    stats = grouped_percentiles(codes, values, n, PERCENTILES, with_mean=False)
    cols = {f"{prefix}_{percentile_key(p)}": stats[percentile_key(p)] for p in PERCENTILES}
    cols[f"{prefix}_max"] = stats["max"]
    return cols


@dataclass(frozen=True)
class _Times:
    """What every window length of one group shares: offsets from the origin (s), masks, the schedule's end."""

    origin_s: float
    sent_s: np.ndarray  # t_s - origin (NaN: 0, the first window)
    done_s: np.ndarray  # completion - origin (NaN: 0; such rows are not in done_ok)
    ok: np.ndarray
    done_ok: np.ndarray  # successful with a completion time
    cold_known: np.ndarray
    cold: np.ndarray
    last_sent_s: float  # the last intended send (unix s)
    step_s: float | None  # the median interval between sends (None: fewer than two)
    latency_rows: dict[str, tuple[np.ndarray, np.ndarray]]  # prefix -> the successful values' sent_s, the values


def _times(group: pd.DataFrame, origin_s: float | None, latencies: dict | None) -> _Times | None:
    """The group's `_Times` (None when it has no send time at all)."""
    t_s = group["t_s"].to_numpy(dtype=float)
    if t_s.size == 0 or np.isnan(t_s).all():
        return None
    origin = float(np.nanmin(t_s)) if origin_s is None else origin_s
    sent = t_s[~np.isnan(t_s)]
    if not in_order(sent):  # a sorted run per producer file: timsort merges them (2x faster than a quicksort)
        sent = np.sort(sent, kind="stable")
    step_s = sorted_median(np.diff(sent)) if sent.size > 1 else None
    completion = group["completion_unix_s"].to_numpy(dtype=float)
    ok = group["ok_bool"].to_numpy(dtype=bool)
    cold_known = group["cold_known"].to_numpy(dtype=bool)
    latencies = latencies if latencies is not None else sorted_latencies(group)
    sent_s = _nan_as_zero(t_s - origin)
    latency_rows, shared = {}, None  # the columns' successful values in send order, and their send offsets
    for prefix, column in LATENCY_COLUMNS.items():
        rows = latencies[prefix][0]
        same = shared is not None and (shared[0] is rows or np.array_equal(shared[0], rows))
        shared = shared if same else (rows, *_in_send_order(sent_s[rows]))  # the columns usually share their rows
        _, offsets_s, order = shared
        values = group[column].to_numpy(dtype=float)[rows]
        latency_rows[prefix] = (offsets_s, values if order is None else values[order])
    return _Times(
        origin_s=origin,
        sent_s=sent_s,
        done_s=_nan_as_zero(completion - origin),
        ok=ok,
        done_ok=ok & ~np.isnan(completion),
        cold_known=cold_known,
        cold=group["cold_bool"].to_numpy(dtype=bool) & cold_known,
        last_sent_s=float(sent[-1]),
        step_s=step_s,
        latency_rows=latency_rows,
    )


def _nan_as_zero(values: np.ndarray) -> np.ndarray:
    """`np.nan_to_num(values, nan=0.0)`, without its passes for infinities when every value is finite (the usual
    case: then `values` itself)."""
    return values if np.isfinite(values).all() else np.nan_to_num(values, nan=0.0)


def _in_send_order(offsets_s: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The send offsets sorted, and the order that sorts them (None: in order already). Values in send order have
    their window codes in order for every window length: each window's values gathered once here, not by a sort of
    the codes per window length and column (a group's rows are in send order per producer file: a run of each, so
    timsort merges them in about linear time)."""
    if in_order(offsets_s):
        return offsets_s, None
    order = np.argsort(offsets_s, kind="stable")
    return offsets_s[order], order


def _window_codes(offsets_s: np.ndarray, window_s: float) -> np.ndarray:
    """Window number of each offset from the origin (s); a negative offset is in window 0."""
    index = offsets_s / window_s
    np.floor(index, out=index)
    np.maximum(index, 0, out=index)
    return index.astype(np.int64)


def _window_table(times: _Times, window_s: float) -> dict[str, np.ndarray]:
    codes = _window_codes(times.sent_s, window_s)
    n = int(codes.max()) + 1
    done_codes = _window_codes(times.done_s, window_s)
    requests = code_counts(codes, n)
    step_s = times.step_s if times.step_s is not None else window_s
    end_s = times.last_sent_s + step_s - times.origin_s  # the schedule's end: last send + one typical interval
    duration = np.full(n, float(window_s))
    duration[-1] = min(window_s, max(end_s - (n - 1) * window_s, 1e-3))  # the last window may be partial
    errors = _count(codes, ~times.ok, n)
    known = _count(codes, times.cold_known, n)
    cold_count = _count(codes, times.cold, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        columns: dict[str, Any] = {
            "window": np.arange(n),
            "start_s": np.arange(n) * window_s,
            "duration_s": duration,
            "requests": requests,
            "offered_rps": requests / duration,
            "achieved_rps": _count(done_codes, times.done_ok & (done_codes < n), n) / duration,
            "errors": errors,
            "error_rate": np.where(requests > 0, errors / np.maximum(requests, 1), np.nan),
            "cold_starts": cold_count,
            "cold_known": known,
            "cold_start_rate": np.where(known > 0, cold_count / np.maximum(known, 1), np.nan),
        }
    offsets_s, value_codes = None, None  # the window of each latency value: once when columns share their rows
    for prefix, (sent_s, values) in times.latency_rows.items():
        if sent_s is not offsets_s:
            offsets_s, value_codes = sent_s, _window_codes(sent_s, window_s)
        columns.update(_latency_columns(value_codes, n, prefix, values))
    return columns


def window_columns(
    group: pd.DataFrame,
    windows_s: Sequence[float],
    origin_s: float | None = None,
    latencies: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[float, dict[str, np.ndarray]]:
    """`window_frames` as plain columns (name -> array; no column at all for a group without send times): what
    the summary reads, without a DataFrame built and taken apart again per table."""
    times = _times(group, origin_s, latencies)
    return {w: {} if times is None else _window_table(times, w) for w in windows_s}


def window_frames(
    group: pd.DataFrame,
    windows_s: Sequence[float],
    origin_s: float | None = None,
    latencies: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[float, pd.DataFrame]:
    """`window_frame` for each window length, sharing what does not depend on the length."""
    times = _times(group, origin_s, latencies)
    out = {}
    for w in windows_s:
        frame = pd.DataFrame() if times is None else pd.DataFrame(_window_table(times, w))
        if times is not None:
            frame.attrs.update(window_s=w, origin_s=times.origin_s)
        out[w] = frame
    return out


def window_frame(
    group: pd.DataFrame,
    window_s: float,
    origin_s: float | None = None,
    latencies: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> pd.DataFrame:
    """One row per window from the first to the last request of the group (empty windows included).

    `latencies`: the group's `sorted_latencies`, when the caller has them already (their rows are used).
    """
    return window_frames(group, (window_s,), origin_s, latencies)[window_s]


def window_records(table: pd.DataFrame | Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """JSON-ready rows of a window table (a frame or `window_columns`' columns): NaN becomes None, numpy scalars
    become Python numbers."""
    columns = {}
    for name, column in table.items():
        values = np.asarray(column)
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
