"""The binomial distribution's cdf, survival function and quantile from scipy.special's regularized incomplete
beta function, without importing scipy.stats (0.8 s and ~45 MB at every report's start, for three functions).

For X ~ Binomial(n, p) and integer k: `cdf(k, n, p)` = P(X <= k) = 1 - I_p(k + 1, n - k) (`special.betaincc`) and
`sf(k, n, p)` = P(X > k) = I_p(k + 1, n - k) (`special.betainc`), 0 or 1 outside the support (as scipy.stats.binom,
which computes the same function by Boost's ibeta: the two agree to ~1e-15 absolute); `ppf(q, n, p)` is the smallest
integer k in 0..n with cdf(k) >= q (scipy.stats.binom.ppf's definition; n for q = 1) for q in (0, 1], found by
bisection on `cdf`. tests/analysis/test_binomial.py compares all three with scipy.stats.binom.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import special


def _arguments(k: ArrayLike, n: ArrayLike, p: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    k, n, p = np.broadcast_arrays(np.asarray(k, dtype=float), np.asarray(n, dtype=float), np.asarray(p, dtype=float))
    return k, n, p, (k >= 0) & (k < n)


def cdf(k: ArrayLike, n: ArrayLike, p: ArrayLike) -> np.ndarray:
    """P(X <= k) for X ~ Binomial(n, p), k an integer (or integers); broadcast over the arguments."""
    k, n, p, inside = _arguments(k, n, p)
    out = np.where(k >= n, 1.0, 0.0)
    out[inside] = special.betaincc(k[inside] + 1, n[inside] - k[inside], p[inside])
    return out


def sf(k: ArrayLike, n: ArrayLike, p: ArrayLike) -> np.ndarray:
    """P(X > k) for X ~ Binomial(n, p), k an integer (or integers); broadcast over the arguments."""
    k, n, p, inside = _arguments(k, n, p)
    out = np.where(k < 0, 1.0, 0.0)
    out[inside] = special.betainc(k[inside] + 1, n[inside] - k[inside], p[inside])
    return out


def ppf(q: ArrayLike, n: ArrayLike, p: ArrayLike) -> np.ndarray:
    """The smallest integer k in 0..n with cdf(k, n, p) >= q, for q in (0, 1] (int64, broadcast over the
    arguments): ~log2(n) + 1 rounds of `cdf`, each over every element at once."""
    q, n, p = np.broadcast_arrays(np.asarray(q, dtype=float), np.asarray(n, dtype=np.int64), np.asarray(p, dtype=float))
    low = np.full(q.shape, -1, dtype=np.int64)  # cdf(low) < q: cdf(-1) = 0
    high = n.copy()  # cdf(high) >= q: cdf(n) = 1
    while np.any(high - low > 1):
        middle = (low + high) // 2
        enough = cdf(middle, n, p) >= q
        high = np.where(enough, middle, high)
        low = np.where(enough, low, middle)
    return np.where(q >= 1, n, high)  # q = 1: the support's end (cdf may round to 1 before it), as scipy
