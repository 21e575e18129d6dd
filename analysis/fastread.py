"""A fast path for clean records files: pyarrow's multithreaded CSV reader, straight from the file.

`read_clean` returns None whenever a file is not plainly clean (no final newline: maybe a torn tail; an
unknown or repeated column; a row with the wrong number of fields; a cell not of its field's type; an
empty non-nullable flag; a "nan" in a number field; not UTF-8...). The caller then reads the file the
exact way (analysis.frame.read_one), which skips, counts or names what is wrong, so what a file yields
never depends on which path read it: the fast path only accepts what the exact path reads the same way.

A clean file read from a run's `records/` dir leaves a columnar copy of what was read (the columns asked
for) in the run's `cache/` dir: `cache/<file>.csv.arrow`, the Arrow IPC file format ("Feather v2") with lz4
compression, keyed by the CSV file's size and modification time (schema metadata `source`). The next report
reads that instead (memory-mapped, only the columns asked for, no parsing): on 500k records of 26 columns it
writes and reads in a fraction of the time Parquet takes, for about the same size. A changed file (a run still
writing, an edit) misses the cache and is read again; a cache being replaced or damaged is ignored (the CSV is
read); a read-only run dir just gets no cache. The CSV files stay the records (RecordWriter's format), the
cache can be deleted any time; a `cache/*.csv.parquet` left by an older version is ignored, and removed when
the new cache of its file is written.

Text comes back dictionary-encoded (pandas `Categorical`, categories sorted) except for the per-request
ids and free text (`string`); numbers as float64, flags as `boolean`, as the exact path gives them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from labkit.records import FIELD_KINDS, NULLABLE

UNIQUE_TEXT = ("request_id", "function_request_id", "error_message", "object_key")  # mostly distinct: no dictionary
_HEAD_BYTES = 1 << 16
CACHE_DIR = "cache"  # beside records/ in a run dir
CACHE_SUFFIX = ".arrow"  # cache/<file>.csv.arrow: Arrow IPC file, lz4
_OLD_CACHE_SUFFIX = ".parquet"  # an older version's cache/<file>.csv.parquet
_CACHE_BATCH = 1 << 17  # rows per record batch in the cache, at most
# CSV parsed in blocks of this size (pyarrow's default 1 MB makes ~4k-row chunks: 10 M records in 2,300 chunks,
# each later converted, written and read apart: 3x slower to convert than 16 MB blocks, which parse as fast)
CSV_BLOCK_BYTES = 16 << 20


def _header(path: Path) -> list[str] | None:
    """The file's column names if it looks clean (known names, each once, a final newline); else None."""
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
        end = handle.seek(0, 2)
        if end == 0:
            return None
        handle.seek(end - 1)
        if handle.read(1) != b"\n":
            return None
    line_end = head.find(b"\n")
    if line_end < 0:
        return None
    try:
        header = next(csv.reader(io.StringIO(head[:line_end].decode("utf-8-sig"))), [])
    except UnicodeDecodeError:
        return None
    if not header or any(n not in FIELD_KINDS for n in header) or len(set(header)) != len(header):
        return None
    return header


def _arrow_types(header: list[str]) -> dict:
    import pyarrow as pa

    kinds = {"float": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}
    text = pa.dictionary(pa.int32(), pa.string())
    return {n: kinds.get(FIELD_KINDS[n], pa.string() if n in UNIQUE_TEXT else text) for n in header}


def _table(path: Path, header: list[str], columns: list[str] | None):
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    convert = pa_csv.ConvertOptions(
        column_types=_arrow_types(header),
        null_values=[""],
        true_values=["true"],
        false_values=["false"],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        include_columns=[n for n in header if columns is None or n in columns],
    )
    # Fast chunked parsing first. A quoted newline (RecordWriter quotes a field holding one) that straddles
    # two chunks cannot pass unnoticed: the first chunk then ends inside quotes and Arrow stops ("parser got
    # out of sync with chunker", or the next chunk's wrong field count); any failure: parse again with
    # newlines allowed in values, and if that fails too the exact path reads the file.
    read = pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES)
    for newlines_in_values in (False, True):
        try:
            parse = pa_csv.ParseOptions(newlines_in_values=newlines_in_values)
            return pa_csv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert)
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, OSError):
            continue
    return None


def small_int_type(n: int) -> type:
    """The smallest signed integer type holding 0..n (as pandas keeps categorical codes)."""
    return next(t for t in (np.int8, np.int16, np.int32, np.int64) if n <= np.iinfo(t).max)


def sorted_codes(dictionary, indices) -> tuple[np.ndarray, np.ndarray]:
    """Codes into the sorted distinct values, and those values (object array), from an Arrow dictionary
    encoding: in the smallest integer type, translated by one gather of that type, or none when the
    dictionary is sorted already (one value: the common case)."""
    words = np.asarray(dictionary.to_pylist(), dtype=object)
    order = np.argsort(words, kind="stable")
    small = small_int_type(order.size)
    codes = indices.to_numpy(zero_copy_only=False)
    if np.array_equal(order, np.arange(order.size)):
        return codes.astype(small, copy=False), words
    rank = np.empty(order.size, dtype=small)
    rank[order] = np.arange(order.size)
    return rank[codes], words[order]


def _categorical(chunked) -> pd.Categorical:
    """A dictionary column as a Categorical with sorted categories (the exact path's value order)."""
    import pyarrow as pa

    array = chunked.unify_dictionaries().combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    codes, words = sorted_codes(array.dictionary, array.indices)
    dtype = pd.CategoricalDtype(pd.Index(words, dtype="string"))
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def _clean_values(table) -> bool:
    """No empty non-nullable flag and no NaN spelled out in a number field (the exact path rejects both)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = FIELD_KINDS[name]
        if kind == "bool" and name not in NULLABLE and column.null_count:
            return False
        if pa.types.is_floating(column.type) and pc.any(pc.is_nan(column)).as_py():
            return False
    return True


def cache_path(path: Path) -> Path | None:
    """Where the Arrow IPC copy of a run's records file lives (None for a file outside a `records/` dir)."""
    return path.parent.parent / CACHE_DIR / f"{path.name}{CACHE_SUFFIX}" if path.parent.name == "records" else None


def _source_key(path: Path) -> bytes:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}".encode()


def _cached(path: Path, names: list[str], key: bytes):
    """The cached table of `path` with `names`, if the cache is of this very file and holds them; else None.

    Read memory-mapped, decompressing only the columns asked for: every buffer of the table is an lz4-decompressed
    copy in memory (none points into the mapping), so it stays valid when the cache is replaced or deleted. Checked
    in full (offsets, dictionary indices, UTF-8: ~9 ms per 500k rows) so a damaged file cannot crash the convert."""
    import pyarrow as pa
    from pyarrow import ipc

    where = cache_path(path)
    if where is None or not where.is_file():
        return None
    try:
        with pa.memory_map(str(where), "r") as source:
            schema = ipc.open_file(source).schema
            if (schema.metadata or {}).get(b"source") != key or not set(names) <= set(schema.names):
                return None
            fields = sorted(schema.get_field_index(n) for n in names)
            table = ipc.open_file(source, options=ipc.IpcReadOptions(included_fields=fields)).read_all()
        table.validate(full=True)  # bad offsets or indices (a damaged file): an error here, not a crash later
        return table.select(names)
    except (pa.ArrowException, OSError, ValueError):  # damaged, or not an Arrow file: read the CSV
        return None


def _keep(path: Path, table, key: bytes) -> None:
    """Write the cache (atomically; silently not when the run dir is read-only or the file changed meanwhile).

    One dictionary per text column (IPC files allow no other) and the parsed chunks as batches (of at most
    `_CACHE_BATCH` rows; CSV_BLOCK_BYTES keeps them few). An older version's Parquet cache of the file goes."""
    import pyarrow as pa
    from pyarrow import ipc

    where = cache_path(path)
    if where is None or _source_key(path) != key:
        return
    partial = where.with_suffix(f".{os.getpid()}.tmp")
    try:
        where.parent.mkdir(exist_ok=True)
        table = table.unify_dictionaries().replace_schema_metadata({b"source": key})  # chunks as parsed: no copy
        options = ipc.IpcWriteOptions(compression="lz4")
        with pa.OSFile(str(partial), "wb") as sink, ipc.new_file(sink, table.schema, options=options) as writer:
            writer.write_table(table, max_chunksize=_CACHE_BATCH)
        os.replace(partial, where)
        where.with_suffix(_OLD_CACHE_SUFFIX).unlink(missing_ok=True)
    except (pa.ArrowException, OSError):  # read-only run dir, disk full...: no cache this time
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def clean_table(path: Path, columns: list[str] | None = None):
    """One clean records file as an Arrow table (only `columns`, if given; from the cache when it is of this
    very file), or None: read it the exact way."""
    header = _header(path)
    if header is None:
        return None
    names = [n for n in header if columns is None or n in columns]
    key = _source_key(path)
    table = _cached(path, names, key)
    if table is None:
        table = _table(path, header, columns)
        if table is None or table.num_rows == 0 or not _clean_values(table):
            return None
        _keep(path, table, key)
    return table


def read_clean(path: Path, columns: list[str] | None = None) -> pd.DataFrame | None:
    """One clean records file as a frame (only `columns`, if given), or None: read it the exact way."""
    table = clean_table(path, columns)
    return None if table is None else to_frame([table])


def read_all_clean(paths: list[Path], columns: list[str] | None = None) -> pd.DataFrame | None:
    """Several clean files with the same columns as one frame (one conversion, no concat of frames); else None."""
    tables = []
    for path in paths:
        table = clean_table(path, columns)
        if table is None or (tables and table.schema.names != tables[0].schema.names):
            return None
        tables.append(table)
    table = None  # to_frame frees each Arrow column once converted: no reference may outlive it here
    return to_frame(tables) if tables else None


def to_frame(tables: list) -> pd.DataFrame:
    """Arrow tables with the same columns, one under the other, as a pandas frame (each column converted once).

    Takes `tables` over (the list is emptied): each Arrow column is freed once converted and Arrow's pool
    hands the memory back, so the peak is about the frame plus one column, not the frame plus the tables.
    """
    import pyarrow as pa

    names = tables[0].column_names
    out, arrow = {}, {name: pa.chunked_array([c for t in tables for c in t.column(name).chunks]) for name in names}
    tables.clear()
    pool = pa.default_memory_pool()
    for name in list(arrow):
        pool.release_unused()
        column, kind = arrow.pop(name), FIELD_KINDS[name]  # each Arrow column freed once converted
        if kind in ("float", "int"):
            out[name] = column.to_numpy().astype(np.float64, copy=False)
        elif kind == "bool":
            out[name] = pd.BooleanDtype().__from_arrow__(column)
        elif name in UNIQUE_TEXT:
            out[name] = pd.StringDtype("pyarrow").__from_arrow__(column)
        else:
            out[name] = _categorical(column)
    return pd.DataFrame(out, copy=False)
