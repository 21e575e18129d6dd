"""Schedules: windows, compression, scaling and arrival processes keep the trace's shape."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.errors import ConfigError
from traces import FIFA98_CSV, load_counts_csv
from traces.schedule import MAX_ARRIVALS, build_schedule
from traces.series import CountSeries, Timestamps, to_unix_s

T0 = 898_560_000  # 1998-06-23 00:00 GMT

count_lists = st.lists(st.integers(0, 500), min_size=1, max_size=40).filter(lambda c: sum(c) > 0)
speedups = st.floats(0.5, 1000, allow_nan=False)
scales = st.floats(0.05, 5, allow_nan=False)


def series_of(counts: list[int], bin_s: int = 60) -> CountSeries:
    return CountSeries(T0 + bin_s * np.arange(len(counts)), np.array(counts), bin_s, "test")


@settings(max_examples=60, deadline=None)
@given(count_lists, st.sampled_from([1, 60]), speedups, scales)
def test_uniform_keeps_the_normalised_cumulative_curve(counts, bin_s, speedup, scale) -> None:
    schedule = build_schedule(series_of(counts, bin_s), speedup=speedup, scale=scale)
    n = len(schedule)
    assert abs(n - scale * sum(counts)) <= 0.5 + 1e-9 * sum(counts)
    assert np.all(np.diff(schedule.offsets_s) >= 0)
    assert schedule.duration_s == pytest.approx(len(counts) * bin_s / speedup)
    if n < 2:
        return
    bin_ends_s = schedule.bin_width_s * np.arange(1, len(counts) + 1)
    scheduled = np.searchsorted(schedule.offsets_s, bin_ends_s, side="left") / n
    source = np.cumsum(counts) / sum(counts)
    assert np.max(np.abs(scheduled - source)) <= 2 / n


@settings(max_examples=40, deadline=None)
@given(count_lists, speedups)
def test_unscaled_uniform_reproduces_every_bin_count(counts, speedup) -> None:
    schedule = build_schedule(series_of(counts), speedup=speedup)
    bins = np.floor(schedule.offsets_s / schedule.bin_width_s + 1e-9).astype(int)
    assert np.bincount(bins, minlength=len(counts)).tolist() == counts


@settings(max_examples=40, deadline=None)
@given(count_lists, speedups)
def test_compression_only_rescales_time(counts, speedup) -> None:
    slow = build_schedule(series_of(counts), speedup=1)
    fast = build_schedule(series_of(counts), speedup=speedup)
    assert np.allclose(fast.offsets_s * speedup, slow.offsets_s)
    assert np.allclose(fast.bin_rate_rps, slow.bin_rate_rps * speedup)


@settings(max_examples=40, deadline=None)
@given(count_lists, speedups, st.floats(1, 1e4), st.integers(0, 2**32))
def test_target_peak_and_mean_rates(counts, speedup, target_rps, seed) -> None:
    series = series_of(counts)
    peak = build_schedule(series, speedup=speedup, peak_rps=target_rps, max_count=10**12)
    assert peak.peak_rps == pytest.approx(target_rps)
    mean = build_schedule(series, speedup=speedup, mean_rps=target_rps, process="poisson", seed=seed, max_count=10**12)
    expected_total = float(np.sum(mean.bin_rate_rps) * mean.bin_width_s)
    assert expected_total / mean.duration_s == pytest.approx(target_rps)


@settings(max_examples=30, deadline=None)
@given(count_lists, speedups, st.integers(0, 2**63 - 1))
def test_poisson_with_a_seed_is_reproducible(counts, speedup, seed) -> None:
    a = build_schedule(series_of(counts), speedup=speedup, process="poisson", seed=seed)
    b = build_schedule(series_of(counts), speedup=speedup, process="poisson", seed=seed)
    assert np.array_equal(a.offsets_s, b.offsets_s)
    assert a.seed == seed
    assert np.all(np.diff(a.offsets_s) >= 0)
    if len(a):
        assert a.offsets_s[0] >= 0 and a.offsets_s[-1] < a.duration_s


@settings(max_examples=30, deadline=None)
@given(count_lists, speedups)
def test_rate_curve_integrates_to_the_expected_count(counts, speedup) -> None:
    schedule = build_schedule(series_of(counts), speedup=speedup)
    mids_s = schedule.bin_width_s * (np.arange(len(counts)) + 0.5)
    assert np.sum(schedule.rate_at(mids_s) * schedule.bin_width_s) == pytest.approx(sum(counts))
    assert schedule.rate_at(-1.0) == 0.0
    assert schedule.rate_at(schedule.duration_s + 1e-6) == 0.0


def test_unseeded_poisson_records_a_seed_that_reproduces_it() -> None:
    series = series_of([100, 200, 50])
    first = build_schedule(series, process="poisson")
    assert isinstance(first.seed, int)
    again = build_schedule(series, process="poisson", seed=first.seed)
    assert np.array_equal(first.offsets_s, again.offsets_s)


def test_poisson_follows_the_curve_statistically() -> None:
    day = load_counts_csv(FIFA98_CSV)
    schedule = build_schedule(day, speedup=144, peak_rps=2000, process="poisson", seed=7)
    expected = np.cumsum(schedule.bin_rate_rps * schedule.bin_width_s)
    got = np.searchsorted(schedule.offsets_s, schedule.bin_offsets_s + schedule.bin_width_s)
    assert np.max(np.abs(got - expected)) < 5 * np.sqrt(expected[-1])


def test_fifa98_window_day_in_ten_minutes() -> None:
    day = load_counts_csv(FIFA98_CSV)
    evening = build_schedule(day, start="1998-06-30T18:00", end="1998-06-30 22:00:00Z", speedup=24, mean_rps=50)
    assert evening.duration_s == pytest.approx(600)
    assert len(evening) == 30_000
    assert evening.metadata()["window_start_utc"] == "1998-06-30T18:00:00Z"
    assert evening.metadata()["window_end_utc"] == "1998-06-30T22:00:00Z"
    whole = build_schedule(day, speedup=144, peak_rps=100)
    assert whole.duration_s == pytest.approx(600) and whole.peak_rps == pytest.approx(100)


def test_window_is_clipped_and_snapped_to_the_grid() -> None:
    series = series_of([1, 2, 3, 4])
    schedule = build_schedule(series, start=T0 - 3600, end=T0 + 90)
    assert schedule.window_start_unix_s == T0 and schedule.window_end_unix_s == T0 + 120
    assert len(schedule) == 3
    with pytest.raises(ConfigError, match="holds no data"):
        build_schedule(series, start="2001-01-01")


def test_gaps_are_silent_bins() -> None:
    series = CountSeries(np.array([T0, T0 + 180]), np.array([60, 60]), 60)
    schedule = build_schedule(series)
    assert schedule.duration_s == 240
    assert schedule.rate_at(90.0) == 0.0 and schedule.rate_at(200.0) == 1.0
    assert not np.any((schedule.offsets_s > 60) & (schedule.offsets_s < 180))


def test_exact_timestamps_and_conversion() -> None:
    stamps = Timestamps(np.array([100.0, 100.25, 101.5, 103.0]))
    exact = build_schedule(stamps, process="exact", speedup=2)
    assert exact.offsets_s.tolist() == [0.0, 0.125, 0.75, 1.5]
    assert exact.count_before(0.5) == 2
    assert len(build_schedule(stamps, scale=2)) == 8
    with pytest.raises(ConfigError, match="cannot rescale"):
        build_schedule(stamps, process="exact", scale=2)
    with pytest.raises(ConfigError, match="needs a Timestamps"):
        build_schedule(series_of([1]), process="exact")


def test_refuses_absurd_schedules() -> None:
    day = load_counts_csv(FIFA98_CSV)  # 75 M requests
    with pytest.raises(ConfigError, match="max_count=10,000,000"):
        build_schedule(day)
    assert MAX_ARRIVALS == 10_000_000
    with pytest.raises(ConfigError, match="max_count=1,000"):
        build_schedule(series_of([600, 600]), max_count=1000)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"scale": 2, "peak_rps": 3}, "at most one"),
        ({"speedup": 0}, "speedup must be"),
        ({"speedup": float("inf")}, "speedup must be"),
        ({"peak_rps": -1}, "peak_rps must be"),
        ({"process": "gamma"}, "unknown arrival process"),
        ({"start": "not a date"}, "ISO"),
    ],
)
def test_bad_options_are_config_errors(options, fragment) -> None:
    with pytest.raises(ConfigError, match=fragment):
        build_schedule(series_of([1, 2]), **options)


def test_scaling_an_empty_window_is_refused() -> None:
    with pytest.raises(ConfigError, match="no requests"):
        build_schedule(series_of([0, 0]), peak_rps=10)
    assert to_unix_s("1998-06-23") == T0
