"""Decode rate of the vectorised ITA WorldCup98 decoder vs a plain `struct.unpack` loop.

Both decoders do the same job on the same synthetic gzipped file (2 M records by default, made here):
decode every record, then total the known sizes and count requests per second. Decompression is
timed once on its own (it is common to both); "end to end" reads the .gz file with `iter_records`.

    .venv/bin/python bench/bench_traces_decode.py [--records N]
"""

from __future__ import annotations

import argparse
import gzip
import struct
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from traces.ita import RECORD_DTYPE, UNKNOWN_SIZE, iter_records

RECORD_FORMAT = ">IIIIBBBB"


def synthetic_records(n: int, seed: int = 98) -> np.ndarray:
    """`n` records over a day, sorted by time, 1 in 50 sizes unknown."""
    rng = np.random.default_rng(seed)
    records = np.zeros(n, dtype=RECORD_DTYPE)
    records["timestamp"] = np.sort(898_560_000 + rng.integers(0, 86_400, n))
    records["client_id"] = rng.integers(0, 2_800_000, n)
    records["object_id"] = rng.integers(0, 90_000, n)
    records["size"] = np.where(rng.random(n) < 0.02, UNKNOWN_SIZE, rng.integers(0, 200_000, n))
    records["status"] = 66
    records["type"] = rng.integers(0, 13, n)
    records["server"] = rng.choice([0, 32, 64, 96, 97], n)
    return records


def decode_vectorised(buffer: bytes) -> tuple[int, int]:
    records = np.frombuffer(buffer, dtype=RECORD_DTYPE)
    sizes = records["size"]
    total_bytes = int(sizes[sizes != UNKNOWN_SIZE].sum(dtype=np.uint64))
    _, per_second = np.unique(records["timestamp"], return_counts=True)
    return total_bytes, int(per_second.size)


def decode_struct_loop(buffer: bytes) -> tuple[int, int]:
    total_bytes = 0
    per_second: Counter[int] = Counter()
    for offset in range(0, len(buffer), 20):
        timestamp, _client, _obj, size, _method, _status, _type, _server = struct.unpack_from(
            RECORD_FORMAT, buffer, offset
        )
        if size != UNKNOWN_SIZE:
            total_bytes += size
        per_second[timestamp] += 1
    return total_bytes, len(per_second)


def timed(func: Callable[[], object], repeat: int) -> tuple[float, object]:
    best_s, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = func()
        best_s = min(best_s, time.perf_counter() - t0)
    return best_s, result


def end_to_end(path: Path) -> int:
    return sum(int(chunk.size) for chunk in iter_records(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    args = parser.parse_args(argv)
    n = args.records
    raw = synthetic_records(n).tobytes()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wc_synthetic.gz"
        path.write_bytes(gzip.compress(raw, compresslevel=6, mtime=0))
        gunzip_s, buffer = timed(lambda: gzip.decompress(path.read_bytes()), 2)
        vector_s, vector_result = timed(lambda: decode_vectorised(buffer), 3)
        loop_s, loop_result = timed(lambda: decode_struct_loop(buffer), 1)
        e2e_s, e2e_count = timed(lambda: end_to_end(path), 2)
        size_mb = path.stat().st_size / 1e6
    assert vector_result == loop_result, (vector_result, loop_result)
    assert e2e_count == n
    print(f"records: {n:,} ({len(raw) / 1e6:.1f} MB decoded, {size_mb:.1f} MB gzipped)")
    print(f"gunzip alone:                 {n / gunzip_s:>14,.0f} records/s")
    print(f"vectorised decode (numpy):    {n / vector_s:>14,.0f} records/s  ({vector_s * 1e3:.1f} ms)")
    print(f"struct.unpack loop:           {n / loop_s:>14,.0f} records/s  ({loop_s * 1e3:.1f} ms)")
    print(f"speed-up (vectorised / loop): {loop_s / vector_s:>14,.1f} x")
    print(f"end to end from .gz (iter_records, chunked): {n / e2e_s:,.0f} records/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
