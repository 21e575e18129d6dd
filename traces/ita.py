"""The Internet Traffic Archive's WorldCup98 binary log format, decoded with numpy (no per-record Python).

A file (``wc_dayX_Y.gz``, or uncompressed) is a headerless run of 20-byte big-endian records sorted by
time: timestamp u32 (Unix s, GMT), clientID u32, objectID u32, size u32 (0xFFFFFFFF = unknown),
method u8, status u8, type u8, server u8. `RECORD_DTYPE` maps that layout onto a numpy structured
dtype, so a buffer of records becomes an array with `np.frombuffer` (zero copy). Big files are read in
chunks of `chunk_records` records; the decompressed byte stream is what offsets in errors refer to.
Field names/codes are decoded by `traces.ita_fields`; the archive's statistics by `traces.ita_check`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from labkit.errors import ConfigError, InputError
from traces.fileio import open_binary, read_bytes
from traces.series import CountSeries, Timestamps, counts_from_times, describe

RECORD_DTYPE = np.dtype(
    [
        ("timestamp", ">u4"),
        ("client_id", ">u4"),
        ("object_id", ">u4"),
        ("size", ">u4"),
        ("method", "u1"),
        ("status", "u1"),
        ("type", "u1"),
        ("server", "u1"),
    ]
)
RECORD_BYTES = RECORD_DTYPE.itemsize  # 20
UNKNOWN_SIZE = 0xFFFFFFFF
DEFAULT_CHUNK_RECORDS = 1 << 20  # 20 MiB of decompressed records per chunk

assert RECORD_BYTES == 20


def decode(buffer: bytes | bytearray | memoryview) -> np.ndarray:
    """Records in an in-memory buffer -> structured array (read-only view, no copy).

    Raises `ConfigError` if the buffer is not a whole number of records (use `iter_records` for files:
    it names the file and offset).
    """
    size = memoryview(buffer).nbytes
    if size % RECORD_BYTES:
        raise ConfigError(f"buffer of {size} bytes is not a whole number of {RECORD_BYTES}-byte records")
    return np.frombuffer(buffer, dtype=RECORD_DTYPE)


def encode(records: np.ndarray) -> bytes:
    """Structured records (any endianness with the same field names) -> the on-disk byte layout."""
    return np.asarray(records).astype(RECORD_DTYPE, copy=False).tobytes()


def iter_records(
    path: str | Path,
    *,
    chunk_records: int = DEFAULT_CHUNK_RECORDS,
    require_sorted: bool = True,
) -> Iterator[np.ndarray]:
    """Yield the records of a (gzipped) ITA file as structured arrays of up to `chunk_records` records.

    A file whose decompressed length is not a multiple of 20 raises `InputError` naming the file and
    the byte offset of the partial record. With `require_sorted` (the format's promise) a timestamp
    earlier than the one before it raises `InputError` naming the record; pass False to accept them.
    """
    if chunk_records < 1:
        raise ConfigError(f"chunk_records must be >= 1, got {chunk_records}")
    previous_ts = -1
    for offset, buffer in _iter_whole_records(path, chunk_records * RECORD_BYTES):
        records = np.frombuffer(buffer, dtype=RECORD_DTYPE)
        if require_sorted:
            _check_sorted(path, records["timestamp"], previous_ts, offset)
        previous_ts = int(records["timestamp"][-1])
        yield records


def read_records(path: str | Path, *, require_sorted: bool = True) -> np.ndarray:
    """All records of a file as one structured array (for files that fit in memory)."""
    chunks = list(iter_records(path, require_sorted=require_sorted))
    if not chunks:
        return np.empty(0, dtype=RECORD_DTYPE)
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


def load_ita_counts(
    path: str | Path,
    *,
    bin_s: int = 1,
    chunk_records: int = DEFAULT_CHUNK_RECORDS,
    require_sorted: bool = True,
) -> CountSeries:
    """Requests per second (`bin_s=1`) or per minute (60) of a raw ITA file, streamed chunk by chunk."""
    bins: list[np.ndarray] = []
    totals: list[np.ndarray] = []
    for records in iter_records(path, chunk_records=chunk_records, require_sorted=require_sorted):
        uniq, counts = np.unique(records["timestamp"].astype(np.int64) // bin_s, return_counts=True)
        bins.append(uniq * bin_s)
        totals.append(counts)
    if not bins:
        raise InputError(f"{path}: empty file (no {RECORD_BYTES}-byte records)")
    series = counts_from_times(np.concatenate(bins), bin_s, weights=np.concatenate(totals))
    return CountSeries(series.start_unix_s, series.counts, bin_s, describe(path, f"ITA WorldCup98 raw, {bin_s}-s bins"))


def load_ita_timestamps(path: str | Path, *, require_sorted: bool = True) -> Timestamps:
    """Every request's timestamp (1-s resolution) as `Timestamps`."""
    times = [r["timestamp"].astype(np.float64) for r in iter_records(path, require_sorted=require_sorted)]
    if not times:
        raise InputError(f"{path}: empty file (no {RECORD_BYTES}-byte records)")
    merged = np.concatenate(times)
    if not require_sorted:
        merged.sort(kind="stable")
    return Timestamps(merged, describe(path, "ITA WorldCup98 raw, request times"))


def _iter_whole_records(path: str | Path, chunk_bytes: int) -> Iterator[tuple[int, memoryview]]:
    """(decompressed offset, buffer of whole records) pairs; a partial record at EOF is an error."""
    offset = 0
    carry = b""
    with open_binary(path) as handle:
        while True:
            data = read_bytes(path, handle, chunk_bytes)
            if not data:
                break
            if carry:
                data = carry + data
            usable = len(data) - len(data) % RECORD_BYTES
            if usable:
                yield offset, memoryview(data)[:usable]
            carry = data[usable:]
            offset += usable
    if carry:
        raise InputError(
            f"{path}: truncated record at byte offset {offset} (record #{offset // RECORD_BYTES}): "
            f"{len(carry)} of {RECORD_BYTES} bytes; decompressed length {offset + len(carry)} "
            f"is not a multiple of {RECORD_BYTES}"
        )


def _check_sorted(path: str | Path, timestamps: np.ndarray, previous_ts: int, offset: int) -> None:
    ts = timestamps.astype(np.int64)
    drops = np.flatnonzero(np.diff(ts, prepend=max(previous_ts, int(ts[0]))) < 0)
    if drops.size:
        i = int(drops[0])
        before = previous_ts if i == 0 else int(ts[i - 1])
        index = offset // RECORD_BYTES + i
        raise InputError(
            f"{path}: record #{index} (byte offset {offset + i * RECORD_BYTES}) has timestamp {ts[i]}, "
            f"earlier than the previous record's {before}; the ITA format is sorted by time "
            "(sort the records by time, or load the file from Python with "
            "load_trace(path, require_sorted=False) to accept it)"
        )
