"""The Azure Functions 2019 invocation-count format, on a tiny fixture written here."""

from __future__ import annotations

from pathlib import Path

import pytest
from traces_helpers import azure_file

from labkit.errors import ConfigError, InputError
from traces.azure import HEADER, load_azure_counts, read_azure_rows


def test_sum_of_all_functions_and_day_from_name(tmp_path: Path) -> None:
    series = load_azure_counts(azure_file(tmp_path))
    assert series.bin_s == 60 and len(series) == 1440
    assert series.counts.tolist()[:6] == [0, 6, 12, 18, 24, 0]
    assert series.start_unix_s[0] == 2 * 86_400  # day 3 from the origin (1970-01-01)
    assert "3 function(s)" in series.source


def test_pick_by_hash_prefix_trigger_and_top(tmp_path: Path) -> None:
    path = azure_file(tmp_path)
    assert load_azure_counts(path, functions=["f00bbb"]).counts[1] == 2
    assert load_azure_counts(path, functions=["f00"]).counts[1] == 3
    assert load_azure_counts(path, trigger="HTTP").counts[1] == 4
    assert load_azure_counts(path, top=1).counts[1] == 3


def test_origin_and_explicit_day(tmp_path: Path) -> None:
    series = load_azure_counts(azure_file(tmp_path, "x.csv"), origin="2019-07-15", day=2)
    assert series.start_unix_s[0] == 1_563_148_800 + 86_400


def test_no_match_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="triggers present"):
        load_azure_counts(azure_file(tmp_path), trigger="queue")
    with pytest.raises(ConfigError):
        load_azure_counts(azure_file(tmp_path), top=0)


def test_wrong_header(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("HashOwner,HashApp,HashFunction,Trigger,1,2\nA,B,C,http,1,2\n")
    with pytest.raises(InputError, match=r"a\.csv:1: not an Azure"):
        read_azure_rows(path)


def test_wrong_column_count_names_line(tmp_path: Path) -> None:
    path = azure_file(tmp_path, rows=["o,a,f,http,1,2,3"])
    with pytest.raises(InputError, match=r":5: expected 1444 columns"):
        read_azure_rows(path)


@pytest.mark.parametrize(
    ("value", "fragment"), [("x", "minute 7: 'x' is not an integer"), ("-2", "minute 7: count -2")]
)
def test_bad_counts_name_line_and_minute(tmp_path: Path, value: str, fragment: str) -> None:
    counts = ["0"] * 1440
    counts[6] = value
    path = azure_file(tmp_path, rows=[",".join(["o", "a", "f", "http", *counts])])
    with pytest.raises(InputError, match=fragment) as info:
        read_azure_rows(path)
    assert f"{path}:5:" in str(info.value)


def test_empty_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        read_azure_rows(empty)
    only = tmp_path / "h.csv"
    only.write_text(",".join(HEADER) + "\n")
    with pytest.raises(InputError, match="no function rows"):
        read_azure_rows(only)
