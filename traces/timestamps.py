"""Plain arrival-time files: one time in seconds per line (Unix or relative), optionally with a header.

Blank lines and '#' comments are skipped, the file may be gzipped, and a single non-numeric first line
(e.g. ``timestamp`` or ``arrival_s``) is taken as a header. Times must be sorted (equal times are
allowed: several arrivals in the same instant); pass ``sort=True`` to sort an unsorted file instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labkit.errors import InputError
from traces.fileio import data_lines
from traces.series import EARLIEST_UNIX_S, LATEST_UNIX_S, Timestamps, describe, time_range_problem


def load_timestamps(path: str | Path, *, sort: bool = False) -> Timestamps:
    """Read an arrival-time file into `Timestamps` (float64 seconds)."""
    lines = data_lines(path)
    if lines and not _is_float(lines[0][1]):
        if "," in lines[0][1]:
            raise InputError(f"{path}:{lines[0][0]}: expected one time per line, found {lines[0][1]!r}")
        lines = lines[1:]  # a one-word header
    if not lines:
        raise InputError(f"{path}: empty file (expected one arrival time in seconds per line)")
    texts = [text for _, text in lines]
    try:
        times = np.array(texts, dtype=np.float64)
    except ValueError:
        line, text = next((n, t) for n, t in lines if not _is_float(t))
        raise InputError(f"{path}:{line}: {text!r} is not a time in seconds") from None
    bad = np.flatnonzero(~np.isfinite(times) | (times > LATEST_UNIX_S) | (times < EARLIEST_UNIX_S))
    if bad.size:
        i = int(bad[0])
        problem = time_range_problem(float(times[i]))
        raise InputError(f"{path}:{lines[i][0]}: time {texts[i][:40]!r} {problem}")
    drops = np.flatnonzero(np.diff(times) < 0)
    if drops.size and not sort:
        i = int(drops[0]) + 1
        raise InputError(
            f"{path}:{lines[i][0]}: time {texts[i]} is earlier than the previous one "
            f"({texts[i - 1]}, line {lines[i - 1][0]}); arrival times must be sorted (or pass sort=True)"
        )
    if drops.size:
        times = np.sort(times, kind="stable")
    return Timestamps(times, describe(path, "arrival times"))


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
