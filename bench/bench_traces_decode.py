"""FIFA'98 raw-trace decode rate: the toolkit's chunked reader vs a whole-buffer numpy peer, with a gunzip bound.

Every contender does the same job on the same synthetic gzipped file (2 M records by default, made here):
gzipped bytes in memory -> total of the known sizes and the number of distinct seconds. Compared:
  ours             traces.ita.iter_records (chunked gunzip + np.frombuffer per chunk + sortedness check)
  numpy peer       gzip.decompress of the whole file + ONE np.frombuffer of the structured dtype on the
                   whole buffer (the strongest plain-numpy way; needs the whole decompressed file in memory)
  gunzip bound     decompression alone, output discarded, the fastest of one-shot and streamed zlib: no
                   decoder reading .gz can beat it, so it is an UPPER BOUND on both rates above (checked)
  struct loop      a per-record `struct.unpack_from` loop on the decompressed buffer (decode only; the naive
                   way, for scale)
Each timing is the median of `--trials` interleaved trials (min-max beside it); the struct loop runs once.

    .venv/bin/python bench/bench_traces_decode.py [--records N] [--trials 3]
"""

from __future__ import annotations

import argparse
import gzip
import struct
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import figure, interleaved_trials, percentile
from traces.ita import RECORD_DTYPE, UNKNOWN_SIZE, iter_records

RECORD_FORMAT = ">IIIIBBBB"
STREAM_CHUNK_BYTES = 1 << 20


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


def _known_bytes(sizes: np.ndarray) -> int:
    return int(sizes[sizes != UNKNOWN_SIZE].sum(dtype=np.uint64))


def _distinct_sorted(timestamps: np.ndarray, previous: int) -> int:
    """Distinct values of a sorted run, not counting one equal to `previous` (the last of the chunk before)."""
    if timestamps.size == 0:
        return 0
    first_new = int(timestamps[0]) != previous
    return int(first_new) + int(np.count_nonzero(np.diff(timestamps.astype(np.int64))))


def ours(path: Path) -> tuple[int, int]:
    total, distinct, previous = 0, 0, -1
    for chunk in iter_records(path):
        total += _known_bytes(chunk["size"])
        distinct += _distinct_sorted(chunk["timestamp"], previous)
        previous = int(chunk["timestamp"][-1])
    return total, distinct


def numpy_peer(gz: bytes) -> tuple[int, int]:
    records = np.frombuffer(gzip.decompress(gz), dtype=RECORD_DTYPE)
    return _known_bytes(records["size"]), _distinct_sorted(records["timestamp"], -1)


def gunzip_oneshot(gz: bytes) -> int:
    return len(zlib.decompress(gz, wbits=31))


def gunzip_streamed(gz: bytes) -> int:
    """Decompress in 1 MiB output pieces, keeping none of them (no big buffer to grow)."""
    engine, size, pending = zlib.decompressobj(wbits=31), 0, gz
    while pending:
        size += len(engine.decompress(pending, STREAM_CHUNK_BYTES))
        pending = engine.unconsumed_tail
    return size + len(engine.flush())


def struct_loop(buffer: bytes) -> tuple[int, int]:
    total_bytes, distinct, previous = 0, 0, -1
    for offset in range(0, len(buffer), 20):
        timestamp, _client, _obj, size, _method, _status, _type, _server = struct.unpack_from(
            RECORD_FORMAT, buffer, offset
        )
        if size != UNKNOWN_SIZE:
            total_bytes += size
        if timestamp != previous:
            distinct, previous = distinct + 1, timestamp
    return total_bytes, distinct


def _rates(samples: list[tuple[float, object]], n: int) -> tuple[float, float, float]:
    """Median, min and max rate (records/s) of the trials."""
    rates = [n / (ms / 1000.0) for ms, _ in samples]
    return percentile(rates, 0.5), min(rates), max(rates)


def _line(name: str, rate: tuple[float, float, float], note: str = "") -> None:
    print(f"{name:<37} {rate[0]:>13,.0f} records/s  (min-max {rate[1]:,.0f}-{rate[2]:,.0f}){note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args(argv)
    n = args.records
    raw = synthetic_records(n).tobytes()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wc_synthetic.gz"
        path.write_bytes(gzip.compress(raw, compresslevel=6, mtime=0))
        gz = path.read_bytes()  # ours reads the (page-cached) file; the others start from these bytes
        calls: dict[str, Callable[[], object]] = {
            "ours": lambda: ours(path),
            "peer": lambda: numpy_peer(gz),
            "oneshot": lambda: gunzip_oneshot(gz),
            "streamed": lambda: gunzip_streamed(gz),
        }
        samples = interleaved_trials(calls, args.trials, warmup=1)
        loop = interleaved_trials({"loop": lambda: struct_loop(raw)}, 1, warmup=0)["loop"]
    decoded = np.frombuffer(raw, RECORD_DTYPE)
    expected = (_known_bytes(decoded["size"]), len(np.unique(decoded["timestamp"])))
    for name in ("ours", "peer"):
        assert samples[name][0][1] == expected, (name, samples[name][0][1], expected)
    assert loop[0][1] == expected, (loop[0][1], expected)
    rate = {name: _rates(s, n) for name, s in samples.items()}
    bound = max(rate["oneshot"], rate["streamed"], key=lambda r: r[2])  # the fastest gunzip seen: a true bound
    bound_name = "one-shot" if bound is rate["oneshot"] else "streamed"
    print(f"records: {n:,} ({len(raw) / 1e6:.1f} MB decoded, {len(gz) / 1e6:.1f} MB gzipped); {args.trials} trials")
    _line("gunzip bound (max of trials)", (bound[2], bound[1], bound[2]), f"  [{bound_name} zlib, output dropped]")
    _line("ours (iter_records, chunked)", rate["ours"])
    _line("numpy peer (whole-buffer frombuffer)", rate["peer"])
    _line("struct.unpack loop (decode only)", _rates(loop, n), "  [1 trial]")
    print(f"ours / numpy peer: {rate['ours'][0] / rate['peer'][0]:.2f}x (median rates)")
    print(f"ours / gunzip bound: {rate['ours'][0] / bound[2]:.2f}  (<= 1: no .gz decode beats gunzip alone)")
    print(f"ours / struct loop: {rate['ours'][0] / _rates(loop, n)[0]:.1f}x")
    figure("traces_decode_ours_rec_per_s", rate["ours"][0], "rec/s")
    figure("traces_decode_numpy_peer_rec_per_s", rate["peer"][0], "rec/s")
    figure("traces_decode_ours_vs_numpy_peer", rate["ours"][0] / rate["peer"][0], "x")
    figure("traces_decode_ours_vs_gunzip_bound", rate["ours"][0] / bound[2], "x")
    if max(rate["ours"][2], rate["peer"][2]) > bound[2]:
        print("NOT AN UPPER BOUND: a decoder beat gunzip alone; the gunzip figure is wrong")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
