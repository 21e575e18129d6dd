"""The two shapes every loader returns: `CountSeries` (requests per bin) and `Timestamps` (one per arrival).

Times are Unix epoch seconds, GMT/UTC. A `CountSeries` may have gaps (bins absent from the source file,
e.g. minutes in which nobody made a request); a gap is a bin with count 0, and `dense()` fills them in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from labkit.errors import ConfigError

BIN_SIZES_S = (1, 60)
# What a trace may hold: times within years 0001..9999 (so every bin start and end has a date), at most
# 10^12 requests in one bin, and totals that stay exact in int64.
EARLIEST_UNIX_S = int(datetime(1, 1, 2, tzinfo=UTC).timestamp())
LATEST_UNIX_S = int(datetime(9999, 12, 30, tzinfo=UTC).timestamp())
MAX_BIN_COUNT = 10**12
MAX_TOTAL_COUNT = 2**62


def time_range_problem(t_s: float) -> str:
    """Why `t_s` cannot be a trace time ('' when it can)."""
    if not math.isfinite(t_s):
        return "is not finite"
    if t_s > LATEST_UNIX_S:
        return f"is after {iso_utc(LATEST_UNIX_S)}, the latest time a trace may hold"
    if t_s < EARLIEST_UNIX_S:
        return f"is before {iso_utc(EARLIEST_UNIX_S)}, the earliest time a trace may hold"
    return ""


@dataclass(frozen=True)
class CountSeries:
    """Request counts per time bin.

    `start_unix_s[i]` is the start of bin i (int64 Unix seconds), `counts[i]` the requests in
    [start, start + bin_s). Starts are strictly increasing, spaced by multiples of `bin_s`.
    """

    start_unix_s: np.ndarray
    counts: np.ndarray
    bin_s: int
    source: str = ""

    def __post_init__(self) -> None:
        starts = np.asarray(self.start_unix_s, dtype=np.int64)
        counts = np.asarray(self.counts, dtype=np.int64)
        object.__setattr__(self, "start_unix_s", starts)
        object.__setattr__(self, "counts", counts)
        if self.bin_s not in BIN_SIZES_S:
            raise ConfigError(f"CountSeries bin_s must be one of {BIN_SIZES_S}, got {self.bin_s!r}")
        if starts.ndim != 1 or starts.shape != counts.shape:
            raise ConfigError(f"CountSeries: {starts.shape} starts vs {counts.shape} counts (need equal 1-D)")
        if counts.size and counts.min() < 0:
            raise ConfigError("CountSeries: counts must be >= 0")
        if counts.size and float(counts.sum(dtype=np.float64)) > MAX_TOTAL_COUNT:
            raise ConfigError(f"{self.source or 'CountSeries'}: the counts add up to more than {MAX_TOTAL_COUNT:.3g}")
        steps = np.diff(starts)
        if steps.size and (steps.min() <= 0 or np.any(steps % self.bin_s)):
            raise ConfigError(f"CountSeries: starts must increase by multiples of bin_s={self.bin_s}")

    def __len__(self) -> int:
        return int(self.counts.size)

    @property
    def total(self) -> int:
        """Total requests over the series."""
        return int(self.counts.sum())

    @property
    def span_s(self) -> int:
        """Seconds from the first bin start to the last bin end (0 for an empty series)."""
        if not len(self):
            return 0
        return int(self.start_unix_s[-1] - self.start_unix_s[0] + self.bin_s)

    def dense(self) -> CountSeries:
        """The same series on a gap-free grid (missing bins become 0)."""
        if not len(self):
            return self
        index = (self.start_unix_s - self.start_unix_s[0]) // self.bin_s
        counts = np.zeros(int(index[-1]) + 1, dtype=np.int64)
        counts[index] = self.counts
        starts = self.start_unix_s[0] + self.bin_s * np.arange(counts.size, dtype=np.int64)
        return CountSeries(starts, counts, self.bin_s, self.source)

    def window(self, start: str | float | None = None, end: str | float | None = None) -> CountSeries:
        """Bins whose start lies in [start, end) (ISO strings are GMT unless they carry an offset)."""
        lo = -np.inf if start is None else to_unix_s(start)
        hi = np.inf if end is None else to_unix_s(end)
        if hi <= lo:
            raise ConfigError(f"window end {end!r} is not after start {start!r}")
        keep = (self.start_unix_s >= lo) & (self.start_unix_s < hi)
        return CountSeries(self.start_unix_s[keep], self.counts[keep], self.bin_s, self.source)

    def rebin(self, bin_s: int) -> CountSeries:
        """Sum into coarser bins (1 s -> 60 s); bins are aligned to multiples of `bin_s` since the epoch."""
        if bin_s == self.bin_s:
            return self
        if bin_s % self.bin_s:
            raise ConfigError(f"cannot rebin {self.bin_s}-s bins into {bin_s}-s bins")
        return counts_from_times(self.start_unix_s, bin_s, self.source, weights=self.counts)


@dataclass(frozen=True)
class Timestamps:
    """Arrival times (float64 seconds, sorted), Unix or relative to the trace's own origin."""

    times_s: np.ndarray
    source: str = ""
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        times = np.asarray(self.times_s, dtype=np.float64)
        object.__setattr__(self, "times_s", times)
        if times.ndim != 1:
            raise ConfigError("Timestamps.times_s must be 1-D")
        if times.size > 1 and np.any(np.diff(times) < 0):
            raise ConfigError("Timestamps.times_s must be sorted")

    def __len__(self) -> int:
        return int(self.times_s.size)

    def to_counts(self, bin_s: int = 1) -> CountSeries:
        """Arrivals per bin (bins aligned to multiples of `bin_s`; empty bins are gaps)."""
        return counts_from_times(np.floor(self.times_s).astype(np.int64), bin_s, self.source)


def counts_from_times(
    times_s: np.ndarray, bin_s: int, source: str = "", weights: np.ndarray | None = None
) -> CountSeries:
    """Aggregate integer-second times (any order) into a gap-allowed `CountSeries` of `bin_s` bins."""
    times = np.asarray(times_s, dtype=np.int64)
    bins = times // bin_s
    uniq, inverse = np.unique(bins, return_inverse=True)
    if weights is None:
        counts = np.bincount(inverse, minlength=uniq.size).astype(np.int64)
    else:
        counts = np.zeros(uniq.size, dtype=np.int64)
        np.add.at(counts, inverse, np.asarray(weights, dtype=np.int64))
    return CountSeries(uniq * bin_s, counts, bin_s, source)


def _as_number(value: str | float | int) -> float | None:
    try:
        return float(value)
    except (ValueError, OverflowError):  # OverflowError: an int too large for a float
        return None


def to_unix_s(value: str | float | int) -> float:
    """ISO date/time (naive = GMT) or a number of Unix seconds -> Unix seconds."""
    number = _as_number(value)
    if number is not None or not isinstance(value, str):
        if number is None or not math.isfinite(number):
            raise ConfigError(f"not a finite time: {value!r} (give an ISO date/time or Unix seconds)")
        return number
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ConfigError(f"not an ISO date/time or Unix seconds: {value!r} (e.g. '1998-06-30T16:00')") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def iso_utc(unix_s: float) -> str:
    """Unix seconds -> 'YYYY-MM-DDTHH:MM:SSZ' (for messages too: a time with no date is shown in seconds)."""
    try:
        moment = datetime.fromtimestamp(float(unix_s), UTC).replace(tzinfo=None, microsecond=0)
        return moment.isoformat() + "Z"  # isoformat: year 1 is 0001 (strftime's %Y gives 1)
    except (ValueError, OverflowError, OSError):
        return f"{float(unix_s):.6g} s since 1970-01-01 (no calendar date)"


def describe(path: str | Path, what: str) -> str:
    """A source description: file name plus what was taken from it."""
    return f"{Path(path).name} ({what})"
