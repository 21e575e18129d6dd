"""Exact latency percentiles from raw values (no histogram buckets, no rounding), with distribution-free CIs.

Percentiles use numpy's default definition (linear interpolation between order statistics, "type 7").
`grouped_percentiles` computes the same figures for many groups at once (one sort, no Python loop per
group): it is how per-target and per-window percentiles are computed on millions of records.

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
from scipy import stats as sps

PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0, 99.9)
TAIL_PERCENTILES: tuple[float, ...] = (95.0, 99.0, 99.9)
CONFIDENCE = 0.95


def percentile_key(p: float) -> str:
    return "p" + (f"{p:g}".replace(".", "_"))


def _clean(values_ms: Sequence[float] | np.ndarray) -> np.ndarray:
    values = np.asarray(values_ms, dtype=float)
    return values[~np.isnan(values)]


def latency_stats(values_ms: Sequence[float] | np.ndarray, percentiles: Sequence[float] = PERCENTILES) -> dict:
    """count, mean, min, max and the percentiles (numpy's linear interpolation between order statistics)."""
    values = _clean(values_ms)
    if values.size == 0:
        return {"count": 0}
    stats: dict[str, Any] = {
        "count": int(values.size),
        "mean": float(values.mean()),
        "min": float(values.min()),
        "max": float(values.max()),
    }
    for p, value in zip(percentiles, np.percentile(values, percentiles), strict=True):
        stats[percentile_key(p)] = float(value)
    return stats


def quantile_ci_ranks(n: int, q: float, confidence: float = CONFIDENCE) -> tuple[int, int]:
    """1-based ranks (l, u) with P(X_(l) <= true q-quantile <= X_(u)) >= confidence; 0 or n+1 mean unbounded."""
    alpha = 1.0 - confidence
    lower = int(sps.binom.ppf(alpha / 2, n, q))
    upper = int(sps.binom.ppf(1 - alpha / 2, n, q)) + 1
    return lower, upper


def min_samples_for_upper_bound(q: float, confidence: float = CONFIDENCE) -> int:
    """Smallest n for which a two-sided CI of the q-quantile has a finite upper bound (u <= n)."""
    alpha = 1.0 - confidence
    # u <= n  <=>  P(Binomial(n, q) = n) = q**n <= alpha / 2
    return math.ceil(math.log(alpha / 2) / math.log(q))


def quantile_ci(
    values_ms: Sequence[float] | np.ndarray, q: float, confidence: float = CONFIDENCE, *, presorted: bool = False
) -> dict[str, Any]:
    """Distribution-free CI of the q-quantile (0 < q < 1) from order statistics; None for an unknown bound."""
    values = _clean(values_ms) if not presorted else np.asarray(values_ms, dtype=float)
    if not presorted:
        values = np.sort(values)
    n = int(values.size)
    out: dict[str, Any] = {"confidence": confidence, "low": None, "high": None, "n": n}
    if n == 0:
        return out
    lower, upper = quantile_ci_ranks(n, q, confidence)
    out["low"] = float(values[lower - 1]) if lower >= 1 else None
    out["high"] = float(values[upper - 1]) if upper <= n else None
    if out["high"] is None:
        out["note"] = f"too few samples for an upper bound: need n >= {min_samples_for_upper_bound(q, confidence)}"
    return out


def latency_stats_with_ci(values_ms: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> dict:
    """`latency_stats` plus `ci` (a CI per tail percentile, see module doc)."""
    values = np.sort(_clean(values_ms))
    stats = latency_stats(values)
    if values.size:
        stats["ci"] = {
            percentile_key(p): quantile_ci(values, p / 100.0, confidence, presorted=True) for p in TAIL_PERCENTILES
        }
    return stats


def grouped_percentiles(
    codes: np.ndarray, values: np.ndarray, n_groups: int, percentiles: Sequence[float] = PERCENTILES
) -> dict[str, np.ndarray]:
    """count, mean, max and percentiles of `values` per integer group code (0..n_groups-1), NaN-free.

    Exactly numpy's linear percentile within each group, computed with one lexsort for all groups.
    Groups with no values get count 0 and NaN figures.
    """
    codes = np.asarray(codes, dtype=np.int64)
    values = np.asarray(values, dtype=float)
    keep = ~np.isnan(values)
    codes, values = codes[keep], values[keep]
    order = np.lexsort((values, codes))
    sorted_values = values[order]
    counts = np.bincount(codes, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    sums = np.bincount(codes, weights=values, minlength=n_groups)
    empty = counts == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        out: dict[str, np.ndarray] = {"count": counts, "mean": np.where(empty, np.nan, sums / counts)}
    last = np.where(empty, 0, starts + counts - 1)
    out["max"] = np.where(empty, np.nan, sorted_values[last] if sorted_values.size else np.nan)
    for p in percentiles:
        position = (p / 100.0) * np.maximum(counts - 1, 0)
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, np.maximum(counts - 1, 0))
        frac = position - low
        if sorted_values.size:
            lo_v = sorted_values[np.where(empty, 0, starts + low)]
            hi_v = sorted_values[np.where(empty, 0, starts + high)]
            value = lo_v + (hi_v - lo_v) * frac
        else:
            value = np.full(n_groups, np.nan)
        out[percentile_key(p)] = np.where(empty, np.nan, value)
    return out
