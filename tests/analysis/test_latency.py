import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.latency import (
    grouped_percentiles,
    latency_stats,
    latency_stats_with_ci,
    min_samples_for_upper_bound,
    quantile_ci,
    quantile_ci_ranks,
    sorted_median,
)
from analysis.windows import plot_window_s

finite = st.floats(min_value=0, max_value=1e5, allow_nan=False)


@given(st.lists(finite, min_size=1, max_size=300))
@settings(max_examples=60, deadline=None)
def test_percentiles_equal_numpy_on_raw_values(values):
    stats = latency_stats(values)
    for p, key in ((50, "p50"), (90, "p90"), (95, "p95"), (99, "p99"), (99.9, "p99_9")):
        assert stats[key] == pytest.approx(np.percentile(values, p))
    assert stats["count"] == len(values) and stats["max"] == max(values)


@given(st.lists(st.tuples(st.integers(0, 5), finite), min_size=1, max_size=200))
@settings(max_examples=60, deadline=None)
def test_grouped_percentiles_equal_numpy_per_group(pairs):
    codes = np.array([c for c, _ in pairs])
    values = np.array([v for _, v in pairs])
    out = grouped_percentiles(codes, values, 6)
    for group in range(6):
        mine = values[codes == group]
        assert out["count"][group] == mine.size
        if mine.size == 0:
            assert np.isnan(out["p99"][group])
            continue
        for p in (50, 95, 99, 99.9):
            key = "p" + f"{p:g}".replace(".", "_")
            assert out[key][group] == pytest.approx(np.percentile(mine, p), rel=1e-9, abs=1e-9)
        assert out["max"][group] == mine.max()


def test_grouped_percentiles_ignore_nan():
    out = grouped_percentiles(np.array([0, 0, 0]), np.array([1.0, np.nan, 3.0]), 1)
    assert out["count"][0] == 2 and out["p50"][0] == 2.0


@given(st.integers(1, 2000), st.sampled_from([0.5, 0.9, 0.95, 0.99]))
@settings(max_examples=80, deadline=None)
def test_ci_ranks_satisfy_the_binomial_conditions(n, q):
    from scipy import stats as sps

    low, high = quantile_ci_ranks(n, q, 0.95)
    assert sps.binom.cdf(low - 1, n, q) <= 0.025  # P(B < l) <= alpha/2
    assert sps.binom.sf(high - 1, n, q) <= 0.025  # P(B >= u) <= alpha/2
    assert 0 <= low < high


def test_ci_coverage_by_simulation_is_at_least_nominal():
    rng = np.random.default_rng(7)
    true_p95 = -np.log(0.05)  # exponential(1)
    hits = 0
    trials = 1000
    for _ in range(trials):
        ci = quantile_ci(rng.exponential(size=200), 0.95)
        hits += ci["low"] <= true_p95 <= ci["high"]
    assert hits / trials >= 0.93


def test_small_sample_has_no_upper_bound_and_says_how_many_are_needed():
    ci = quantile_ci(np.arange(40.0), 0.99)
    assert ci["high"] is None and "need n >= 368" in ci["note"]
    assert min_samples_for_upper_bound(0.99) == 368  # 0.99**n <= 0.025
    assert quantile_ci(np.arange(400.0), 0.99)["high"] is not None
    stats = latency_stats_with_ci(np.arange(1000.0))
    assert stats["ci"]["p99"]["low"] <= stats["p99"] <= stats["ci"]["p99"]["high"]


def test_plot_window_is_round_and_gives_a_readable_count():
    assert plot_window_s(10) == 1.0 and plot_window_s(600) == 30.0 and plot_window_s(1e9) == 3600.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False), min_size=1, max_size=60))
def test_sorted_median_is_numpys_median_bit_for_bit(values):
    array = np.array(values)
    assert sorted_median(array) == np.median(array)  # odd and even sizes, ties, signs


@pytest.mark.parametrize("n", [1, 5, 59, 60, 300, 2999, 3000, 25_000])
def test_cis_of_every_tail_percentile_at_once_are_each_ones_own(n):
    from scipy import stats as sps

    values = np.sort(np.random.default_rng(n).lognormal(3.0, 0.5, n))
    stats = latency_stats_with_ci(values, presorted=True)
    for key, q in (("p95", 0.95), ("p99", 0.99), ("p99_9", 0.999)):
        assert stats["ci"][key] == quantile_ci(values, q, presorted=True)
        low, high = int(sps.binom.ppf(0.025, n, q)), int(sps.binom.ppf(0.975, n, q)) + 1  # one scalar call each
        assert quantile_ci_ranks(n, q) == (low, high)
        assert stats["ci"][key]["low"] == (values[low - 1] if low >= 1 else None)
        assert stats["ci"][key]["high"] == (values[high - 1] if high <= n else None)
