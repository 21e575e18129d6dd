"""Loading a run's records into one pandas DataFrame (columns exactly as labkit.records.FIELD_NAMES).

`prepare` adds the derived columns every analysis uses: `t_s` (the request's time: intended send,
else actual send, else completion, in Unix s) and `ok_bool` / `cold_known` helpers.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from analysis.fastread import read_all_clean, read_clean
from labkit.errors import InputError
from labkit.records import (
    BAD_ROWS_LISTED,
    FIELD_KINDS,
    FIELD_NAMES,
    NULLABLE,
    ReadCounts,
    RequestRecord,
    scan_records,
)

BOOL_COLUMNS = ("ok", "cold_start")
TEXT_COLUMNS = tuple(name for name, kind in RequestRecord.__annotations__.items() if kind in ("str", "str | None"))
NUMERIC_COLUMNS = tuple(n for n in FIELD_NAMES if n not in TEXT_COLUMNS and n not in BOOL_COLUMNS)


_FLAGS = {"true": True, "false": False, True: True, False: False}  # pandas gives strings when a cell is neither
SKIP_HINT = "; to skip and count such rows, run `python -m analysis` with --skip-bad-rows"


def _parse(body: bytes, header: list[str], path: Path) -> pd.DataFrame | None:
    """`body` by pandas' C parser; None when a row has too many fields (the exact scan then says where)."""
    kinds = {name: FIELD_KINDS[name] for name in header}
    try:
        return pd.read_csv(
            io.BytesIO(body),
            dtype={name: "string" for name, kind in kinds.items() if kind == "str"},
            keep_default_na=False,
            na_values={name: [""] for name, kind in kinds.items() if kind != "str"},
        )
    except pd.errors.ParserError:
        return None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _value_problems(frame: pd.DataFrame) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, int, str]]]:
    """Rows with a cell not of its field's type (as `labkit.records` decodes it).

    Per such column: which rows, its first bad row and why.
    """
    bad, problems = np.zeros(len(frame), dtype=bool), {}
    for name in frame.columns:
        kind, column = FIELD_KINDS[name], frame[name]
        if kind == "bool":
            if pd.api.types.is_bool_dtype(column):
                continue
            if pd.api.types.is_numeric_dtype(column):  # 1 / 0 (or all empty): not how a record spells a flag
                known = pd.Series(False, index=column.index)
            else:
                known = column.map(_FLAGS, na_action="ignore").notna()
            known |= column.isna() & (name in NULLABLE)
            wrong, expected = ~known.to_numpy(dtype=bool), "true or false"
        elif kind in ("float", "int"):
            if pd.api.types.is_numeric_dtype(column) and (kind == "float" or column.dtype.kind in "iu"):
                continue  # the parser read every cell as a number of the right kind
            number = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            wrong = np.isnan(number) & column.notna().to_numpy(dtype=bool)
            if kind == "int":
                wrong |= ~np.isnan(number) & ((number != np.trunc(number)) | np.isinf(number))
            expected = "an integer" if kind == "int" else "a number"
        else:
            continue
        if wrong.any():
            row = int(np.argmax(wrong))
            problems[name] = (wrong, row, f"field {name!r}: cannot read {column.iloc[row]!r} (expected {expected})")
            bad |= wrong
    return bad, problems


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for name in frame.columns:
        kind, column = FIELD_KINDS[name], frame[name]
        if kind in ("float", "int"):
            frame[name] = pd.to_numeric(column).astype("float64")
        elif kind == "bool":
            frame[name] = (column if pd.api.types.is_bool_dtype(column) else column.map(_FLAGS)).astype("boolean")
    return frame


def read_one(
    path: Path, *, skip_bad_rows: bool = False, counts: ReadCounts | None = None, columns: list[str] | None = None
) -> pd.DataFrame:
    """One records file as a frame: text as `string`, numbers float64, flags `boolean`; vectorised.

    A clean file is read by pyarrow (analysis.fastread: text dictionary-encoded, `columns` only if given);
    any other the exact way: labkit.records' reader finds the rows (torn tail, rows with the wrong number
    of fields: InputError naming file and line, or skipped and counted); a cell not of its field's type likewise.
    """
    fast = read_clean(path, columns)
    if fast is not None:
        return fast
    frame = _read_exact(path, skip_bad_rows, counts)
    return frame if columns is None or frame.empty else frame[[n for n in frame.columns if n in columns]]


def _read_exact(path: Path, skip_bad_rows: bool, counts: ReadCounts | None) -> pd.DataFrame:
    counts = counts if counts is not None else ReadCounts()
    quick = ReadCounts()
    text = scan_records(path, counts=quick, quick=True)
    if not text.header:
        return pd.DataFrame()
    frame = _parse(text.body, text.header, path)
    if frame is None or not text.fields_match(len(frame)):  # a row with too many or too few fields: locate it
        text = scan_records(path, skip_bad_rows=skip_bad_rows, counts=counts, hint=SKIP_HINT)
        frame = _parse(text.body, text.header, path)
        if frame is None or len(frame) != len(text.row_starts):
            raise InputError(f"{path}: rows cannot be told apart (a stray quote?); expected RecordWriter's CSV")
    else:
        counts.torn, counts.torn_at = counts.torn + quick.torn, counts.torn_at + quick.torn_at
    bad, problems = _value_problems(frame)
    if problems and not skip_bad_rows:
        _, row, why = min(problems.values(), key=lambda problem: problem[1])
        raise InputError(f"{path}:{text.line(row)}: {why}{SKIP_HINT}")
    rows = np.flatnonzero(bad)
    for row in rows[:BAD_ROWS_LISTED]:
        fields = [name for name, (wrong, _, _) in problems.items() if wrong[row]]
        counts.skipped(f"{path}:{text.line(int(row))}: unreadable {', '.join(fields)}")
    counts.bad += max(rows.size - BAD_ROWS_LISTED, 0)
    return _typed(frame.loc[~bad].reset_index(drop=True) if rows.size else frame)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames one under the other; a text column dictionary-encoded in every frame stays so (categories merged)."""
    if len(frames) == 1:
        return frames[0]
    out = {}
    for name in dict.fromkeys(n for f in frames for n in f.columns):
        parts = [f[name] if name in f.columns else pd.Series(pd.NA, index=f.index, dtype="object") for f in frames]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            out[name] = pd.Series(union_categoricals(parts, sort_categories=True))
        else:
            parts = [p.astype("string") if isinstance(p.dtype, pd.CategoricalDtype) else p for p in parts]
            out[name] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(out)


def load_frame(
    paths: list[Path],
    *,
    skip_bad_rows: bool = False,
    counts: ReadCounts | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """All records of `paths` in one frame (see `read_one`); missing columns are added empty.

    A torn last record of a file is skipped and counted in `counts`; a malformed row is an InputError
    naming file and line, or with `skip_bad_rows` skipped and counted. `columns`: only these (default all).
    """
    counts = counts if counts is not None else ReadCounts()
    names = list(FIELD_NAMES) if columns is None else [n for n in FIELD_NAMES if n in columns]
    together = read_all_clean(paths, columns) if len(paths) > 1 else None
    frames = [] if together is None else [together]
    for path in paths if together is None else ():
        one = read_one(path, skip_bad_rows=skip_bad_rows, counts=counts, columns=columns)
        if not one.empty:
            frames.append(one)
    if not frames:
        return pd.DataFrame({name: pd.Series(dtype="object") for name in names})
    frame = _concat(frames)
    for name in names:
        if name not in frame.columns:
            frame[name] = pd.Series(pd.NA, index=frame.index, dtype="boolean" if name in BOOL_COLUMNS else "object")
    return frame[names]


def _empty_strings(n: int) -> pd.api.extensions.ExtensionArray:
    """n empty strings as `string` (from Arrow when that is pandas' storage: no n Python objects)."""
    if pd.StringDtype().storage == "pyarrow":
        import pyarrow as pa

        offsets = pa.array(np.zeros(n + 1, dtype=np.int32)).buffers()[1]
        empty = pa.StringArray.from_buffers(n, offsets, pa.py_buffer(b""))
        return pd.StringDtype("pyarrow").__from_arrow__(empty)
    return pd.array(np.full(n, "", dtype=object), dtype="string")


def _text(column: pd.Series) -> pd.Series:
    """`column` as text without NA (""): `string`, or dictionary-encoded (`Categorical`) if it came so; no copy
    when it already is, cheap when it holds no value at all."""
    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA:
        return column.fillna("") if column.hasnans else column
    if isinstance(dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(dtype.categories.dtype):
        if not column.hasnans:
            return column
        if "" not in dtype.categories:
            column = column.cat.add_categories([""])
        return column.fillna("")
    if not isinstance(dtype, pd.StringDtype) and column.isna().all():
        return pd.Series(_empty_strings(len(column)), index=column.index, name=column.name)
    return column.astype("string").fillna("")


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """A shallow copy (copy-on-write: `frame` is never changed) with numeric dtypes, text without NA (`string`,
    or `Categorical` as the fast reader gives it), and the derived columns `t_s`, `ok_bool`, `cold_bool`,
    `cold_known`."""
    out = frame.copy(deep=False)
    for name in NUMERIC_COLUMNS:
        if name in out.columns and out[name].dtype != np.float64:
            out[name] = pd.to_numeric(out[name], errors="coerce").astype(float)
    for name in TEXT_COLUMNS:
        if name in out.columns:
            out[name] = _text(out[name])
    t_s = out["intended_send_unix_s"].fillna(out["actual_send_unix_s"]).fillna(out["completion_unix_s"])
    out["t_s"] = t_s
    out["ok_bool"] = out["ok"].fillna(False).astype(bool)
    out["cold_known"] = out["cold_start"].notna()
    out["cold_bool"] = out["cold_start"].fillna(False).astype(bool)
    return out
