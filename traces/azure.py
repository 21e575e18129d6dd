"""The Azure Functions 2019 public trace's invocation counts (``invocations_per_function_md.anon.dNN.csv``).

Layout: ``HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440`` -- one row per function, one column
per minute of the day. Functions are picked by hash (full or prefix), by trigger ('http', 'timer',
'queue', 'event', 'storage', 'orchestration', 'others'), or the busiest `top` of them, and the picked
rows are summed into one per-minute `CountSeries`.

The trace is anonymised and carries no calendar date: minute 1 of day NN (from the file name, else
`day`) starts at ``origin + (NN - 1) * 86400`` Unix seconds, `origin` defaulting to 0 (1970-01-01).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labkit.errors import ConfigError, InputError
from traces.fileio import data_lines, split_fields
from traces.series import MAX_BIN_COUNT, CountSeries, describe, time_range_problem, to_unix_s

KEY_COLUMNS = ("HashOwner", "HashApp", "HashFunction", "Trigger")
MINUTES_PER_DAY = 1440
HEADER = (*KEY_COLUMNS, *(str(m) for m in range(1, MINUTES_PER_DAY + 1)))


@dataclass(frozen=True)
class AzureFunctionRow:
    """One function's row: its keys and its 1,440 per-minute invocation counts."""

    owner: str
    app: str
    function: str
    trigger: str
    counts: np.ndarray
    line: int


def read_azure_rows(path: str | Path) -> list[AzureFunctionRow]:
    """Every function row of an invocation-count file, validated (columns, non-negative integers)."""
    lines = data_lines(path)
    if not lines:
        raise InputError(f"{path}: empty file (expected the header {','.join(HEADER[:6])},...,1440)")
    line, text = lines[0]
    header = tuple(f.strip() for f in text.split(","))
    if header != HEADER:
        raise InputError(
            f"{path}:{line}: not an Azure Functions invocation-count header; expected "
            f"{','.join(HEADER[:6])},...,1440 ({len(HEADER)} columns), found {len(header)} columns "
            f"starting {','.join(header[:5])!r}"
        )
    rows = [_parse_row(path, n, t) for n, t in lines[1:]]
    if not rows:
        raise InputError(f"{path}: no function rows after the header (line {line})")
    return rows


def _parse_row(path: str | Path, line: int, text: str) -> AzureFunctionRow:
    fields = split_fields(path, line, text, len(HEADER), "HashOwner,HashApp,HashFunction,Trigger,1..1440")
    try:
        counts = np.array(fields[4:], dtype=np.int64)
    except (ValueError, OverflowError):
        column = next((i for i, f in enumerate(fields[4:], start=1) if not _is_bin_count(f)), 1)
        text = fields[3 + column]
        raise InputError(
            f"{path}:{line}: minute {column}: {text[:40]!r} is not an integer from 0 to {MAX_BIN_COUNT:,}"
        ) from None
    if counts.min() < 0 or counts.max() > MAX_BIN_COUNT:
        column = int(np.argmax((counts < 0) | (counts > MAX_BIN_COUNT))) + 1
        raise InputError(
            f"{path}:{line}: minute {column}: count {counts[column - 1]} is not within 0..{MAX_BIN_COUNT:,}"
        )
    return AzureFunctionRow(*fields[:4], counts=counts, line=line)


def select_rows(
    rows: Sequence[AzureFunctionRow],
    *,
    functions: Sequence[str] | None = None,
    trigger: str | None = None,
    top: int | None = None,
) -> list[AzureFunctionRow]:
    """Rows whose HashFunction equals or starts with one of `functions`, of `trigger`, busiest `top` first."""
    picked = list(rows)
    if functions is not None:
        wanted = tuple(functions)
        picked = [r for r in picked if r.function.startswith(wanted)]
    if trigger is not None:
        picked = [r for r in picked if r.trigger.lower() == trigger.lower()]
    if top is not None:
        if top < 1:
            raise ConfigError(f"top must be >= 1, got {top}")
        picked = sorted(picked, key=lambda r: int(r.counts.sum()), reverse=True)[:top]
    if not picked:
        triggers = sorted({r.trigger for r in rows})
        raise ConfigError(
            f"no Azure function matches functions={functions!r} trigger={trigger!r} (triggers present: {triggers})"
        )
    return picked


def load_azure_counts(
    path: str | Path,
    *,
    functions: Sequence[str] | None = None,
    trigger: str | None = None,
    top: int | None = None,
    day: int | None = None,
    origin: str | float = 0,
) -> CountSeries:
    """Sum the picked functions' per-minute invocations into one 1,440-bin `CountSeries`."""
    picked = select_rows(read_azure_rows(path), functions=functions, trigger=trigger, top=top)
    day = day if day is not None else _day_from_name(path)
    if day < 1:
        raise ConfigError(f"day must be >= 1, got {day}")
    start_s = to_unix_s(origin) + (day - 1) * 86_400.0
    problem = time_range_problem(start_s) or time_range_problem(start_s + 86_400)
    if problem:
        raise ConfigError(f"origin={origin!r} and day={day}: the trace's day {problem}")
    start_s = int(start_s)
    starts = start_s + 60 * np.arange(MINUTES_PER_DAY, dtype=np.int64)
    total = np.sum([r.counts for r in picked], axis=0, dtype=np.int64)
    what = f"Azure Functions day {day}, {len(picked)} function(s)"
    if trigger:
        what += f", trigger={trigger}"
    return CountSeries(starts, total, 60, describe(path, what))


def _is_bin_count(text: str) -> bool:
    return re.fullmatch(r"[+-]?\d{1,13}", text) is not None and abs(int(text)) <= MAX_BIN_COUNT


def _day_from_name(path: str | Path) -> int:
    match = re.search(r"\.d(\d+)\.csv", Path(path).name)
    return int(match.group(1)) if match else 1


def looks_like_azure(first_line: str) -> bool:
    """True if a header line is the invocation-count layout's."""
    return first_line.replace(" ", "").startswith(",".join(KEY_COLUMNS) + ",1,")
