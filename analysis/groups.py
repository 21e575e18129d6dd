"""Splitting prepared records into (run_id, target, scenario, operation) groups without a copy per group.

`split_groups` keeps only the columns the analysis reads, dictionary-encodes their text (one factorize per
column, shared with the group keys: pandas `Categorical` with sorted categories), and finds every group's
rows from the combined group code: a slice when its rows come together (records loaded one producer's file
after another), else by one stable sort of the code (no hashing of rows, no per-row Python). Rows keep
their order within a group, exactly as `DataFrame.groupby(sort=True)` gives them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from analysis.fastread import small_int_type, sorted_codes
from analysis.frame import TEXT_COLUMNS

GROUP_KEYS = ("run_id", "target", "scenario", "operation")
ENCODE_THREADS = 2  # text columns encoded at once (bounded by the CPU count)
ANALYSIS_COLUMNS = (
    *GROUP_KEYS,
    "t_s",
    "ok_bool",
    "cold_known",
    "cold_bool",
    "cold_from_report",
    "error_kind",
    "actual_send_unix_s",
    "completion_unix_s",
    "latency_ms",
    "service_latency_ms",
    "send_lag_ms",
    "inference_ms",
    "duration_ms",
    "handler_ms",
    "init_ms",
    "billed_ms",
    "memory_mb",
    "request_bytes",
    "instance_id",
    "model_name",
    "weights",
    "runtime",
)

DERIVED = ("t_s", "ok_bool", "cold_known", "cold_bool", "cold_from_report")  # made by frame.prepare / coldstart
# the record columns a report's analysis reads (prepare's inputs and REPORT-line joins included)
RECORD_COLUMNS = (
    *(name for name in ANALYSIS_COLUMNS if name not in DERIVED),
    "intended_send_unix_s",
    "ok",
    "cold_start",
    "function_request_id",
    "max_memory_used_mb",
)


def _arrow_encoded(column: pd.Series) -> tuple[np.ndarray, pd.Index] | None:
    """`_encoded` of Arrow-backed text without NA by Arrow's own kernels (a third of pandas' factorize at 10 M
    rows); one value throughout (the usual run_id, scenario, operation...) needs only a comparison. Else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    chunked = getattr(column.array, "_pa_array", None)
    if (
        not isinstance(chunked, pa.ChunkedArray)
        or not (pa.types.is_string(chunked.type) or pa.types.is_large_string(chunked.type))
        or chunked.null_count
    ):
        return None
    if len(chunked) and pc.all(pc.equal(chunked, chunked[0])).as_py():
        return np.zeros(len(chunked), dtype=np.int8), pd.Index([chunked[0].as_py()], dtype=column.dtype)
    encoded = pc.dictionary_encode(chunked).combine_chunks()
    codes, words = sorted_codes(encoded.dictionary, encoded.indices)
    return codes, pd.Index(words, dtype=column.dtype)


def _encoded(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes (NA as its own code; the smallest integer type pandas keeps them in) and sorted distinct values."""
    if isinstance(column.dtype, pd.CategoricalDtype) and not column.hasnans:
        categories = column.cat.categories
        if not categories.is_monotonic_increasing:  # groups come sorted by value, whatever the category order
            column = column.cat.reorder_categories(categories.sort_values(), ordered=False)
            categories = column.cat.categories
        return column.cat.codes.to_numpy(), categories
    fast = _arrow_encoded(column)
    if fast is not None:
        return fast
    codes, uniques = pd.factorize(column, sort=True, use_na_sentinel=False)
    return codes.astype(small_int_type(len(uniques)), copy=False), pd.Index(uniques)


def _encode_all(frame: pd.DataFrame, names: list[str]) -> dict[str, tuple[np.ndarray, pd.Index]]:
    """`_encoded` of each column, ENCODE_THREADS at once (Arrow's kernels and pandas' factorize release the GIL)."""
    workers = min(ENCODE_THREADS, os.cpu_count() or 1, len(names))
    if workers <= 1:
        return {name: _encoded(frame[name]) for name in names}
    with ThreadPoolExecutor(workers) as pool:
        return dict(zip(names, pool.map(_encoded, [frame[name] for name in names]), strict=True))


def _group_code(
    encoded: dict[str, tuple[np.ndarray, pd.Index]], n: int, names: tuple[str, ...] = GROUP_KEYS
) -> np.ndarray:
    code = np.zeros(n, dtype=np.int64)
    for name in names:
        codes, values = encoded[name]
        if len(values) > 1:  # a key with one value (usually run_id, scenario, operation) adds nothing
            code *= len(values)
            code += codes
    return code


def _keys(
    code: int, encoded: dict[str, tuple[np.ndarray, pd.Index]], names: tuple[str, ...] = GROUP_KEYS
) -> dict[str, str]:
    keys = {}
    for name in reversed(names):
        values = encoded[name][1]
        code, index = divmod(code, len(values))
        keys[name] = str(values[index])
    return {name: keys[name] for name in names}


def _runs(code: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The code, start and stop of each run of equal codes, in row order."""
    starts = np.flatnonzero(np.concatenate(([True], code[1:] != code[:-1])))
    return code[starts], starts, np.append(starts[1:], code.size)


def _group_rows(code: np.ndarray) -> tuple[np.ndarray | None, list[tuple[int, int, int]]]:
    """(order, [(group code, start, stop)] sorted by code): rows `start:stop` of `code`, or of `order` (a stable
    argsort of `code`) when it is not None. Each group's rows in one run (however the runs are ordered, as when
    a run's records load one producer's file after another): no order, every group a slice."""
    order = None
    codes, starts, stops = _runs(code)
    if np.unique(codes).size != codes.size:  # some group's rows are apart: gather by a sort of the code
        order = np.argsort(code, kind="stable")
        codes, starts, stops = _runs(code[order])
    return order, sorted(zip(codes.tolist(), starts.tolist(), stops.tolist(), strict=True))


def split_groups(frame: pd.DataFrame) -> Iterator[tuple[dict[str, str], pd.DataFrame]]:
    """(keys, group) per group, sorted by keys; each group holds `ANALYSIS_COLUMNS` (those present).

    A group whose rows come together (in any order of the groups) is handed out as views; else each group's
    rows are gathered when its turn comes (one group's copy alive at a time, not a reordered copy of everything).
    """
    if frame.empty:
        return
    names = [name for name in ANALYSIS_COLUMNS if name in frame.columns]
    encoded = _encode_all(frame, [name for name in names if name in TEXT_COLUMNS])
    order, spans = _group_rows(_group_code(encoded, len(frame)))  # the code (8 bytes a row) not kept after
    arrays = {name: frame[name].to_numpy() for name in names if name not in encoded}
    for group_code, start, stop in spans:
        rows = slice(start, stop) if order is None else order[start:stop]
        columns = {}
        for name in names:
            if name in encoded:
                codes, values = encoded[name]
                columns[name] = pd.Categorical.from_codes(codes[rows], dtype=pd.CategoricalDtype(values))
            else:
                columns[name] = arrays[name][rows]
        yield _keys(group_code, encoded), pd.DataFrame(columns, copy=False)


def rows_by_group(frame: pd.DataFrame, names: tuple[str, ...]) -> Iterator[tuple[dict[str, str], slice | np.ndarray]]:
    """(keys, rows: a slice, or row positions in order) per group of the text columns `names`, sorted by keys: the
    groups of `split_groups`, by other keys, for a caller that reads a column or two (a pandas groupby of three
    categoricals takes 1.3 s at 10 M rows, and a frame.loc copies every column)."""
    if frame.empty:
        return
    encoded = _encode_all(frame, list(names))
    order, spans = _group_rows(_group_code(encoded, len(frame), names))
    for code, start, stop in spans:
        yield _keys(code, encoded, names), slice(start, stop) if order is None else order[start:stop]


Extents = dict[tuple[str, ...], tuple[float, float]]  # group keys -> (min, max) of a column


def extents(frame: pd.DataFrame, names: tuple[str, ...], column: str) -> Extents:
    """Per group of the text columns `names` that has a value of `column` (NaN skipped): its (min, max)."""
    values = frame[column].to_numpy(dtype=float)
    out: Extents = {}
    for keys, rows in rows_by_group(frame, names):
        part = values[rows]
        if part.size and not np.isnan(part).all():
            out[tuple(keys[n] for n in names)] = (float(np.nanmin(part)), float(np.nanmax(part)))
    return out


def merged_extents(parts: list[Extents]) -> Extents:
    """The extents of the union of the parts' rows (a group may have rows in several parts)."""
    out: Extents = {}
    for part in parts:
        for key, (low, high) in part.items():
            seen = out.get(key)
            out[key] = (low, high) if seen is None else (min(seen[0], low), max(seen[1], high))
    return out


def longest_extent(found: Extents) -> float:
    """The largest (max - min) of any group; 0.0 when there is none."""
    return max((high - low for low, high in found.values()), default=0.0)
