"""The committed traces: the FIFA'98 day window and the raw sample, with their copyright notices."""

from __future__ import annotations

import numpy as np
import pytest
from traces_helpers import SHARED_FIFA98

from traces import FIFA98_CSV, TRACES_DIR, WC98_SAMPLE, load_counts_csv, to_unix_s

DAY_START_S = int(to_unix_s("1998-06-30T00:00:00Z"))


def test_fifa98_is_one_full_gmt_day_per_minute() -> None:
    series = load_counts_csv(FIFA98_CSV)
    assert series.bin_s == 60 and len(series) == 1440
    assert np.array_equal(series.start_unix_s, DAY_START_S + 60 * np.arange(1440))
    assert series.total == 75_207_657
    assert int(series.counts.max()) == 215_241
    assert FIFA98_CSV.read_text().splitlines()[0] == "minute_utc,requests"


def test_fifa98_equals_the_shared_series_window() -> None:
    shared_csv = SHARED_FIFA98 / "wc98_per_minute_0430_0706.csv"
    if not shared_csv.exists():
        pytest.skip("shared FIFA'98 series not present")
    shared = load_counts_csv(shared_csv).window("1998-06-30T00:00", "1998-07-01T00:00")
    mine = load_counts_csv(FIFA98_CSV)
    assert np.array_equal(shared.start_unix_s, mine.start_unix_s)
    assert np.array_equal(shared.counts, mine.counts)
    per_hour = mine.counts.reshape(24, 60).sum(axis=1)
    assert per_hour.sum() == shared.total


def test_copyright_beside_every_copy() -> None:
    notice = (TRACES_DIR / "COPYRIGHT").read_text()
    assert "Hewlett-Packard" in notice
    assert (WC98_SAMPLE.parent / "COPYRIGHT").read_text() == notice
    assert WC98_SAMPLE.with_suffix(".check").exists()
    if (SHARED_FIFA98 / "COPYRIGHT").exists():
        assert (SHARED_FIFA98 / "COPYRIGHT").read_text() == notice
        assert (SHARED_FIFA98 / "test_log.gz").read_bytes() == WC98_SAMPLE.read_bytes()
