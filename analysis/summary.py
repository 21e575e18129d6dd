"""Summaries of records per (run, target, scenario, operation) group: pure functions on a prepared DataFrame.

`analyse(frame, options)` returns the JSON-ready summary of every group: counts, errors by kind,
throughput (offered, achieved, configured), exact latency percentiles with CIs (from intended and actual
send), per-window tables, cold starts, SLA verdicts and modelled cost. See the README's report section.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.coldstart import cold_start_figures, resolve_cold_starts
from analysis.cost import breakeven_table, group_cost
from analysis.frame import prepare
from analysis.groups import ANALYSIS_COLUMNS, GROUP_KEYS, RECORD_COLUMNS, split_groups
from analysis.latency import CONFIDENCE, latency_stats, latency_stats_with_ci, sorted_quantiles
from analysis.pricing import Pricing
from analysis.sla import SlaSpec, check_bound, group_verdict, window_verdicts
from analysis.windows import DEFAULT_WINDOWS_S, LATENCY_COLUMNS, sorted_latencies, window_columns, window_records

INTERRUPTED = "interrupted"  # cut by the user's stop (Locust Stop, Ctrl-C): neither a success nor the server's error
ANALYSIS_THREADS = 2  # threads each group is analysed in (bounded by the CPU count); 1: the caller's alone
IDENTITY_FIELDS = ("model_name", "weights", "runtime")  # what defines a group besides its keys (runtime if recorded)
READ_COLUMNS = frozenset(RECORD_COLUMNS) | frozenset(ANALYSIS_COLUMNS)  # what analyse reads of a frame it prepares


@dataclass(frozen=True)
class AnalysisOptions:
    windows_s: tuple[float, ...] = DEFAULT_WINDOWS_S
    sla: SlaSpec | None = None
    pricing: Pricing | None = None
    configured_rps: dict[tuple[str, str], float] = field(default_factory=dict)  # (run_id, operation) -> rps
    confidence: float = CONFIDENCE


def _values(group: pd.DataFrame, column: str, mask: np.ndarray | None = None) -> np.ndarray:
    values = group[column].to_numpy(dtype=float)
    return values if mask is None else values[mask]


def _text(column: pd.Series) -> pd.Series:
    """Text as `string` (the groups' text may be dictionary-encoded)."""
    return column.astype("string") if isinstance(column.dtype, pd.CategoricalDtype) else column


def _errors(group: pd.DataFrame) -> dict[str, int]:
    failed = _text(group.loc[~group["ok_bool"].to_numpy(dtype=bool), "error_kind"]).replace("", "unknown")
    return {str(k): int(v) for k, v in failed.value_counts().items()}


def split_interrupted(group: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The group without the requests cut by the user's stop, and how many those were."""
    cut = (group["error_kind"] == INTERRUPTED).to_numpy(dtype=bool)
    return (group.loc[~cut], int(cut.sum())) if cut.any() else (group, 0)


def _category_counts(column: pd.Series) -> np.ndarray:
    """How many rows hold each category of a dictionary-encoded column (NA rows not counted)."""
    codes = column.cat.codes.to_numpy()
    if len(column.cat.categories) == 1:  # the usual model, weights, runtime: one value (or NA)
        return np.array([codes.size - np.count_nonzero(codes < 0)])
    return np.bincount(codes.astype(np.int64) + 1, minlength=len(column.cat.categories) + 1)[1:]


def _commonest(column: pd.Series) -> str:
    """The commonest non-empty value (the smallest of the commonest on a tie, as `Series.mode`); "" if none."""
    if isinstance(column.dtype, pd.CategoricalDtype):  # count the codes: no text touched
        counts = _category_counts(column)
        categories = column.cat.categories
        counts[np.flatnonzero(categories == "")] = 0
        if column.cat.ordered is False and categories.is_monotonic_increasing:
            return str(categories[int(np.argmax(counts))]) if counts.any() else ""
    values = column[(column != "").to_numpy(dtype=bool) & column.notna().to_numpy()]
    return str(values.mode().iloc[0]) if len(values) else ""


def _identity(group: pd.DataFrame) -> dict[str, str]:
    """Model, weights and runtime of the group's requests (the commonest non-empty value; "" if none)."""
    return {name: _commonest(group[name]) if name in group.columns else "" for name in IDENTITY_FIELDS}


def _distinct(column: pd.Series) -> int:
    """How many distinct non-empty values."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        present = _category_counts(column) > 0
        return int(present.sum() - present[np.flatnonzero(column.cat.categories == "")].sum())
    return int(column[(column != "").to_numpy(dtype=bool) & column.notna().to_numpy()].nunique())


def _memory_sizes(column: pd.Series) -> list[int]:
    """The distinct memory sizes (MB) recorded, sorted; one comparison when there is one (the usual case)."""
    values = column.to_numpy(dtype=float)
    values = values[~np.isnan(values)]
    distinct = values[:1] if values.size and (values == values[0]).all() else np.unique(values)
    return sorted({int(m) for m in distinct.tolist()})


def _pairs(first: pd.Series, second: pd.Series) -> list[tuple[object, object]]:
    """The distinct (first, second) value pairs; from the codes when both are dictionary-encoded."""
    if not all(isinstance(c.dtype, pd.CategoricalDtype) for c in (first, second)):
        pairs = pd.DataFrame({"a": first.to_numpy(), "b": second.to_numpy()}).drop_duplicates()
        return list(pairs.itertuples(index=False, name=None))
    width = len(second.cat.categories) + 1  # codes shifted by one: NA (-1) becomes 0
    codes = (first.cat.codes.to_numpy(np.int64) + 1) * width + second.cat.codes.to_numpy(np.int64) + 1
    span = (len(first.cat.categories) + 1) * width  # every code is below it
    present = np.flatnonzero(np.bincount(codes, minlength=span)) if span <= max(codes.size, 2**16) else np.unique(codes)
    out = []
    for code in present.tolist():
        a, b = divmod(code, width)
        out.append((first.cat.categories[a - 1] if a else None, second.cat.categories[b - 1] if b else None))
    return out


def _models(group: pd.DataFrame) -> list[str]:
    pairs = _pairs(group["model_name"], group["weights"])
    return sorted(f"{m} ({w or 'unknown'} weights)" for m, w in pairs if isinstance(m, str) and m)


def _extent(values: np.ndarray) -> tuple[int, float, float]:
    """How many values are not NaN, and their min and max (NaN when none)."""
    n = int(values.size - np.count_nonzero(np.isnan(values)))
    return (n, float(np.nanmin(values)), float(np.nanmax(values))) if n else (0, math.nan, math.nan)


def throughput(group: pd.DataFrame, configured_rps: float | None) -> dict[str, Any]:
    """Offered rate from intended send times, achieved rate of successful completions, configured rate."""
    sent, first_s, last_s = _extent(group["t_s"].to_numpy(dtype=float))
    completion = group["completion_unix_s"].to_numpy(dtype=float)
    done, first_done_s, last_done_s = _extent(completion[group["ok_bool"].to_numpy(dtype=bool)])
    intended_span = last_s - first_s if sent > 1 else 0.0
    done_span = last_done_s - first_done_s if done > 1 else 0.0
    span_s = float(np.nanmax(completion)) - first_s if sent and done else 0.0
    # n events span n - 1 intervals: rate = (n - 1) / span for both, so a steady run reads the same
    offered = (sent - 1) / intended_span if intended_span > 0 else None
    achieved = (done - 1) / done_span if done_span > 0 else None
    out = {"span_s": span_s, "offered_rps": offered, "achieved_rps": achieved, "configured_rps": configured_rps}
    reference = configured_rps or offered
    out["achieved_vs_target"] = achieved / reference if achieved and reference else None
    out["target_source"] = "manifest config" if configured_rps else "intended send times"
    return out


def _windows(group: pd.DataFrame, options: AnalysisOptions, latencies: dict) -> dict[str, dict[str, np.ndarray]]:
    sizes = set(options.windows_s) | ({options.sla.window_s} if options.sla else set())
    return {f"{w:g}": table for w, table in window_columns(group, sorted(sizes), latencies=latencies).items()}


def _sla(group: pd.DataFrame, keys: dict[str, str], windows: dict[str, dict[str, np.ndarray]], spec: SlaSpec,
         sorted_ms: np.ndarray) -> dict:  # fmt: skip
    rule = spec.rule_for(keys["target"], keys["operation"])
    checks = [check_bound(group, key, bound, spec, sorted_ms) for key, bound in rule.items()]
    return {
        "rule": rule,
        "verdict": group_verdict(checks),
        "checks": checks,
        "confidence": spec.confidence,
        "latency_from": spec.latency_from,
        "source": spec.source,
        "windows": window_verdicts(windows[f"{spec.window_s:g}"], rule, spec),
    }


def _cost(group: pd.DataFrame, keys: dict[str, str], pricing: Pricing | None) -> dict[str, Any]:
    """The group's modelled cost and, for a function, its break-even table (nothing without a price list)."""
    if pricing is None:
        return {}
    cost = group_cost(group, keys["target"], keys["operation"], pricing)
    if cost["kind"] != "function":
        return {"cost": cost}
    return {"cost": cost, "breakeven": breakeven_table(group, pricing, cost["gb_s"])}


def _start(pool: Executor | None, fn: Callable[..., Any], *args: Any) -> Future:
    """`fn(*args)` beside the caller in `pool`, or now when there is none."""
    if pool is not None:
        return pool.submit(fn, *args)
    done: Future = Future()
    done.set_result(fn(*args))
    return done


def _finish(future: Future, fn: Callable[..., Any], *args: Any) -> Any:
    """`future`'s result (`fn(*args)` sent to a pool by `_start`), computed by this thread instead when the pool
    has not begun it yet: neither thread idles while the other has work queued."""
    return fn(*args) if future.cancel() else future.result()


def _facts(resolved: pd.DataFrame, group: pd.DataFrame, configured: float | None) -> dict[str, Any]:
    """The group's counts and names: errors, throughput, instances, memory sizes, models and identity."""
    return {
        "errors": _errors(resolved),
        "throughput": throughput(resolved, configured),
        "instances": _distinct(resolved["instance_id"]),
        "memory_mb": _memory_sizes(resolved["memory_mb"]),
        "models": _models(resolved),
        "identity": _identity(group),
    }


def _spreads(resolved: pd.DataFrame) -> dict[str, Any]:
    """Stats of the send lag, inference and duration times (a sort each)."""
    ok = resolved["ok_bool"].to_numpy(dtype=bool)
    return {
        "send_lag_ms": latency_stats(_values(resolved, "send_lag_ms")),
        "inference_ms": latency_stats(_values(resolved, "inference_ms", ok)),
        "duration_ms": latency_stats(_values(resolved, "duration_ms")),
    }


def _side_tasks(
    resolved: pd.DataFrame, group: pd.DataFrame, source: str, keys: dict[str, str], options: AnalysisOptions
) -> list[tuple[Callable[..., Any], tuple]]:
    """What a group's pool is given, in queue order: the caller takes back from the end what it has not begun."""
    return [
        (cold_start_figures, (resolved, source)),
        (_facts, (resolved, group, _configured_rps(options, keys))),
        (_spreads, (resolved,)),
        (_cost, (resolved, keys, options.pricing)),
    ]


def _configured_rps(options: AnalysisOptions, keys: dict[str, str]) -> float | None:
    rates = options.configured_rps
    return rates.get((keys["run_id"], keys["scenario"])) or rates.get((keys["run_id"], keys["operation"]))


Curves = dict[tuple[str, ...], np.ndarray]  # group key values -> its latency CDF's points (see `analyse`)
CURVE_POINTS = 2000  # a plot needs no more points than pixels: exact quantiles at this many levels


def latency_curve(sorted_ms: np.ndarray, points: int = CURVE_POINTS) -> np.ndarray:
    """Sorted latencies thinned to `points` exact quantiles (evenly spaced levels, first and last included): all of
    them when they are no more."""
    return sorted_ms if sorted_ms.size <= points else sorted_quantiles(sorted_ms, np.linspace(0, 1, points))


def analyse_group(
    group: pd.DataFrame,
    keys: dict[str, str],
    options: AnalysisOptions,
    pool: Executor | None = None,
    curves: Curves | None = None,
) -> dict[str, Any]:
    """Everything about one group; `group` must come from `frame.prepare`. With a `pool`, its cold starts, counts,
    spreads and cost (`_side_tasks`) are queued there while this thread sorts the latencies and does the windows,
    CIs and SLA, then takes back what the pool has not begun (numpy lets go of the GIL in sorts, searches and
    gathers: the two threads overlap there).

    Requests cut by the user's stop ("interrupted") are counted apart and left out of every other figure.
    """
    judged, interrupted = split_interrupted(group)
    resolved, source = resolve_cold_starts(judged)
    tasks = _side_tasks(resolved, group, source, keys, options)
    futures = [_start(pool, fn, *args) for fn, args in tasks]
    latencies = sorted_latencies(resolved)  # one sort per latency column: overall figures, CIs, SLA, the CDF
    if curves is not None:
        curves[tuple(keys[k] for k in GROUP_KEYS)] = latency_curve(latencies["latency"][1])
    windows = _windows(resolved, options, latencies)
    stats = {
        column: latency_stats_with_ci(latencies[prefix][1], options.confidence, presorted=True)
        for prefix, column in LATENCY_COLUMNS.items()
    }
    window_rows = {size: window_records(table) for size, table in windows.items()}
    sla = None
    if options.sla is not None:
        prefix = "service" if options.sla.latency_from == "actual" else "latency"
        sla = _sla(resolved, keys, windows, options.sla, latencies[prefix][1])
    ok = resolved["ok_bool"].to_numpy(dtype=bool)
    # the last queued first: the likeliest not begun by the pool
    done = {fn: _finish(future, fn, *args) for future, (fn, args) in reversed(list(zip(futures, tasks, strict=True)))}
    found = done[_facts]
    return {
        **keys,
        "count": len(resolved),
        "interrupted": interrupted,
        "ok": int(ok.sum()),
        "error_rate": float(1 - ok.mean()) if len(resolved) else 0.0,
        "errors": found["errors"],
        "throughput": found["throughput"],
        **stats,
        **done[_spreads],
        "cold_starts": done[cold_start_figures],
        **{name: found[name] for name in ("instances", "memory_mb", "models", "identity")},
        "windows": window_rows,
        **({} if sla is None else {"sla": sla}),
        **done[_cost],
    }


def iter_groups(frame: pd.DataFrame) -> Iterator[tuple[dict[str, str], pd.DataFrame]]:
    """(keys, group) per (run_id, target, scenario, operation), sorted; `frame` must be prepared.

    Each group holds the columns the analysis reads: views of them when the group's rows come together, else
    its rows gathered when its turn comes (see analysis.groups.split_groups).
    """
    return split_groups(frame)


def _read_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns the analysis reads (`READ_COLUMNS`), as views: no conversion of a column it never reads (a
    frame of all the record fields: ~80 bytes a record less at its peak)."""
    return pd.DataFrame({name: frame[name] for name in frame.columns if name in READ_COLUMNS}, copy=False)


def analyse(
    frame: pd.DataFrame, options: AnalysisOptions | None = None, prepared: bool = False, curves: Curves | None = None
) -> list[dict]:
    """One summary per group (see module doc): the groups one after the other (one group's work in memory at a
    time), each spread over ANALYSIS_THREADS threads: the caller's and a pool of the others (bounded by the CPU
    count; 1: the caller's alone). `curves`, when given, gets each group's successful latencies, sorted (the
    analysis' own sort) and thinned (`latency_curve`), keyed by the group's key values: the report's CDFs."""
    options = options or AnalysisOptions()
    if frame.empty:
        return []
    data = frame if prepared else prepare(_read_columns(frame))
    workers = min(ANALYSIS_THREADS, os.cpu_count() or 1)
    if workers <= 1:
        return [analyse_group(group, keys, options, None, curves) for keys, group in iter_groups(data)]
    with ThreadPoolExecutor(workers - 1) as pool:
        return [analyse_group(group, keys, options, pool, curves) for keys, group in iter_groups(data)]


def summarize(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Per-group summaries with default options (no SLA, no cost): the quick view."""
    return analyse(frame)
