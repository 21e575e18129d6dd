"""`load_trace` detects each kind from content and passes options through."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from traces_helpers import azure_file

from labkit.errors import ConfigError, InputError
from traces import FIFA98_CSV, WC98_SAMPLE, CountSeries, Timestamps, detect_kind, load_trace


def test_detects_each_kind(tmp_path: Path, write_text) -> None:
    assert detect_kind(WC98_SAMPLE) == "ita"
    assert detect_kind(FIFA98_CSV) == "counts"
    assert detect_kind(azure_file(tmp_path)) == "azure"
    assert detect_kind(write_text("t.txt", "# arrivals\n1.0\n2.0\n")) == "timestamps"


def test_load_each_kind(tmp_path: Path, write_text) -> None:
    ita = load_trace(WC98_SAMPLE, bin_s=60)
    assert isinstance(ita, CountSeries) and ita.bin_s == 60 and ita.total == 1000
    assert load_trace(FIFA98_CSV).bin_s == 60
    assert load_trace(azure_file(tmp_path), trigger="timer").counts[1] == 2
    assert isinstance(load_trace(write_text("t.txt", "1\n2\n")), Timestamps)


def test_gzipped_text_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "series.csv.gz"
    path.write_bytes(gzip.compress(FIFA98_CSV.read_bytes()))
    assert load_trace(path).total == load_trace(FIFA98_CSV).total


def test_errors(tmp_path: Path, write_text) -> None:
    with pytest.raises(InputError, match="no such trace file"):
        load_trace(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="empty file"):
        load_trace(write_text("empty.csv", ""))
    with pytest.raises(ConfigError, match="unknown trace kind"):
        load_trace(FIFA98_CSV, kind="pcap")
    with pytest.raises(ConfigError, match="bad option"):
        load_trace(FIFA98_CSV, speedup=2)
