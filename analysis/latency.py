"""Exact latency percentiles from raw values (no histogram buckets, no rounding), with distribution-free CIs.

Percentiles use numpy's default definition (linear interpolation between order statistics, "type 7").
`grouped_percentiles` computes the same figures for many groups at once (the values sorted by group, then
by value; no Python step per row): it is how per-window percentiles are computed on millions of records.

Confidence intervals for a quantile q come from order statistics: the number of samples below the true
quantile is Binomial(n, q), so the interval [X_(l), X_(u)] with l, u read off that binomial covers the
true quantile with at least the stated confidence, whatever the latency distribution. When n is too small
the upper rank falls past the largest sample: the bound is then unknown (None) and the CI says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from analysis import binomial

PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0, 99.9)
TAIL_PERCENTILES: tuple[float, ...] = (95.0, 99.0, 99.9)
CONFIDENCE = 0.95
SEGMENT_SORT_MIN_MEAN = 32  # values per segment, on average, for one sort per segment to beat one sort of all


def percentile_key(p: float) -> str:
    return "p" + (f"{p:g}".replace(".", "_"))


def _clean(values_ms: Sequence[float] | np.ndarray) -> np.ndarray:
    values = np.asarray(values_ms, dtype=float)
    return values[~np.isnan(values)]


def latency_stats(
    values_ms: Sequence[float] | np.ndarray, percentiles: Sequence[float] = PERCENTILES, *, presorted: bool = False
) -> dict:
    """count, mean, min, max and the percentiles (numpy's linear interpolation between order statistics).

    `presorted`: the values are sorted and NaN-free already. Else they are sorted here (numpy's vectorised sort
    beats `np.percentile`'s partitions for five percentiles); the mean is taken before, in the given order.
    """
    values = np.asarray(values_ms, dtype=float) if presorted else _clean(values_ms)
    if values.size == 0:
        return {"count": 0}
    mean = float(values.mean())
    values = values if presorted else np.sort(values)
    stats: dict[str, Any] = {"count": int(values.size), "mean": mean, "min": float(values[0]), "max": float(values[-1])}
    found = sorted_percentiles(values, np.array([0]), np.array([values.size]), percentiles)
    for p in percentiles:
        stats[percentile_key(p)] = float(found[percentile_key(p)][0])
    return stats


def quantile_ci_ranks(n: int, q: float, confidence: float = CONFIDENCE) -> tuple[int, int]:
    """1-based ranks (l, u) with P(X_(l) <= true q-quantile <= X_(u)) >= confidence; 0 or n+1 mean unbounded."""
    return _ci_ranks(n, (q,), confidence)[0]


def min_samples_for_upper_bound(q: float, confidence: float = CONFIDENCE) -> int:
    """Smallest n for which a two-sided CI of the q-quantile has a finite upper bound (u <= n)."""
    alpha = 1.0 - confidence
    # u <= n  <=>  P(Binomial(n, q) = n) = q**n <= alpha / 2
    return math.ceil(math.log(alpha / 2) / math.log(q))


def _ci_ranks(n: int, qs: Sequence[float], confidence: float) -> list[tuple[int, int]]:
    """`quantile_ci_ranks` of several quantiles at once (one vectorised binomial quantile)."""
    alpha = 1.0 - confidence
    q = np.repeat(np.asarray(qs, dtype=float), 2)
    found = binomial.ppf(np.tile([alpha / 2, 1 - alpha / 2], len(qs)), n, q)
    return [(int(found[2 * i]), int(found[2 * i + 1]) + 1) for i in range(len(qs))]


def _ci(values: np.ndarray, q: float, confidence: float, ranks: tuple[int, int]) -> dict[str, Any]:
    """The CI of the q-quantile of sorted `values` from its ranks (see `quantile_ci`)."""
    n = int(values.size)
    lower, upper = ranks
    out: dict[str, Any] = {"confidence": confidence, "low": None, "high": None, "n": n}
    out["low"] = float(values[lower - 1]) if lower >= 1 else None
    out["high"] = float(values[upper - 1]) if upper <= n else None
    if out["high"] is None:
        out["note"] = f"too few samples for an upper bound: need n >= {min_samples_for_upper_bound(q, confidence)}"
    return out


def quantile_ci(
    values_ms: Sequence[float] | np.ndarray, q: float, confidence: float = CONFIDENCE, *, presorted: bool = False
) -> dict[str, Any]:
    """Distribution-free CI of the q-quantile (0 < q < 1) from order statistics; None for an unknown bound."""
    values = _clean(values_ms) if not presorted else np.asarray(values_ms, dtype=float)
    if not presorted:
        values = np.sort(values)
    if values.size == 0:
        return {"confidence": confidence, "low": None, "high": None, "n": 0}
    return _ci(values, q, confidence, quantile_ci_ranks(int(values.size), q, confidence))


def latency_stats_with_ci(
    values_ms: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE, *, presorted: bool = False
) -> dict:
    """`latency_stats` plus `ci` (a CI per tail percentile, see module doc); `presorted` as there."""
    values = np.asarray(values_ms, dtype=float) if presorted else np.sort(_clean(values_ms))
    stats = latency_stats(values, presorted=True)
    if values.size:
        qs = [p / 100.0 for p in TAIL_PERCENTILES]
        ranks = _ci_ranks(int(values.size), qs, confidence)
        cis = [_ci(values, q, confidence, r) for q, r in zip(qs, ranks, strict=True)]
        stats["ci"] = {percentile_key(p): ci for p, ci in zip(TAIL_PERCENTILES, cis, strict=True)}
    return stats


def sorted_median(values: np.ndarray) -> float:
    """`np.median` of NaN-free values, bit for bit (the middle value, or the mean of the two middle ones), from a
    sort: numpy's vectorised sort takes about half the time of the partition `np.median` does."""
    ordered = np.sort(values)
    middle = ordered.size // 2
    return float(ordered[middle] if ordered.size % 2 else (ordered[middle - 1] + ordered[middle]) / 2)


def lerp_like_numpy(low: np.ndarray, high: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """numpy's own linear interpolation (`_lerp`): bit for bit what `np.percentile` returns."""
    diff = high - low
    out = low + diff * gamma
    return np.where(gamma >= 0.5, high - diff * (1 - gamma), out)


def sorted_quantiles(sorted_values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """`np.quantile(sorted_values, levels)` bit for bit (its "linear" method: index (n-1) x level, numpy's own
    interpolation) for NaN-free sorted values, without the partition np.quantile does again (2,000 levels of 2.5 M
    values: ~5 ms vs 60-160 ms)."""
    low, high, gamma = _linear_positions(sorted_values.size - 1, np.asarray(levels, dtype=float))
    return lerp_like_numpy(sorted_values[low], sorted_values[high], gamma)


def _linear_positions(last: Any, q: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy's "linear" quantile positions in sorted values whose last index is `last`: the two neighbours' indexes
    and the weight of the upper one (virtual index (n-1) x q; at or past the end, the last element). `last` and `q`
    broadcast: many segments at one level, or one segment at many levels."""
    virtual = last * q
    floor = np.floor(virtual)
    top = virtual >= last  # numpy takes the last element there
    low = np.where(top, last, floor.astype(np.int64))
    high = np.where(top, last, low + 1)
    return low, high, virtual - floor


def sorted_percentiles(
    sorted_values: np.ndarray, starts: np.ndarray, counts: np.ndarray, percentiles: Sequence[float] = PERCENTILES
) -> dict[str, np.ndarray]:
    """Percentiles of many sorted segments (segment i = sorted_values[starts[i] : starts[i] + counts[i]]).

    numpy's "linear" method with its own index arithmetic and interpolation, so each figure equals
    `np.percentile(segment, p)` exactly; an empty segment gives NaN.
    """
    counts = np.asarray(counts, dtype=np.int64)
    empty = counts == 0
    last = np.maximum(counts - 1, 0)
    out: dict[str, np.ndarray] = {}
    for p in percentiles:
        low, high, gamma = _linear_positions(last, p / 100.0)
        if sorted_values.size:
            base = np.where(empty, 0, starts)
            value = lerp_like_numpy(sorted_values[base + low], sorted_values[base + high], gamma)
        else:
            value = np.full(counts.size, np.nan)
        out[percentile_key(p)] = np.where(empty, np.nan, value)
    return out


def sort_by_code(codes: np.ndarray, values: np.ndarray, value_order: np.ndarray | None = None) -> np.ndarray:
    """Permutation putting `values` in order of (code, value): one value sort, then a stable sort of the codes.

    `value_order` (an argsort of `values`) may be given to share one value sort among several codings
    (window lengths); small codes are sorted by numpy's radix sort (uint16), larger ones by timsort.
    """
    order = np.argsort(values, kind="quicksort") if value_order is None else value_order
    return order[_code_order(codes[order])]


def _code_order(codes: np.ndarray) -> np.ndarray:
    """A stable argsort of integer codes: numpy's radix sort when they fit 16 bits, else timsort."""
    top = int(codes.max()) if codes.size else 0
    return np.argsort(codes.astype(np.uint16 if top < 2**16 else np.int64, copy=False), kind="stable")


def in_order(values: np.ndarray) -> bool:
    """Whether `values` never decrease (NaN anywhere: not in order)."""
    return bool(np.all(values[1:] >= values[:-1]))


def code_counts(codes: np.ndarray, n_groups: int, ordered: bool | None = None) -> np.ndarray:
    """How many of each code 0..n_groups-1: by a search of each code's edge when the codes come in order (rows in
    time order, windows as codes: a few thousand searches instead of a count per row), else by bincount.
    `ordered`: whether they do, when the caller knows (else checked here)."""
    if (in_order(codes) if ordered is None else ordered) and codes.size:
        edges = np.searchsorted(codes, np.arange(n_groups + 1), side="left")
        return np.diff(edges)
    return np.bincount(codes, minlength=n_groups)[:n_groups]


def _by_code_then_value(
    codes: np.ndarray, values: np.ndarray, counts: np.ndarray, value_order: np.ndarray | None, ordered: bool
) -> np.ndarray:
    """`values` in order of (code, value). Few large segments (time windows): gathered by code (a stable radix
    sort of the codes; none when they come in order already: `ordered`), then each segment sorted in place, about 5x
    faster than one sort of everything (2.5 M values in 10 s windows); many small ones: `sort_by_code`."""
    filled = np.flatnonzero(counts > 1)
    if values.size == 0 or filled.size * SEGMENT_SORT_MIN_MEAN > values.size:  # a Python step per segment: too many
        return values[sort_by_code(codes, values, value_order)]
    grouped = values.copy() if ordered else values[_code_order(codes)]
    ends = np.cumsum(counts)
    starts = ends - counts
    for i in filled.tolist():
        grouped[starts[i] : ends[i]].sort()
    return grouped


def grouped_percentiles(
    codes: np.ndarray,
    values: np.ndarray,
    n_groups: int,
    percentiles: Sequence[float] = PERCENTILES,
    value_order: np.ndarray | None = None,
    *,
    with_mean: bool = True,
) -> dict[str, np.ndarray]:
    """count, mean (unless not `with_mean`), max and percentiles of `values` per integer group code
    (0..n_groups-1), NaN-free.

    Exactly numpy's linear percentile within each group (`sorted_percentiles`) of the values ordered by
    (code, value) (`_by_code_then_value`: one sort per group when groups are few and large, else one value
    sort and one stable sort of the codes for all, where `value_order`, an argsort of the NaN-free `values`,
    lets callers share the value sort). Groups with no values get count 0 and NaN figures.
    """
    codes = np.asarray(codes, dtype=np.int64)
    values = np.asarray(values, dtype=float)
    if value_order is None:
        keep = ~np.isnan(values)
        if not keep.all():
            codes, values = codes[keep], values[keep]
    ordered = in_order(codes)  # checked once for the counts and the gather
    counts = code_counts(codes, n_groups, ordered)
    sorted_values = _by_code_then_value(codes, values, counts, value_order, ordered)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    empty = counts == 0
    out: dict[str, np.ndarray] = {"count": counts}
    if with_mean:
        sums = np.bincount(codes, weights=values, minlength=n_groups)[:n_groups]
        with np.errstate(invalid="ignore", divide="ignore"):
            out["mean"] = np.where(empty, np.nan, sums / counts)
    last = np.where(empty, 0, starts + counts - 1)
    out["max"] = np.where(empty, np.nan, sorted_values[last] if sorted_values.size else np.nan)
    out.update(sorted_percentiles(sorted_values, starts, counts, percentiles))
    return out
