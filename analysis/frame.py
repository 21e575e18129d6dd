"""Loading a run's records into one pandas DataFrame (columns exactly as labkit.records.FIELD_NAMES).

`prepare` adds the derived columns every analysis uses: `t_s` (the request's time: intended send,
else actual send, else completion, in Unix s) and `ok_bool` / `cold_known` helpers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from labkit.errors import InputError
from labkit.records import FIELD_NAMES, RequestRecord

BOOL_COLUMNS = ("ok", "cold_start")
TEXT_COLUMNS = tuple(name for name, kind in RequestRecord.__annotations__.items() if kind in ("str", "str | None"))
NUMERIC_COLUMNS = tuple(n for n in FIELD_NAMES if n not in TEXT_COLUMNS and n not in BOOL_COLUMNS)


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


def _check_numeric(frame: pd.DataFrame, path: Path) -> None:
    for name in NUMERIC_COLUMNS:
        if name in frame.columns and not pd.api.types.is_numeric_dtype(frame[name]):
            bad = np.flatnonzero((pd.to_numeric(frame[name], errors="coerce").isna() & frame[name].notna()).to_numpy())
            if bad.size == 0:
                continue
            row = int(bad[0]) + 2
            raise InputError(f"{path}:{row}: field {name!r}: not a number ({frame[name].iloc[row - 2]!r})")


def load_frame(paths: list[Path]) -> pd.DataFrame:
    """All records of `paths` in one frame; missing columns are added empty."""
    frames = []
    for path in paths:
        one = _read_one(path)
        _check_numeric(one, path)
        if not one.empty:
            frames.append(one)
    if not frames:
        return pd.DataFrame({name: pd.Series(dtype="object") for name in FIELD_NAMES})
    frame = pd.concat(frames, ignore_index=True)
    for name in FIELD_NAMES:
        if name not in frame.columns:
            frame[name] = pd.NA
    for name in BOOL_COLUMNS:
        frame[name] = _to_bool(frame[name].astype("object").where(frame[name].notna(), None))
    return frame[list(FIELD_NAMES)]


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with numeric dtypes and the derived columns `t_s`, `ok_bool`, `cold_bool`, `cold_known`."""
    out = frame.copy()
    for name in NUMERIC_COLUMNS:
        if name in out.columns:
            out[name] = pd.to_numeric(out[name], errors="coerce").astype(float)
    for name in TEXT_COLUMNS:
        if name in out.columns:
            out[name] = out[name].astype("string").fillna("")
    t_s = out["intended_send_unix_s"].copy()
    t_s = t_s.fillna(out["actual_send_unix_s"]).fillna(out["completion_unix_s"])
    out["t_s"] = t_s
    out["ok_bool"] = out["ok"].fillna(False).astype(bool)
    out["cold_known"] = out["cold_start"].notna()
    out["cold_bool"] = out["cold_start"].fillna(False).astype(bool)
    return out
