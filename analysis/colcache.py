"""The columnar copy of a run's records files: `cache/<file>.csv.<start>.arrow`, segments of Arrow IPC (lz4).

Each segment holds the parsed rows of one byte range of its CSV file, `[start, end)`, whole rows only; the
segments of a file chain from the end of its header line (`start` of the next = `end` of the one before). A
reader takes the chain as far as it goes and parses only the rest of the CSV; the first report of a file
leaves one segment of what it parsed, and a run writes segments while it goes (analysis.compactor), so a
report reads little CSV whatever the run's size. The CSV files stay the records; the cache can be deleted any
time.

A segment is trusted only if it is of this very file and the file still holds the same bytes where it says:
its schema metadata keeps `start`, `end` and `check`: the file's device and inode (a file replaced, as a
rewrite through a temporary file does, is another file) and the CRC-32 of the range's first and last 4 KiB,
compared with the file now; a file cut shorter, replaced or edited at a boundary misses and is parsed again.
(An edit in place in the middle of a range that keeps every byte count is not seen: delete `cache/` after
editing records by hand; a run only appends.) A copied run dir (new inodes) parses its records once again.
A damaged or foreign file where a segment belongs is ignored, a read-only run dir gets no cache; segments are
written to `<segment>.<pid>.tmp` and renamed, and the partial file of a writer killed mid-write is removed by the
next writer of that segment once its process is gone. An older version's whole-file cache (`<file>.csv.arrow`,
`.csv.parquet`) is ignored and removed when the first segment of its file is written.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, NamedTuple

CACHE_DIR = "cache"  # beside records/ in a run dir
SEGMENT_SUFFIX = ".arrow"  # cache/<file>.csv.<start>.arrow
_OLD_SUFFIXES = (".arrow", ".parquet")  # an older version's cache/<file>.csv.arrow or .csv.parquet
CHECK_BYTES = 4096  # bytes at each end of a segment's range in its check
BATCH_ROWS = 1 << 17  # rows per record batch in a segment, at most
READ_THREADS = 2  # segments read at once
# a read of this many bytes or more hands freed memory back after each column (release_read_memory; malloc_trim
# walks the whole heap: ~1-10 ms a call in a big process, for nothing on a small read)
RELEASE_MIN_BYTES = 32 << 20


def read_pool():
    """The Arrow memory pool segments are read into: the C library's malloc, not Arrow's default mimalloc, which
    keeps the freed pages of columns decompressed side by side in its segments; malloc's are handed back by
    `release_read_memory` (10 M records from the copy: the report's peak RSS 2.1 GB, not 2.6 GB). CSV is parsed in
    Arrow's default pool (fastread.parse_rows)."""
    import pyarrow as pa

    return pa.system_memory_pool()


def release_read_memory() -> None:
    """Hands the freed memory of a read back to the system: both Arrow pools' `release_unused`, then glibc's
    malloc_trim (the read pool's own `release_unused` does not return malloc's freed pages)."""
    import pyarrow as pa

    read_pool().release_unused()
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _glibc()


# a segment's rows summed up in its metadata (`spans`), so that a report finds which groups a file holds, and when
# they ran, without reading its rows (analysis.parts)
KEY_COLUMNS = ("target", "scenario", "operation")
TIME_COLUMNS = ("intended_send_unix_s", "actual_send_unix_s", "completion_unix_s")  # t_s: the first one present
Span = tuple[str, str, str, float | None, float | None]  # target, scenario, operation, min and max t_s


def table_spans(table) -> list[Span] | None:
    """Per (target, scenario, operation) of an Arrow table's rows: the min and max of t_s (the intended send, else
    the actual send, else the completion, as analysis.frame.prepare makes it; None when no row has one); None
    for a table without the key columns or any time column. A table of one workload (the usual) is not grouped."""
    import pyarrow.compute as pc

    times = [table.column(name) for name in TIME_COLUMNS if name in table.column_names]
    if not times or any(name not in table.column_names for name in KEY_COLUMNS):
        return None
    t_s = pc.coalesce(*times) if len(times) > 1 else times[0]
    values = [pc.unique(table.column(name)) for name in KEY_COLUMNS]
    if all(len(found) == 1 for found in values):
        extent = pc.min_max(t_s)
        keys = tuple(found.to_pylist()[0] for found in values)
        return [(*keys, extent["min"].as_py(), extent["max"].as_py())]
    keyed = table.select(list(KEY_COLUMNS)).append_column("t_s", t_s)
    rows = keyed.group_by(list(KEY_COLUMNS)).aggregate([("t_s", "min"), ("t_s", "max")]).to_pylist()
    return [(*(row[name] for name in KEY_COLUMNS), row["t_s_min"], row["t_s_max"]) for row in rows]


def _spans_of(metadata: dict | None) -> list[Span] | None:
    try:
        found = json.loads((metadata or {})[b"spans"])
        return [(str(a), str(b), str(c), lo, hi) for a, b, c, lo, hi in found]
    except (KeyError, ValueError, TypeError):
        return None


def cache_dir(path: Path) -> Path | None:
    """The cache dir of a run's records file (None for a file outside a `records/` dir)."""
    return path.parent.parent / CACHE_DIR if path.parent.name == "records" else None


def segment_path(path: Path, start: int) -> Path | None:
    where = cache_dir(path)
    return None if where is None else where / f"{path.name}.{start:012d}{SEGMENT_SUFFIX}"


def segments(path: Path) -> dict[int, Path]:
    """The segment files of a records file, by start offset (whatever they hold)."""
    where = cache_dir(path)
    if where is None or not where.is_dir():
        return {}
    found = {}
    for candidate in where.glob(f"{path.name}.*{SEGMENT_SUFFIX}"):
        start = candidate.name[len(path.name) + 1 : -len(SEGMENT_SUFFIX)]
        if start.isdigit():
            found[int(start)] = candidate
    return found


def range_check(handle: BinaryIO, start: int, end: int) -> bytes:
    """What a segment of the open file's bytes [start, end) is checked by: the file's identity (device and
    inode: a file replaced, as a rewrite does, is another file) and the CRC-32 of the range's first and last
    CHECK_BYTES."""
    stat = os.fstat(handle.fileno())
    handle.seek(start)
    crc = zlib.crc32(handle.read(min(CHECK_BYTES, end - start)))
    tail_start = max(start, end - CHECK_BYTES)
    handle.seek(tail_start)
    return f"{stat.st_dev}:{stat.st_ino}:{zlib.crc32(handle.read(end - tail_start), crc):08x}".encode()


def _segment_end(schema, names: list[str], start: int, size: int, handle: BinaryIO) -> int | None:
    """Where the segment with this schema ends, if it holds `names` of the file's bytes from `start`; else None."""
    meta = schema.metadata or {}
    end = int(meta.get(b"end", b"-1"))
    if int(meta.get(b"start", b"-1")) != start or not start < end <= size or not set(names) <= set(schema.names):
        return None
    return end if meta.get(b"check") == range_check(handle, start, end) else None


class Link(NamedTuple):
    where: Path  # the segment file
    start: int  # the CSV offset it starts at
    end: int  # the CSV offset it ends at
    fields: list[int]  # the indices of the columns asked for in its schema
    spans: list[Span] | None  # its rows' spans (`table_spans`), None in a segment that does not hold them


def chain(handle: BinaryIO, path: Path, names: list[str], start: int) -> list[Link]:
    """The segments of `path` (open as `handle`) that chain from `start` and hold `names` of its bytes, by their
    metadata."""
    import pyarrow as pa
    from pyarrow import ipc

    found, links = segments(path), []
    size = os.fstat(handle.fileno()).st_size
    while start in found:
        try:
            with pa.memory_map(str(found[start]), "r") as source:
                schema = ipc.open_file(source).schema
            end = _segment_end(schema, names, start, size, handle)
        except (pa.ArrowException, OSError, ValueError):  # damaged, or not an Arrow file: parse the CSV there
            end = None
        if end is None:
            break
        fields = sorted(schema.get_field_index(n) for n in names)
        links.append(Link(found[start], start, end, fields, _spans_of(schema.metadata)))
        start = end
    return links


def segment_table(link: Link, names: list[str]):
    """The segment's table of `names`, or None when it cannot be read.

    Read memory-mapped, decompressing only the columns asked for (every buffer a decompressed copy, none in
    the mapping, so it stays valid when the segment is replaced) and checked in full (offsets, dictionary
    indices, UTF-8) so that a damaged file cannot crash the conversion."""
    import pyarrow as pa
    from pyarrow import ipc

    try:
        with pa.memory_map(str(link.where), "r") as source:
            options = ipc.IpcReadOptions(included_fields=link.fields)
            table = ipc.open_file(source, options=options, memory_pool=read_pool()).read_all()
        table.validate(full=True)
        return table.select(names).replace_schema_metadata(None)
    except (pa.ArrowException, OSError, ValueError):
        return None


def read_chain(handle: BinaryIO, path: Path, names: list[str], start: int) -> tuple[list, int]:
    """The cached tables of `path` (open as `handle`) from byte `start` on, as far as segments holding `names`
    chain, and the offset from which its CSV must be parsed. Segments are read READ_THREADS at a time (Arrow
    decompresses and checks them without the GIL)."""
    links = chain(handle, path, names, start)
    if not links:
        return [], start
    with ThreadPoolExecutor(min(READ_THREADS, len(links))) as pool:
        read_tables = list(pool.map(lambda link: segment_table(link, names), links))
    tables = []
    for table, link in zip(read_tables, links, strict=True):
        if table is None:  # a segment whose body is damaged: the CSV from there on
            break
        tables.append(table)
        start = link.end
    return tables, start


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _sweep_partials(where: Path) -> None:
    """Remove the partial files of segment `where` that writers killed mid-write left (their process is gone)."""
    for partial in where.parent.glob(f"{where.name}.*.tmp"):
        pid = partial.name[len(where.name) + 1 : -len(".tmp")]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                partial.unlink()


def write_segment(handle: BinaryIO, path: Path, table, start: int, end: int) -> bool:
    """Keep `table`, the rows of bytes [start, end) of `path` open as `handle` (the very file they were parsed
    from), as a segment (atomically); False when the run dir cannot take it. Segments starting at or after
    `start` are stale from now on (the chain reached `start` without them): they go, as does an older
    version's whole-file cache."""
    import pyarrow as pa
    from pyarrow import ipc

    where = segment_path(path, start)
    if where is None or table.num_rows == 0:
        return False
    partial = where.with_name(f"{where.name}.{os.getpid()}.tmp")
    try:
        where.parent.mkdir(exist_ok=True)
        _sweep_partials(where)
        check = range_check(handle, start, end)
        meta = {b"start": str(start).encode(), b"end": str(end).encode(), b"check": check}
        spans = table_spans(table)
        if spans is not None:
            meta[b"spans"] = json.dumps(spans).encode()
        table = table.unify_dictionaries().replace_schema_metadata(meta)  # chunks as parsed: no copy
        options = ipc.IpcWriteOptions(compression="lz4")
        with pa.OSFile(str(partial), "wb") as sink, ipc.new_file(sink, table.schema, options=options) as writer:
            writer.write_table(table, max_chunksize=BATCH_ROWS)
        os.replace(partial, where)
    except (pa.ArrowException, OSError):  # read-only run dir, disk full...: no segment this time
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        return False
    for later, stale in segments(path).items():
        if later > start:
            with contextlib.suppress(OSError):
                stale.unlink()
    for suffix in _OLD_SUFFIXES:
        with contextlib.suppress(OSError):
            (where.parent / f"{path.name}{suffix}").unlink(missing_ok=True)
    return True
