"""Loading a run's records into one pandas DataFrame (columns exactly as labkit.records.FIELD_NAMES)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from labkit.errors import InputError
from labkit.records import FIELD_NAMES, RequestRecord

BOOL_COLUMNS = ("ok", "cold_start")
TEXT_COLUMNS = tuple(name for name, kind in RequestRecord.__annotations__.items() if kind in ("str", "str | None"))


def _read_one(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            path,
            dtype={name: "string" for name in TEXT_COLUMNS},
            keep_default_na=False,
            na_values={n: [""] for n in FIELD_NAMES if n not in TEXT_COLUMNS},
            on_bad_lines="error",
        )
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=list(FIELD_NAMES))
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a records CSV ({exc})") from None
    unknown = sorted(set(frame.columns) - set(FIELD_NAMES))
    if unknown:
        raise InputError(f"{path}:1: unknown columns {unknown}; expected record columns (README, Record schema)")
    return frame


def _to_bool(series: pd.Series) -> pd.Series:
    mapped = series.map({"true": True, "false": False, True: True, False: False})
    return mapped.astype("boolean")


def load_frame(paths: list[Path]) -> pd.DataFrame:
    """All records of `paths` in one frame; missing columns are added empty."""
    frames = [_read_one(path) for path in paths]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame({name: pd.Series(dtype="object") for name in FIELD_NAMES})
    frame = pd.concat(frames, ignore_index=True)
    for name in FIELD_NAMES:
        if name not in frame.columns:
            frame[name] = pd.NA
    for name in BOOL_COLUMNS:
        frame[name] = _to_bool(frame[name].astype("object").where(frame[name].notna(), None))
    return frame[list(FIELD_NAMES)]
