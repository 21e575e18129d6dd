"""A fast path for clean records files: pyarrow's multithreaded CSV reader, straight from the file.

`read_clean` returns None whenever a file is not plainly clean (no final newline: maybe a torn tail; an
unknown or repeated column; a row with the wrong number of fields; a cell not of its field's type; an
empty non-nullable flag; a "nan" in a number field; not UTF-8...). The caller then reads the file the
exact way (analysis.frame.read_one), which skips, counts or names what is wrong, so what a file yields
never depends on which path read it: the fast path only accepts what the exact path reads the same way.

A clean file read from a run's `records/` dir is read from its columnar copy as far as that goes (segments
of Arrow IPC in the run's `cache/` dir, analysis.colcache: memory-mapped, only the columns asked for, no
parsing), and only the rest of the CSV is parsed; what was parsed becomes a new segment (the columns asked
for), so the next report parses nothing. A run writes segments as it goes (analysis.compactor). The CSV files
stay the records (RecordWriter's format), the cache can be deleted any time.

Text comes back dictionary-encoded (pandas `Categorical`, categories sorted) except for the per-request
ids and free text (`string`); numbers as float64, flags as `boolean`, as the exact path gives them.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import takewhile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import colcache
from labkit.records import FIELD_KINDS, NULLABLE

UNIQUE_TEXT = ("request_id", "function_request_id", "error_message", "object_key")  # mostly distinct: no dictionary
_HEAD_BYTES = 1 << 16
# CSV parsed in blocks of this size (pyarrow's default 1 MB makes ~4k-row chunks: 10 M records in 2,300 chunks,
# each later converted, written and read apart: 3x slower to convert than 16 MB blocks, which parse as fast)
CSV_BLOCK_BYTES = 16 << 20


def header_of(path: Path, final_newline: bool = True) -> tuple[list[str], int] | None:
    """The file's column names and the offset just past its header line, if it looks clean (known names, each
    once, a final newline unless `final_newline` is False: a file still being written); else None."""
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
        end = handle.seek(0, 2)
        if end == 0:
            return None
        handle.seek(end - 1)
        if final_newline and handle.read(1) != b"\n":
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
    return header, line_end + 1


def _arrow_types(header: list[str]) -> dict:
    import pyarrow as pa

    kinds = {"float": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}
    text = pa.dictionary(pa.int32(), pa.string())
    return {n: kinds.get(FIELD_KINDS[n], pa.string() if n in UNIQUE_TEXT else text) for n in header}


def parse_rows(open_source: Callable[[], Any], header: list[str], columns: list[str] | None, threads: bool = True):
    """Rows of CSV without a header line (from `open_source()`, a pyarrow input opened anew for each try) as an
    Arrow table of `columns` (all if None), or None when they do not parse as clean records."""
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
    read = pa_csv.ReadOptions(column_names=header, block_size=CSV_BLOCK_BYTES, use_threads=threads)
    for newlines_in_values in (False, True):
        try:
            parse = pa_csv.ParseOptions(newlines_in_values=newlines_in_values)
            with open_source() as source:
                # Arrow's default pool (mimalloc), not the read pool: its parsing threads share mimalloc's pages,
                # while malloc gives each thread an arena of its own (a first parse of 1 M records: peak RSS ~500 MB
                # vs ~570 MB; at 10 M ~2.24 GB vs ~2.15 GB)
                table = pa_csv.read_csv(source, read_options=read, parse_options=parse, convert_options=convert)
            return table if _clean_values(table) else None
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, OSError):
            continue
    return None


def _file_from(path: Path, start: int) -> Callable[[], Any]:
    def open_source():
        import pyarrow as pa

        source = pa.OSFile(str(path))
        source.seek(start)
        return source

    return open_source


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

    pool = colcache.read_pool()
    array = chunked.unify_dictionaries(pool).combine_chunks(pool) if chunked.num_chunks != 1 else chunked.chunk(0)
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


def clean_table(path: Path, columns: list[str] | None = None):
    """One clean records file as an Arrow table (only `columns`, if given), or None: read it the exact way.

    What the file's cache segments hold (analysis.colcache) is read from them; the rest of the CSV is parsed
    and left as a new segment when the file did not change meanwhile."""
    found = header_of(path)
    if found is None:
        return None
    header, header_end = found
    names = [n for n in header if columns is None or n in columns]
    with path.open("rb") as handle:  # the file whose rows a new segment holds (a replaced file is another)
        size = os.fstat(handle.fileno()).st_size
        tables, start = colcache.read_chain(handle, path, names, header_end)
        if start < size:
            tail = _parsed_tail(handle, path, header, columns, start, size)
            if tail is None:
                return None
            tables.append(tail)
    table = _concat(tables) if tables else None
    return table if table is not None and table.num_rows else None


def file_spans(path: Path, columns: list[str]) -> list[colcache.Span] | None:
    """The spans (colcache.table_spans) of a clean file's rows, from its segments' metadata as far as they hold
    `columns` and their spans; the CSV past them parsed (all `columns`) and left as a segment, as `clean_table`
    would, so that reading the file next parses nothing. None for a file to be read the exact way."""
    found = header_of(path)
    if found is None:
        return None
    header, header_end = found
    names = [n for n in header if n in columns]
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        known = list(takewhile(lambda link: link.spans is not None, colcache.chain(handle, path, names, header_end)))
        spans = [span for link in known for span in link.spans]
        start = known[-1].end if known else header_end
        if start < size:
            tail = _parsed_tail(handle, path, header, columns, start, size)
            tail_spans = None if tail is None else colcache.table_spans(tail)
            if tail_spans is None:
                return None
            spans += tail_spans
    return spans


def _parsed_tail(handle, path: Path, header: list[str], columns: list[str] | None, start: int, size: int):
    """The CSV of `path` (open as `handle`) from `start` to `size` parsed (`columns`, all if None) and left as a
    segment when the file did not change meanwhile; None when it does not parse clean."""
    tail = parse_rows(_file_from(path, start), header, columns)
    if tail is not None and _same_file(handle, path, size):
        colcache.write_segment(handle, path, tail, start, size)
    return tail


def _same_file(handle, path: Path, size: int) -> bool:
    """Whether `path` is still the open file, `size` bytes long (nothing written or replaced meanwhile)."""
    now, then = path.stat(), os.fstat(handle.fileno())
    return (now.st_dev, now.st_ino, now.st_size) == (then.st_dev, then.st_ino, size)


def _concat(tables: list):
    """Tables of the same columns, one under the other (no copy)."""
    import pyarrow as pa

    return tables[0] if len(tables) == 1 else pa.concat_tables(t.replace_schema_metadata(None) for t in tables)


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


def _floats(chunked) -> np.ndarray:
    """A number column as one float64 array, filled chunk by chunk (NaN for null): numpy's memory, not the read
    pool's (ChunkedArray.to_numpy would allocate it from Arrow's default pool, beside the freed read pool).

    A column with no value at all (a field these records never fill: a server's billed ms, a client's handler
    ms...) is one NaN seen by every row (read-only, no memory: 80 MB less per such column at 10 M records)."""
    if chunked.null_count == len(chunked):
        return np.broadcast_to(np.float64(np.nan), (len(chunked),))
    out, at = np.empty(len(chunked), dtype=np.float64), 0
    for chunk in chunked.chunks:
        out[at : at + len(chunk)] = chunk.to_numpy(zero_copy_only=False)
        at += len(chunk)
    return out


def to_frame(tables: list) -> pd.DataFrame:
    """Arrow tables with the same columns, one under the other, as a pandas frame (each column converted once; for
    a read of colcache.RELEASE_MIN_BYTES or more, on colcache.READ_THREADS threads: numpy and Arrow copy without
    the GIL, 10 M records' columns in 0.8-0.9 s, not 1.1-1.5 s).

    Takes `tables` over (the list is emptied): each Arrow column is freed once converted and, for a read of
    colcache.RELEASE_MIN_BYTES or more, the memory is handed back, so the peak is about the frame plus a column a
    thread, not the frame plus the tables.
    """
    import pyarrow as pa

    names = tables[0].column_names
    big = sum(t.nbytes for t in tables) >= colcache.RELEASE_MIN_BYTES
    arrow = {name: pa.chunked_array([c for t in tables for c in t.column(name).chunks]) for name in names}
    tables.clear()

    def convert(name: str) -> Any:
        column = arrow.pop(name)  # the Arrow column freed once converted (dict.pop: one thread a name)
        converted = _converted(name, column)
        column = None
        if big:
            colcache.release_read_memory()
        return converted

    if big and len(names) > 1 and colcache.READ_THREADS > 1:
        with ThreadPoolExecutor(colcache.READ_THREADS) as pool:
            out = dict(zip(names, pool.map(convert, names), strict=True))
    else:
        out = {name: convert(name) for name in names}
    return pd.DataFrame(out, copy=False)


def _converted(name: str, column) -> Any:
    """One Arrow column as the exact path gives it (see module doc)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = FIELD_KINDS[name]
    if kind in ("float", "int"):
        return _floats(column)
    if kind == "bool":
        return pd.BooleanDtype().__from_arrow__(column)
    if name in UNIQUE_TEXT:  # pandas keeps large_string: cast here, in the read pool
        wide = pc.cast(column, pa.large_string(), memory_pool=colcache.read_pool())
        return pd.StringDtype("pyarrow").__from_arrow__(wide)
    return _categorical(column)
