"""The synthetic records bench_analysis measures: a frame of n records (`synthetic_frame`), written as a run writes
them (CSV files, one per producer process: `write_records`) into a run dir a report opens (`as_run_dir`), and the
columnar copy a run's compactor leaves of them (`compact_as_a_run`). What each mode reads of them: see
bench_analysis's module doc."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

LAYOUTS = ("producer", "interleaved")  # row order of the records (synthetic_frame)
RATE_PER_TARGET_RPS = 300.0  # the synthetic records' send rate per target


def run_span_s(n: int, targets: int) -> float:
    """How long the synthetic run of n records over `targets` lasted (they come at RATE_PER_TARGET_RPS each)."""
    return n / (RATE_PER_TARGET_RPS * targets)


def synthetic_frame(n: int, targets: int, seed: int = 1, layout: str = "producer"):
    """n records over targets at RATE_PER_TARGET_RPS each: lognormal latency, 1% cold (+400 ms), 0.5% errors.

    Rows in `layout` order (see LAYOUTS): "producer", each target's rows together and in time order (as a run's
    records load: one file per producer process, each sending to one target); "interleaved", in time order
    with the targets mixed row by row (one process sending to every target: the worst case for us)."""
    import numpy as np
    import pandas as pd

    from labkit.records import FIELD_NAMES

    rng = np.random.default_rng(seed)
    target_code = rng.integers(0, targets, n)
    names = np.array([f"{'local-faas' if i % 2 == 0 else 'local-server'}-{i}" for i in range(targets)])
    t0 = 1_795_000_000.0
    intended = t0 + np.sort(rng.uniform(0, run_span_s(n, targets), n))
    cold = rng.random(n) < 0.01
    latency = rng.lognormal(np.log(20.0), 0.4, n) + np.where(cold, 400.0, 0.0)
    lag = rng.exponential(1.0, n)
    ok = rng.random(n) >= 0.005
    frame = pd.DataFrame({
        "run_id": "bench", "request_id": np.arange(n).astype(str), "source": "locust", "scenario": "constant",
        "target": pd.Categorical(names[target_code]), "operation": "predict",
        "intended_send_unix_s": intended, "actual_send_unix_s": intended + lag / 1000,
        "completion_unix_s": intended + latency / 1000, "latency_ms": latency, "service_latency_ms": latency - lag,
        "send_lag_ms": lag, "ok": pd.array(ok, dtype="boolean"), "status_code": np.where(ok, 200, 503),
        "error_kind": np.where(ok, "", "http_5xx"), "cold_start": pd.array(cold, dtype="boolean"),
        "init_ms": np.where(cold, 300.0, np.nan), "duration_ms": latency * 0.8, "billed_ms": np.ceil(latency * 0.8),
        "memory_mb": 1024.0, "instance_id": pd.Categorical(rng.integers(0, 50, n).astype(str)),
        "model_name": "mobilenetv2", "weights": "random",
    })  # fmt: skip
    frame = frame.reindex(columns=list(FIELD_NAMES))
    if layout == "producer":
        frame = frame.iloc[np.argsort(target_code, kind="stable")].reset_index(drop=True)
    return frame


def _parts(frame, layout: str, processes: int = 2) -> list[tuple[str, object]]:
    """(file stem, rows) per producer process: `processes` per target ("producer"; a target's rows dealt
    round-robin among its processes), or `processes` in all, each sending to every target ("interleaved")."""
    if layout == "interleaved":
        return [(f"bench-{i}", frame.iloc[i::processes]) for i in range(processes)]
    out = []
    for t, rows in frame.groupby("target", observed=True, sort=True):
        out.extend((f"bench-{t}-p{i}", rows.iloc[i::processes]) for i in range(processes))
    return out


def write_records(frame, records_dir: Path, layout: str = "producer") -> list[Path]:
    """The frame as CSV files in RecordWriter's format (bench_analysis's module doc), one per producer (`_parts`)."""
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    from labkit.records import FIELD_KINDS

    records_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, part in _parts(frame, layout):
        columns = {}
        for name in frame.columns:
            kind, column = FIELD_KINDS[name], part[name]
            if kind == "int":
                columns[name] = pa.array(column.to_numpy(dtype="float64"), from_pandas=True).cast(pa.int64())
            elif kind == "str":
                columns[name] = pa.array(column.astype("string").fillna("").to_numpy(dtype=object), pa.string())
            else:
                columns[name] = pa.array(column, from_pandas=True)
        path = records_dir / f"{stem}.csv"
        options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
        with path.open("wb") as handle:
            handle.write((",".join(frame.columns) + "\n").encode())
            pa_csv.write_csv(pa.table(columns), handle, write_options=options)
        paths.append(path)
    return paths


def as_run_dir(run_dir: Path, n: int) -> None:
    """The bench's records dir made a run dir the report opens: a manifest and an empty logs/ dir."""
    from labkit.records import SCHEMA_VERSION
    from labkit.rundir import RunDir

    run = RunDir(run_dir)
    run.logs_dir.mkdir(exist_ok=True)
    run.write_manifest({"run_id": run_dir.name, "scenario": "bench", "record_schema_version": SCHEMA_VERSION,
                        "status": "complete", "records": n, "config": {}})  # fmt: skip


def compact_as_a_run(run_dir: Path, span_s: float) -> tuple[float, int]:
    """The columnar copy a run leaves (not timed as the report's): its cache dropped, then each file cut as a run's
    compactor cuts it when the file grows steadily over `span_s`: a piece every MAX_AGE_S of the run's rows (or
    of MIN_BYTES, if fewer bytes), each joining the last segment while that holds less than MIN_BYTES, up to the
    last piece, which the report parses. Its seconds (one thread: CPU spent while the run went) and segments."""
    from analysis import colcache
    from analysis.compactor import MAX_AGE_S, MIN_BYTES, extend
    from analysis.fastread import header_of

    shutil.rmtree(run_dir / "cache", ignore_errors=True)
    started = time.perf_counter()
    for path in sorted((run_dir / "records").glob("*.csv")):
        size = path.stat().st_size
        piece = max(1, min(int(size * MAX_AGE_S / span_s), MIN_BYTES))
        end = header_of(path)[1]
        while size - end > piece:
            reached = extend(path, 1, piece, grow_below=MIN_BYTES)
            if reached is None:
                break
            end = reached
    seconds = time.perf_counter() - started
    # a run's segments were written over its hours and long since flushed to disk: so are these (the rewrites of
    # its slowly growing last segments write ~10x the copy's bytes), not left to the kernel's writeback while the
    # report is timed
    os.sync()
    return seconds, sum(len(colcache.segments(p)) for p in (run_dir / "records").glob("*.csv"))
