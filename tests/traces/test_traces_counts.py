"""Count-series CSVs: the shared per-minute format, plain time,count files, and their errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from labkit.errors import ConfigError, InputError
from traces.counts import load_counts_csv
from traces.series import CountSeries, to_unix_s

T0 = int(to_unix_s("1998-06-30T00:00:00"))


def test_shared_format(write_text) -> None:
    path = write_text("m.csv", "minute_utc,requests\n1998-06-30 00:00:00,5\n1998-06-30 00:01:00,7\n")
    series = load_counts_csv(path)
    assert series.bin_s == 60
    assert list(series.start_unix_s) == [T0, T0 + 60]
    assert list(series.counts) == [5, 7]
    assert "m.csv" in series.source


def test_per_second_header_and_iso_with_t_and_z(write_text) -> None:
    path = write_text("s.csv", "second_utc,requests\n1998-06-30T00:00:00Z,1\n1998-06-30T00:00:01+00:00,2\n")
    series = load_counts_csv(path)
    assert series.bin_s == 1
    assert list(series.start_unix_s) == [T0, T0 + 1]


def test_iso_with_offset_converted_to_gmt(write_text) -> None:
    path = write_text("o.csv", "time,count\n1998-06-30T02:00:00+02:00,3\n1998-06-30T02:01:00+02:00,4\n")
    assert load_counts_csv(path).start_unix_s[0] == T0


def test_unix_seconds_without_header_bin_inferred(write_text) -> None:
    path = write_text("u.csv", f"{T0},1\n{T0 + 60},0\n{T0 + 180},2\n")
    series = load_counts_csv(path)
    assert series.bin_s == 60
    assert list(series.dense().counts) == [1, 0, 0, 2]
    assert series.dense().total == series.total == 3


def test_comments_blank_lines_and_gzip(tmp_path: Path) -> None:
    path = tmp_path / "c.csv.gz"
    path.write_bytes(gzip.compress(b"# a comment\n\ntime,count\n0,1\n# mid\n1,2\n"))
    series = load_counts_csv(path)
    assert (series.bin_s, series.total) == (1, 3)


def test_single_row_needs_bin(write_text) -> None:
    path = write_text("one.csv", "time,count\n0,4\n")
    with pytest.raises(InputError, match="single row"):
        load_counts_csv(path)
    assert load_counts_csv(path, bin_s=60).bin_s == 60


def test_header_and_requested_bin_disagree(write_text) -> None:
    path = write_text("m.csv", "minute_utc,requests\n1998-06-30 00:00:00,5\n")
    with pytest.raises(ConfigError, match="60-s bins"):
        load_counts_csv(path, bin_s=1)
    with pytest.raises(ConfigError, match="bin_s must be"):
        load_counts_csv(path, bin_s=5)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("minute_utc,requests\n1998-06-30 00:00:00,5,9\n", 2, "expected 2 columns"),
        ("minute_utc,requests\n1998-06-30 00:00:00\n", 2, "expected 2 columns"),
        ("minute_utc,requests\n1998-06-30 00:00:00,5\n1998-06-30 00:01:00,2.5\n", 3, "not an integer"),
        ("minute_utc,requests\n1998-06-30 00:00:00,5\n1998-06-30 00:01:00,x\n", 3, "not an integer"),
        ("minute_utc,requests\n1998-06-30 00:00:00,5\n1998-06-30 00:01:00,-1\n", 3, "negative"),
        ("minute_utc,requests\n1998-06-30 00:01:00,5\n1998-06-30 00:00:00,1\n", 3, "unsorted"),
        ("minute_utc,requests\n1998-06-30 00:00:00,5\n\n1998-06-30 00:00:00,1\n", 4, "duplicate"),
        ("minute_utc,requests\n1998-06-30 00:00:00,5\n30 June,1\n", 3, "not ISO 8601"),
        ("time,count\n0,1\n1.5,1\n", 3, "whole number of Unix seconds"),
        ("minute_utc,requests\n1998-06-30 00:00:00,5\n1998-06-30 00:01:30,1\n", 3, "not a whole number of 60-s"),
        ("when,requests\n1998-06-30 00:00:00,5\n", 1, "unrecognised header"),
        ("minute_utc,requests,extra\n1998-06-30 00:00:00,5,1\n", 1, "unrecognised header"),
    ],
)
def test_malformed_rows_name_file_and_line(write_text, text: str, line: int, fragment: str) -> None:
    path = write_text("bad.csv", text)
    with pytest.raises(InputError) as info:
        load_counts_csv(path)
    assert f"{path}:{line}:" in str(info.value)
    assert fragment in str(info.value)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(write_text, text: str) -> None:
    path = write_text("empty.csv", text)
    with pytest.raises(InputError, match=r"empty\.csv: empty file"):
        load_counts_csv(path)


def test_header_only(write_text) -> None:
    with pytest.raises(InputError, match="no data rows"):
        load_counts_csv(write_text("h.csv", "minute_utc,requests\n"))


def test_step_not_1_or_60_cannot_be_inferred(write_text) -> None:
    with pytest.raises(InputError, match="smallest time step is 300"):
        load_counts_csv(write_text("five.csv", "0,1\n300,1\n"))


def test_not_utf8_names_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"time,count\n0,1\n1,\xff\n")
    with pytest.raises(InputError, match=r"latin\.csv:3: not UTF-8"):
        load_counts_csv(path)


def test_series_window_rebin_and_validation() -> None:
    series = CountSeries(np.arange(0, 180, 1), np.ones(180, dtype=np.int64), 1)
    assert series.rebin(60).counts.tolist() == [60, 60, 60]
    assert series.window(60, 120).total == 60
    assert series.span_s == 180
    with pytest.raises(ConfigError):
        CountSeries(np.array([0, 0]), np.array([1, 1]), 1)
    with pytest.raises(ConfigError):
        CountSeries(np.array([0, 30]), np.array([1, 1]), 60)
    with pytest.raises(ConfigError):
        CountSeries(np.array([0]), np.array([-1]), 60)
    with pytest.raises(ConfigError):
        series.window(120, 60)
    with pytest.raises(ConfigError, match="ISO"):
        to_unix_s("yesterday")
