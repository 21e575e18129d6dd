"""`python -m analysis RUN --export-parquet OUT.parquet`: a run's records as one Parquet file, for one's own tools.

Every records file of the run (`records/*.csv`), every field (labkit.records.FIELD_NAMES, in that order), read
by analysis.frame.load_frame exactly as the report reads them: a torn last record is skipped and counted, a
malformed row stops the export (InputError naming file and line) or, with --skip-bad-rows, is skipped and counted.

The file (zstd, row groups of `ROW_GROUP_ROWS` rows, written atomically: a temp file then a rename) holds numbers
as float64 or int64 (the field's kind in the CSV; an empty cell is null), flags as bool (null when empty) and
text as strings, dictionary-encoded in the file (an empty text cell is "", as the report reads it; a field no
file of the run has is null). polars, duckdb, pandas and Spark read it as it is.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.frame import TEXT_COLUMNS, load_frame
from labkit.errors import ConfigError, InputError
from labkit.records import FIELD_KINDS, FIELD_NAMES, ReadCounts
from labkit.rundir import RunDir

if TYPE_CHECKING:
    import pyarrow as pa

ROW_GROUP_ROWS = 1 << 20


@dataclass(frozen=True)
class Export:
    path: Path
    rows: int
    counts: ReadCounts = field(default_factory=ReadCounts)

    def describe(self) -> str:
        """What the CLI prints: the file, the row count and what the reader skipped."""
        skipped = [f"{n} {what} skipped" for n, what in ((self.counts.torn, "torn"), (self.counts.bad, "bad")) if n]
        return f"parquet: {self.path}\nrows: {self.rows}" + (f" ({', '.join(skipped)})" if skipped else "")


def schema() -> pa.Schema:
    """The export's Arrow schema: FIELD_NAMES in order, each typed by its kind in labkit.records."""
    import pyarrow as pa

    kinds = {"float": pa.float64(), "int": pa.int64(), "bool": pa.bool_(), "str": pa.string()}
    return pa.schema([pa.field(n, kinds[FIELD_KINDS[n]]) for n in FIELD_NAMES])


def _column(series: pd.Series, kind: str) -> pa.Array:
    """One frame column (as load_frame gives it) as an Arrow array of the field's type."""
    import pyarrow as pa

    if kind in ("float", "int"):
        values = pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        array = pa.array(values, type=pa.float64(), from_pandas=True)  # NaN only from an empty cell: null
        return array.cast(pa.int64()) if kind == "int" else array
    if kind == "bool":
        return pa.array(series.astype("boolean"), type=pa.bool_(), from_pandas=True)
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype("string")
    return pa.array(series, type=pa.string(), from_pandas=True)


def to_table(frame: pd.DataFrame) -> pa.Table:
    """load_frame's frame (all fields) as an Arrow table of `schema()`."""
    import pyarrow as pa

    out = schema()
    return pa.Table.from_arrays([_column(frame[f.name], FIELD_KINDS[f.name]) for f in out], schema=out)


def _checked_out(out: Path) -> Path:
    if out.is_dir():
        raise ConfigError(f"--export-parquet {out}: is a folder; expected a file such as {out / 'records.parquet'}")
    if not out.parent.is_dir():
        raise ConfigError(f"--export-parquet {out}: folder {out.parent} does not exist; make it or give another path")
    return out


def write_parquet(frame: pd.DataFrame, out: Path, metadata: dict[str, str] | None = None) -> None:
    """`frame` (load_frame's, all fields) as one Parquet file at `out`, atomically (temp file, then rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    partial = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with pq.ParquetWriter(partial, schema().with_metadata(metadata or {}), compression="zstd",
                              use_dictionary=list(TEXT_COLUMNS)) as writer:  # fmt: skip
            for start in range(0, len(frame), ROW_GROUP_ROWS) if len(frame) else (0,):
                writer.write_table(to_table(frame.iloc[start : start + ROW_GROUP_ROWS]), row_group_size=ROW_GROUP_ROWS)
        os.replace(partial, out)
    except (OSError, pa.ArrowException) as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise InputError(f"{out}: cannot write the Parquet file ({exc}); give a writable path") from None


def export_run(run_dirs: list[Path], out: Path, *, skip_bad_rows: bool = False) -> Export:
    """Exactly one run's records into one Parquet file `out` (see the module doc)."""
    if len(run_dirs) != 1:
        got = ", ".join(str(p) for p in run_dirs) or "none"
        raise ConfigError(f"--export-parquet exports one run: give exactly one run directory (or --latest); got {got}")
    run, out = RunDir.open(run_dirs[0]), _checked_out(out)
    counts = ReadCounts()
    frame = load_frame(run.record_files(), skip_bad_rows=skip_bad_rows, counts=counts)
    metadata = {"loadlab.run_id": run.run_id, "loadlab.torn_skipped": str(counts.torn),
                "loadlab.bad_rows_skipped": str(counts.bad)}  # fmt: skip
    write_parquet(frame, out, metadata)
    return Export(out, len(frame), counts)
