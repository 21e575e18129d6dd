"""The columnar copy of records files: segments read as far as they chain and are the CSV's bytes, only the
rest parsed; segments written while a run goes (analysis.compactor) give the same frame as the CSV."""

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from analysis_helpers import mixed_records, rec, write_run

from analysis import colcache, fastread
from analysis.compactor import Compactor, extend, whole_rows
from analysis.frame import _read_exact, load_frame
from labkit.records import FIELD_NAMES
from labkit.recordwriter import RecordWriter


def _meta(where) -> dict:
    return {k.decode(): v.decode() for k, v in pa.ipc.open_file(where).schema.metadata.items()}


def _header_end(path) -> int:
    return path.read_bytes().index(b"\n") + 1


@pytest.fixture
def parsed(monkeypatch) -> list[int]:
    """The bytes of CSV each parse was given (rows parsed, not read from segments), in order."""
    sizes: list[int] = []
    real = fastread.parse_rows

    def counting(open_source, *args, **kwargs):
        with open_source() as source:
            sizes.append(source.size() - source.tell())
        return real(open_source, *args, **kwargs)

    monkeypatch.setattr(fastread, "parse_rows", counting)
    return sizes


def _same_as_csv(path, frame: pd.DataFrame) -> None:
    exact = _read_exact(path, False, None)
    assert len(frame) == len(exact)
    for name in exact.columns:
        assert frame[name].astype(str).tolist() == exact[name].astype(str).tolist(), name


def test_a_clean_file_leaves_one_segment_and_the_next_read_parses_nothing(tmp_path, parsed):
    run = write_run(tmp_path, mixed_records(30))
    path = run.record_files()[0]
    first = load_frame([path])
    assert parsed == [path.stat().st_size - _header_end(path)]
    (where,) = colcache.segments(path).values()
    assert where == run.path / "cache" / f"x.csv.{_header_end(path):012d}.arrow"
    meta = _meta(where)
    assert (int(meta["start"]), int(meta["end"])) == (_header_end(path), path.stat().st_size)
    assert pa.ipc.open_file(where).schema.names == list(FIELD_NAMES)
    pd.testing.assert_frame_equal(load_frame([path]), first)
    assert list(load_frame([path], columns=["latency_ms"]).columns) == ["latency_ms"]
    assert len(parsed) == 1  # both from the segment
    assert not [p.name for p in where.parent.iterdir() if p.name.endswith(".tmp")]
    _same_as_csv(path, first)


def test_a_file_that_grows_has_only_its_new_rows_parsed(tmp_path, parsed):
    run = write_run(tmp_path, mixed_records(30))
    path = run.record_files()[0]
    load_frame([path])
    before = path.stat().st_size
    with run.writer("x") as writer:  # the run goes on
        writer.write_all([rec(100, "faas", 20.0), rec(101, "server", 30.0)])
    frame = load_frame([path])
    assert len(frame) == 32 and parsed[-1] == path.stat().st_size - before
    assert sorted(colcache.segments(path)) == [_header_end(path), before]
    _same_as_csv(path, frame)
    pd.testing.assert_frame_equal(load_frame([path]), frame)
    assert len(parsed) == 2


def test_a_segment_is_read_only_while_the_csv_holds_its_bytes(tmp_path):
    path = write_run(tmp_path, mixed_records(30)).record_files()[0]
    table = fastread.clean_table(path)
    latency = table.column("latency_ms")
    doubled = table.set_column(table.schema.get_field_index("latency_ms"), "latency_ms", pc.multiply(latency, 2.0))
    start, end = _header_end(path), path.stat().st_size
    with path.open("rb") as handle:  # claims to be these very bytes: read as is
        assert colcache.write_segment(handle, path, doubled, start, end)
    assert load_frame([path])["latency_ms"].tolist() == (latency.to_numpy() * 2).tolist()
    text = path.read_bytes()
    last = text.rstrip(b"\n").rsplit(b"\n", 1)[1]
    path.write_bytes(text.replace(last, last.replace(b",faas-b,", b",faas-c,")))  # same size, new bytes
    assert path.stat().st_size == end
    frame = load_frame([path])  # the check misses: parsed, and the segment rewritten
    assert frame["latency_ms"].tolist() == latency.to_numpy().tolist() and "faas-c" in set(frame["target"])
    assert load_frame([path])["latency_ms"].tolist() == latency.to_numpy().tolist()
    path.write_bytes(path.read_bytes()[: start + (end - start) // 2].rsplit(b"\n", 1)[0] + b"\n")  # cut shorter
    assert len(load_frame([path])) == len(_read_exact(path, False, None)) < 30


def test_a_file_replaced_by_a_rewrite_is_another_file_even_with_the_same_bytes_at_the_ends(tmp_path, parsed):
    path = write_run(tmp_path, mixed_records(60)).record_files()[0]
    first = load_frame([path])
    text = path.read_bytes()
    middle = len(text) // 2
    changed = text[:middle] + text[middle:].replace(b",faas-b,", b",faas-x,", 1)  # same size, same ends
    assert len(changed) == len(text) and changed[-4096:] == text[-4096:] and changed != text
    tmp = path.with_name("x.csv.tmp")
    tmp.write_bytes(changed)
    tmp.replace(path)  # as replay's final rewrite of its results file does
    frame = load_frame([path])
    assert len(parsed) == 2 and "faas-x" in set(frame["target"]) and "faas-x" not in set(first["target"])
    _same_as_csv(path, frame)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "parquet", "no-metadata"])
def test_a_damaged_segment_is_ignored_and_replaced(tmp_path, damage):
    path = write_run(tmp_path, mixed_records(30)).record_files()[0]
    first = load_frame([path])
    (where,) = colcache.segments(path).values()
    if damage == "truncated":
        where.write_bytes(where.read_bytes()[: where.stat().st_size // 2])
    elif damage == "garbage":
        where.write_bytes(b"ARROW1" + bytes(range(256)) * 40 + b"ARROW1")
    elif damage == "empty":
        where.write_bytes(b"")
    elif damage == "parquet":
        pq.write_table(pa.table({"latency_ms": first["latency_ms"].to_numpy()}), where)
    else:
        with pa.ipc.new_file(where, pa.schema([("latency_ms", pa.float64())])) as writer:
            writer.write_table(pa.table({"latency_ms": first["latency_ms"].to_numpy()}))
    pd.testing.assert_frame_equal(load_frame([path]), first)
    with path.open("rb") as handle:  # rewritten whole
        assert colcache.read_chain(handle, path, list(FIELD_NAMES), _header_end(path))[1] == path.stat().st_size


def test_partial_segments_of_killed_writers_are_swept_and_a_live_ones_kept(tmp_path):
    path = write_run(tmp_path, mixed_records(30)).record_files()[0]
    where = colcache.segment_path(path, _header_end(path))
    where.parent.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs (as a writer killed mid-write)
    dead = where.with_name(f"{where.name}.{gone.pid}.tmp")
    live = where.with_name(f"{where.name}.{os.getppid()}.tmp")  # a writer still running
    for partial in (dead, live):
        partial.write_bytes(b"ARROW1 half")
    assert len(load_frame([path])) == 30 and where.is_file()
    assert not dead.exists() and live.exists()


def test_an_older_whole_file_cache_is_ignored_then_removed(tmp_path):
    path = write_run(tmp_path, mixed_records(30)).record_files()[0]
    olds = [path.parent.parent / "cache" / f"x.csv{suffix}" for suffix in (".parquet", ".arrow")]
    olds[0].parent.mkdir()
    for old in olds:
        old.write_bytes(b"PAR1 not really PAR1")
    assert len(load_frame([path])) == 30
    assert len(colcache.segments(path)) == 1 and not any(old.exists() for old in olds)


def test_no_cache_when_the_run_dir_cannot_take_one(tmp_path):
    run = write_run(tmp_path, mixed_records(30))
    path = run.record_files()[0]
    (run.path / "cache").write_text("a file where the cache dir goes")  # mkdir fails, as in a read-only run dir
    first = load_frame([path])
    assert len(first) == 30 and (run.path / "cache").is_file()
    pd.testing.assert_frame_equal(load_frame([path]), first)
    assert not extend(path, min_bytes=1)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only dirs")
def test_no_cache_in_a_read_only_run_dir(tmp_path):
    run = write_run(tmp_path, mixed_records(30))
    path = run.record_files()[0]
    run.path.chmod(0o555)
    try:
        first = load_frame([path])
        assert len(first) == 30 and not (run.path / "cache").exists()
        pd.testing.assert_frame_equal(load_frame([path]), first)
    finally:
        run.path.chmod(0o755)


def test_segments_hold_the_columns_asked_for_and_serve_any_subset(tmp_path, parsed):
    path = write_run(tmp_path, mixed_records(30)).record_files()[0]
    some = load_frame([path], columns=["target", "latency_ms", "ok"])
    (where,) = colcache.segments(path).values()
    assert pa.ipc.open_file(where).schema.names == ["target", "latency_ms", "ok"] == list(some.columns)
    fewer = load_frame([path], columns=["ok", "latency_ms"])  # a subset: from the segment, in FIELD_NAMES order
    assert list(fewer.columns) == ["latency_ms", "ok"] and len(parsed) == 1
    pd.testing.assert_frame_equal(fewer, some[["latency_ms", "ok"]])
    everything = load_frame([path])  # more columns than the segment holds: parsed, and a wider segment
    (where,) = colcache.segments(path).values()
    assert pa.ipc.open_file(where).schema.names == list(FIELD_NAMES) and len(parsed) == 2
    pd.testing.assert_frame_equal(load_frame([path], columns=["target", "latency_ms", "ok"]), everything[some.columns])


@pytest.mark.parametrize("release_min_bytes", [0, colcache.RELEASE_MIN_BYTES])
def test_segments_are_read_into_the_read_pool_and_the_frame_holds_none_of_it(
    tmp_path, parsed, monkeypatch, release_min_bytes
):
    """Arrow's buffers of a segment read come from the read pool (malloc, which a read hands back:
    colcache.read_pool), not Arrow's default pool; the frame's numbers are numpy's own (in neither pool), and
    once it is built the read pool holds no more than the text it keeps as Arrow strings (fastread.UNIQUE_TEXT)."""
    path = write_run(tmp_path, mixed_records(3000)).record_files()[0]
    pool, default = colcache.read_pool(), pa.default_memory_pool()
    load_frame([path])  # parsed; leaves a segment
    before, default_before = pool.bytes_allocated(), default.bytes_allocated()
    table = fastread.clean_table(path)  # from the segment
    assert len(parsed) == 1 and table.num_rows == 3000
    assert pool.bytes_allocated() - before >= table.nbytes // 2 and default.bytes_allocated() == default_before
    releases = []
    real_release = colcache.release_read_memory
    monkeypatch.setattr(colcache, "RELEASE_MIN_BYTES", release_min_bytes)
    monkeypatch.setattr(colcache, "release_read_memory", lambda: releases.append(1) or real_release())
    frame = fastread.to_frame([table])
    del table
    # memory handed back after each column, for a read that big (a small one: never)
    assert len(releases) == (len(frame.columns) if release_min_bytes == 0 else 0)
    kept = [frame[name].array._pa_array for name in fastread.UNIQUE_TEXT if name in frame.columns]  # large_string
    assert 0 < pool.bytes_allocated() - before <= sum(c.get_total_buffer_size() for c in kept) + 64 * 4 * len(kept)
    # the default pool: no number column (8 bytes a row) nor ids, only the categories' few words
    assert default.bytes_allocated() - default_before < 8 * len(frame) and frame["latency_ms"].dtype == "float64"
    _same_as_csv(path, frame)


@pytest.mark.parametrize(
    ("chunk", "rows"),
    [
        (b"a,b\n1,2\n3,", 8),  # a row cut mid-way: up to the last whole row
        (b'a,b\n1,"x\ny"\n2,"p\nq', 12),  # the last newline is inside quotes: the one before
        (b'1,"x ""y"" z"\n2,', 14),  # doubled quotes inside a quoted field count as none
        (b'1,"x\ny\nz\n', 0),  # every newline inside an open quote
        (b"no newline", 0),
    ],
)
def test_whole_rows_end_after_a_newline_outside_quotes(chunk, rows):
    assert whole_rows(chunk) == rows


@pytest.mark.parametrize("seed", range(20))
def test_whole_rows_is_the_last_newline_after_an_even_count_of_quotes(seed):
    rng = random.Random(seed)
    chunk = bytes(rng.choice(b'ab,"\n') for _ in range(rng.randrange(0, 300)))
    ends = [i + 1 for i, byte in enumerate(chunk) if byte == ord("\n") and chunk[:i].count(b'"') % 2 == 0]
    assert whole_rows(chunk) == (ends[-1] if ends else 0)


def test_a_file_being_written_is_compacted_up_to_its_last_whole_row(tmp_path, parsed):
    run = write_run(tmp_path, mixed_records(300))
    path = run.record_files()[0]
    whole = path.stat().st_size
    with path.open("ab") as handle:
        handle.write(b"r,x,locust,constant-load,faas,pre")  # a flush that has not reached the row's end
    assert extend(path, min_bytes=1)
    (where,) = colcache.segments(path).values()
    assert (int(_meta(where)["start"]), int(_meta(where)["end"])) == (_header_end(path), whole)
    assert not extend(path, min_bytes=1)  # nothing whole past the segment
    with RecordWriter(path) as writer:  # the next writer cuts the torn row and goes on
        writer.write_all([rec(400 + i, "faas", 25.0) for i in range(5)])
    frame = load_frame([path])
    assert len(frame) == 305 and parsed == [path.stat().st_size - whole]  # the compacted rows are not parsed
    _same_as_csv(path, frame)


def test_a_compactor_beside_a_writer_leaves_segments_that_read_as_the_csv(tmp_path, parsed):
    run = write_run(tmp_path, [])
    path = run.record_files()[0]
    records = mixed_records(600)
    with Compactor(run.records_dir, interval_s=0.01, min_bytes=4096) as compactor:
        with RecordWriter(path, flush_interval_s=0.001) as writer:
            for i, record in enumerate(records):
                writer.write(record)
                if i % 50 == 0:
                    time.sleep(0.02)  # the compactor gets rounds while the file grows
        deadline = time.monotonic() + 30.0
        while len(colcache.segments(path)) < 2 and time.monotonic() < deadline:
            compactor.run_once()
    assert len(colcache.segments(path)) >= 2 and compactor.segments_written >= 2
    with path.open("rb") as handle:
        compacted = colcache.chain(handle, path, list(FIELD_NAMES), _header_end(path))[-1].end
    frame = load_frame([path])
    assert parsed[-1:] == ([path.stat().st_size - compacted] if compacted < path.stat().st_size else [])
    _same_as_csv(path, frame)


def _spans(path) -> list[tuple[int, int]]:
    return [(int(_meta(w)["start"]), int(_meta(w)["end"])) for _, w in sorted(colcache.segments(path).items())]


def test_rows_that_waited_max_age_join_the_last_small_segment(tmp_path, parsed):
    run = write_run(tmp_path, mixed_records(100))
    path = run.record_files()[0]
    compactor = Compactor(run.records_dir, min_bytes=1 << 20, max_age_s=30.0)  # its rounds called by hand
    assert [compactor.run_once(now_s=t) for t in (0.0, 29.0)] == [0, 0]  # below min_bytes, not yet due
    assert compactor.run_once(now_s=30.0) == 1 and _spans(path) == [(_header_end(path), path.stat().st_size)]
    first_end = path.stat().st_size
    with RecordWriter(path) as writer:
        writer.write_all([rec(500 + i, "faas", 30.0) for i in range(50)])
    assert compactor.run_once(now_s=59.0) == 0  # 29 s since the last cut
    assert compactor.run_once(now_s=60.0) == 1  # due: the new rows join the small segment, rewritten
    assert _spans(path) == [(_header_end(path), path.stat().st_size)] and path.stat().st_size > first_end
    frame = load_frame([path])
    assert parsed == [] and len(frame) == 150
    _same_as_csv(path, frame)


def test_a_segment_of_grow_below_bytes_or_more_is_kept_and_the_rows_start_a_new_one(tmp_path, parsed):
    path = write_run(tmp_path, mixed_records(100)).record_files()[0]
    assert extend(path, min_bytes=1, grow_below=10)  # the first segment: nothing to grow
    first = _spans(path)
    with RecordWriter(path) as writer:
        writer.write_all([rec(500 + i, "faas", 30.0) for i in range(20)])
    assert extend(path, min_bytes=1, grow_below=first[0][1] - first[0][0])  # as big as grow_below: kept
    assert _spans(path) == [first[0], (first[0][1], path.stat().st_size)]
    frame = load_frame([path])
    assert parsed == [] and len(frame) == 120
    _same_as_csv(path, frame)


def _nice(tid: int) -> int:
    stat = Path(f"/proc/{os.getpid()}/task/{tid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])  # field 19 of proc(5), counted after the command name


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="Linux /proc")
def test_the_compactor_thread_alone_runs_at_a_lower_priority(tmp_path):
    run = write_run(tmp_path, mixed_records(10))
    before = _nice(threading.get_native_id())
    with Compactor(run.records_dir, interval_s=0.01) as compactor:
        deadline = time.monotonic() + 10.0
        while _nice(compactor.native_id) != before + 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _nice(compactor.native_id) == min(before + 10, 19)
    assert _nice(threading.get_native_id()) == before
