"""analysis.binomial against scipy.stats.binom (which the report no longer imports: 0.8 s at its start)."""

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sps

from analysis import binomial

SIZES = [1, 2, 5, 10, 59, 60, 299, 300, 1000, 2999, 3000, 25_000, 1_000_000, 10_000_000]
CHANCES = [0.0, 1e-6, 1e-4, 0.001, 0.01, 0.05, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0]


@pytest.mark.parametrize("n", SIZES)
def test_cdf_and_sf_are_scipys(n):
    for p in CHANCES:
        middle = np.round(n * p + np.arange(-30, 31)).astype(int)
        ks = np.unique(np.clip(np.r_[np.arange(-2, 5), middle, n - 2, n - 1, n, n + 1], -3, n + 3))
        np.testing.assert_allclose(binomial.cdf(ks, n, p), sps.binom.cdf(ks, n, p), rtol=0, atol=1e-9)
        np.testing.assert_allclose(binomial.sf(ks, n, p), sps.binom.sf(ks, n, p), rtol=0, atol=1e-9)
        assert binomial.cdf(-1, n, p) == 0.0 and binomial.cdf(n, n, p) == 1.0
        assert binomial.sf(-1, n, p) == 1.0 and binomial.sf(n, n, p) == 0.0


@pytest.mark.parametrize("n", SIZES)
def test_ppf_is_scipys_exactly(n):
    levels = np.array([1e-6, 0.0005, 0.005, 0.025, 0.05, 0.5, 0.95, 0.975, 0.995, 0.9995, 1.0])
    for p in CHANCES:
        found = binomial.ppf(levels, n, p)
        assert found.dtype == np.int64
        np.testing.assert_array_equal(found, sps.binom.ppf(levels, n, p))
        # the smallest k with cdf(k) >= q: by construction, against our own cdf too
        below = levels < 1
        assert (binomial.cdf(found[below], n, p) >= levels[below]).all()
        assert (binomial.cdf(found[below] - 1, n, p) < levels[below]).all()


def test_arrays_of_levels_and_chances_broadcast_with_one_size():
    q = np.tile([0.025, 0.975], 3)
    p = np.repeat([0.95, 0.99, 0.999], 2)
    np.testing.assert_array_equal(binomial.ppf(q, 5_000, p), sps.binom.ppf(q, 5_000, p))


def test_the_report_does_not_import_scipy_stats():
    code = "import sys, analysis.report, analysis.summary; print('scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"
