"""The vectorised ITA WorldCup98 decoder against the archive's real sample and its official statistics."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from traces_helpers import make_records, write_ita

from labkit.errors import ConfigError, InputError
from traces import WC98_SAMPLE, compute_check, decode, encode, format_check, parse_check
from traces.ita import RECORD_BYTES, iter_records, load_ita_counts, load_ita_timestamps, read_records
from traces.ita_fields import (
    http_versions,
    method_names,
    region_names,
    server_numbers,
    status_codes,
    type_names,
    value_counts,
)

SAMPLE_CHECK = WC98_SAMPLE.with_suffix(".check")


def test_sample_matches_official_statistics_field_by_field() -> None:
    official = parse_check(SAMPLE_CHECK)
    assert compute_check(WC98_SAMPLE) == official
    assert official.total_requests == 1000
    assert official.servers == {32: 664, 96: 247, 97: 89}


def test_sample_check_file_reproduced_byte_for_byte() -> None:
    assert format_check(compute_check(WC98_SAMPLE)) == SAMPLE_CHECK.read_text()


def test_sample_decoded_directly_matches_check_totals() -> None:
    records = read_records(WC98_SAMPLE)
    assert records.dtype.itemsize == RECORD_BYTES == 20
    assert records.size == 1000
    known = records["size"][records["size"] != 0xFFFFFFFF]
    assert int(known.sum(dtype=np.uint64)) == 5_410_216
    assert (int(records["timestamp"][0]), int(records["timestamp"][-1])) == (893_971_817, 893_973_655)
    assert (int(records["client_id"].max()), int(records["object_id"].max())) == (34_607, 4_505)


def test_sample_field_names() -> None:
    records = read_records(WC98_SAMPLE)
    assert set(method_names(records)) == {"GET"}
    assert value_counts(region_names(records)) == {"Paris": 336, "Plano": 664}
    assert value_counts(server_numbers(records)) == {0: 911, 1: 89}
    assert set(status_codes(records)) <= {200, 206, 304}
    assert set(http_versions(records)) == {"HTTP/1.0", "HTTP/1.1"}
    assert "IMAGE" in set(type_names(records))


def test_field_tables_handle_out_of_range_codes() -> None:
    codes = np.array([0, 8, 200], dtype=np.uint8)
    assert list(method_names(codes)) == ["GET", "other", "other"]
    assert list(status_codes(np.array([2, 37, 63], dtype=np.uint8))) == [200, 0, 0]
    assert list(region_names(np.array([0x60, 0xE0], dtype=np.uint8))) == ["Paris", "unknown"]


@pytest.mark.parametrize("chunk_records", [1, 7, 333, 1000, 5000])
def test_chunked_streaming_equals_whole_decode(chunk_records: int) -> None:
    whole = read_records(WC98_SAMPLE)
    chunks = list(iter_records(WC98_SAMPLE, chunk_records=chunk_records))
    assert all(c.size <= chunk_records for c in chunks)
    assert np.array_equal(np.concatenate(chunks), whole)


def test_counts_per_second_and_minute_sum_to_total() -> None:
    per_s = load_ita_counts(WC98_SAMPLE, bin_s=1, chunk_records=64)
    per_min = load_ita_counts(WC98_SAMPLE, bin_s=60)
    assert per_s.total == per_min.total == 1000
    assert per_min.start_unix_s[0] == 893_971_817 // 60 * 60
    assert np.array_equal(per_s.rebin(60).counts, per_min.counts)
    stamps = load_ita_timestamps(WC98_SAMPLE)
    assert np.array_equal(stamps.to_counts(1).counts, per_s.counts)


def test_uncompressed_file_reads_the_same(tmp_path: Path) -> None:
    raw = tmp_path / "wc_day1_1"
    raw.write_bytes(gzip.decompress(WC98_SAMPLE.read_bytes()))
    assert np.array_equal(read_records(raw), read_records(WC98_SAMPLE))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 300), st.integers(1, 50))
def test_encode_decode_roundtrip(n: int, chunk: int) -> None:
    records = make_records(n, seed=n)
    assert np.array_equal(decode(encode(records)), records)


def test_truncated_record_names_file_and_offset(tmp_path: Path) -> None:
    path = write_ita(tmp_path / "cut.gz", make_records(50), extra=b"\x00" * 7)
    with pytest.raises(InputError) as info:
        list(iter_records(path, chunk_records=8))
    message = str(info.value)
    assert str(path) in message
    assert "byte offset 1000" in message
    assert "record #50" in message
    assert "7 of 20 bytes" in message


def test_decode_buffer_of_partial_records_is_refused() -> None:
    with pytest.raises(ConfigError, match="whole number"):
        decode(b"\x00" * 30)


def test_truncated_gzip_stream_is_input_error(tmp_path: Path) -> None:
    data = WC98_SAMPLE.read_bytes()
    path = tmp_path / "broken.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"broken\.gz.*gzip"):
        read_records(path)


def test_unsorted_records_rejected_with_record_and_offset(tmp_path: Path) -> None:
    records = make_records(100)
    records["timestamp"][60] = records["timestamp"][59] - 5
    path = write_ita(tmp_path / "unsorted.gz", records)
    with pytest.raises(InputError) as info:
        read_records(path)
    assert "record #60" in str(info.value)
    assert "byte offset 1200" in str(info.value)
    assert str(path) in str(info.value)


def test_unsorted_across_a_chunk_boundary(tmp_path: Path) -> None:
    records = make_records(20)
    records["timestamp"][10:] -= 1000
    path = write_ita(tmp_path / "unsorted.gz", records)
    with pytest.raises(InputError, match="record #10 "):
        list(iter_records(path, chunk_records=10))


def test_unsorted_accepted_when_asked(tmp_path: Path) -> None:
    records = make_records(100)
    records["timestamp"][[10, 20]] = records["timestamp"][0] - 1
    path = write_ita(tmp_path / "unsorted.gz", records)
    assert read_records(path, require_sorted=False).size == 100
    assert load_ita_counts(path, require_sorted=False).total == 100
    assert compute_check(path).out_of_order == 2
    assert np.all(np.diff(load_ita_timestamps(path, require_sorted=False).times_s) >= 0)


def test_empty_file_is_input_error(tmp_path: Path) -> None:
    path = write_ita(tmp_path / "empty.gz", make_records(0))
    assert read_records(path).size == 0
    with pytest.raises(InputError, match="empty"):
        load_ita_counts(path)
    with pytest.raises(InputError, match="empty"):
        compute_check(path)


def test_missing_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        read_records(tmp_path / "nope.gz")


def test_parse_check_rejects_incomplete_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.check"
    path.write_text("    Total Requests: 3\n")
    with pytest.raises(InputError, match="lacks"):
        parse_check(path)
