"""Exact latency percentiles from raw values (no histogram buckets, no rounding)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0, 99.9)


def percentile_key(p: float) -> str:
    return "p" + (f"{p:g}".replace(".", "_"))


def latency_stats(values_ms: Sequence[float] | np.ndarray, percentiles: Sequence[float] = PERCENTILES) -> dict:
    """count, mean, min, max and the percentiles (numpy's linear interpolation between order statistics)."""
    values = np.asarray(values_ms, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return {"count": 0}
    stats = {
        "count": int(values.size),
        "mean": float(values.mean()),
        "min": float(values.min()),
        "max": float(values.max()),
    }
    for p, value in zip(percentiles, np.percentile(values, percentiles), strict=True):
        stats[percentile_key(p)] = float(value)
    return stats
