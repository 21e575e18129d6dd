"""Arrival schedules: when each request of a replay (or a Locust trace shape) is meant to be sent.

`build_schedule` turns a `CountSeries` (or `Timestamps`) into a `Schedule` in four steps:

1. window: keep bins whose start lies in [start, end) (ISO strings, GMT unless an offset is given;
   clipped to the data, snapped to its bin grid);
2. time compression: ``speedup`` divides every time (144 plays a day in 10 minutes);
3. rate scaling: at most one of ``scale`` (a plain factor), ``peak_rps`` (the busiest bin's rate after
   compression) or ``mean_rps`` (the window's mean rate after compression);
4. arrivals inside each bin: ``uniform`` (evenly spaced; per-bin counts are rounded cumulatively so the
   total is round(scale x source total) and the cumulative curve never drifts by more than one
   arrival) or ``poisson`` (a seeded inhomogeneous Poisson process, piecewise constant per bin).
   ``exact`` keeps the times of a `Timestamps` trace (compressed only, no scaling).

A schedule larger than ``max_count`` arrivals (10 M by default) is refused with a `ConfigError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from labkit.errors import ConfigError
from traces.series import CountSeries, Timestamps, iso_utc, to_unix_s

PROCESSES = ("uniform", "poisson", "exact")
MAX_ARRIVALS = 10_000_000


class WindowError(ConfigError):
    """The window's start or end is not a time, or the window holds no data (a caller may name its option)."""


@dataclass(frozen=True)
class OptionNames:
    """How a caller's users spell `build_schedule`'s parameters, for its error messages (a CLI passes its
    flags, e.g. max_count="--max-uploads"; the default is the Python keyword names)."""

    speedup: str = "speedup"
    scale: str = "scale"
    peak_rps: str = "peak_rps"
    mean_rps: str = "mean_rps"
    max_count: str = "max_count"
    window: str = "start/end"

    def show(self, name: str, value: float) -> str:
        """'max_count=1,000' or '--max-uploads 1000' (how a user would write it)."""
        spelled = getattr(self, name)
        if spelled.startswith("-"):
            return f"{spelled} {value:g}"
        return f"{spelled}={value:,}" if isinstance(value, int) else f"{spelled}={value!r}"


PYTHON_NAMES = OptionNames()


@dataclass(frozen=True)
class Schedule:
    """Sorted intended send offsets (s from the schedule start) plus the target rate curve behind them."""

    offsets_s: np.ndarray
    bin_offsets_s: np.ndarray  # start of each source bin, compressed, from the schedule start
    bin_rate_rps: np.ndarray  # target rate in each bin after compression and scaling
    bin_width_s: float  # source bin width / speedup
    duration_s: float
    source: str
    window_start_unix_s: float
    window_end_unix_s: float
    speedup: float
    scale: float
    process: str
    seed: int | None

    def __len__(self) -> int:
        return int(self.offsets_s.size)

    def rate_at(self, t_s: float | np.ndarray) -> float | np.ndarray:
        """Target rate (requests/s) at schedule time `t_s`; 0 before the start, after the end and in gaps."""
        t = np.asarray(t_s, dtype=np.float64)
        if not self.bin_rate_rps.size:
            rate = np.zeros_like(t)
        else:
            i = np.clip(np.searchsorted(self.bin_offsets_s, t, side="right") - 1, 0, None)
            inside = (t >= self.bin_offsets_s[i]) & (t < self.bin_offsets_s[i] + self.bin_width_s)
            rate = np.where(inside, self.bin_rate_rps[i], 0.0)
        return float(rate) if rate.ndim == 0 else rate

    def count_before(self, t_s: float) -> int:
        """How many arrivals are scheduled strictly before schedule time `t_s`."""
        return int(np.searchsorted(self.offsets_s, t_s, side="left"))

    @property
    def peak_rps(self) -> float:
        return float(self.bin_rate_rps.max()) if self.bin_rate_rps.size else 0.0

    @property
    def mean_rps(self) -> float:
        return len(self) / self.duration_s if self.duration_s else 0.0

    def metadata(self) -> dict[str, Any]:
        """Plain-JSON description for run manifests."""
        return {
            "source": self.source,
            "window_start_utc": iso_utc(self.window_start_unix_s),
            "window_end_utc": iso_utc(self.window_end_unix_s),
            "speedup": self.speedup,
            "scale": self.scale,
            "process": self.process,
            "seed": self.seed,
            "arrivals": len(self),
            "duration_s": self.duration_s,
            "bin_width_s": self.bin_width_s,
            "peak_rps": self.peak_rps,
            "mean_rps": self.mean_rps,
        }


def build_schedule(
    trace: CountSeries | Timestamps,
    *,
    start: str | float | None = None,
    end: str | float | None = None,
    speedup: float = 1.0,
    scale: float | None = None,
    peak_rps: float | None = None,
    mean_rps: float | None = None,
    process: str = "uniform",
    seed: int | None = None,
    max_count: int = MAX_ARRIVALS,
    names: OptionNames = PYTHON_NAMES,
) -> Schedule:
    """Window, compress, scale and spread a trace into a `Schedule` (see the module docstring); `names`
    spell the parameters in error messages."""
    _check_positive(names.speedup, speedup)
    if process not in PROCESSES:
        raise ConfigError(f"unknown arrival process {process!r}; expected one of {', '.join(PROCESSES)}")
    if isinstance(trace, Timestamps):
        if process == "exact":
            return _exact_schedule(trace, start, end, speedup, (scale, peak_rps, mean_rps), max_count, names)
        trace = trace.to_counts(bin_s=1)
    elif process == "exact":
        raise ConfigError("process 'exact' needs a Timestamps trace; count series take 'uniform' or 'poisson'")
    window, lo_s, hi_s = _window(trace, start, end)
    width_s = trace.bin_s / speedup
    duration_s = (hi_s - lo_s) / speedup
    _check_compression(width_s, duration_s, speedup, names)
    factor = _scale_factor(window, width_s, duration_s, (scale, peak_rps, mean_rps), names)
    with np.errstate(over="ignore"):  # an overflow gives inf, which _check_size refuses
        expected = window.counts * factor
    _check_size(float(expected.sum()), max_count, names, rates=(scale, peak_rps, mean_rps))
    if process == "poisson" and seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    rng = np.random.default_rng(seed)
    per_bin = _poisson_counts(expected, rng) if process == "poisson" else _rounded_counts(expected)
    _check_size(float(per_bin.sum()), max_count, names, rates=(scale, peak_rps, mean_rps))
    bin_offsets_s = (window.start_unix_s - lo_s) / speedup
    offsets = _place(bin_offsets_s, per_bin, width_s, process, rng)
    return Schedule(
        offsets_s=offsets,
        bin_offsets_s=bin_offsets_s,
        bin_rate_rps=expected / width_s,
        bin_width_s=width_s,
        duration_s=duration_s,
        source=window.source,
        window_start_unix_s=float(lo_s),
        window_end_unix_s=float(hi_s),
        speedup=float(speedup),
        scale=factor,
        process=process,
        seed=seed,
    )


def _window(series: CountSeries, start: str | float | None, end: str | float | None) -> tuple[CountSeries, int, int]:
    """(bins in the window, window start, window end) with the bounds clipped and snapped to the grid."""
    if not len(series):
        raise ConfigError(f"trace {series.source!r} has no bins")
    first_s = int(series.start_unix_s[0])
    last_end_s = int(series.start_unix_s[-1]) + series.bin_s
    lo_s = first_s if start is None else max(first_s, _snap(_window_bound(start), first_s, series.bin_s))
    hi_s = last_end_s if end is None else min(last_end_s, _snap(_window_bound(end), first_s, series.bin_s))
    if hi_s <= lo_s:
        raise WindowError(
            f"window [{start}, {end}) holds no data of {series.source} "
            f"(it covers {iso_utc(first_s)} to {iso_utc(last_end_s)})"
        )
    return series.window(lo_s, hi_s), lo_s, hi_s


def _window_bound(value: str | float) -> float:
    try:
        return to_unix_s(value)
    except ConfigError as exc:
        raise WindowError(str(exc)) from None


def _snap(t_s: float, grid_origin_s: int, bin_s: int) -> int:
    """Round a time up to the next bin boundary of the series' grid."""
    return grid_origin_s + bin_s * math.ceil((t_s - grid_origin_s) / bin_s)


def _scale_factor(
    window: CountSeries,
    width_s: float,
    duration_s: float,
    rates: tuple[float | None, float | None, float | None],
    names: OptionNames,
) -> float:
    """The factor on every bin's count: `scale` itself, or the one that brings the peak or mean rate to
    `peak_rps` or `mean_rps` (`rates` is (scale, peak_rps, mean_rps), at most one given)."""
    given = {k: v for k, v in zip(("scale", "peak_rps", "mean_rps"), rates, strict=True) if v is not None}
    if len(given) > 1:
        raise ConfigError(f"give at most one of {', '.join(getattr(names, k) for k in given)}")
    if not given:
        return 1.0
    [(name, value)] = given.items()
    _check_positive(getattr(names, name), value, allow_zero=name == "scale")
    if name == "scale":
        return float(value)
    if window.total == 0:
        raise ConfigError(f"cannot scale to {names.show(name, value)}: the window has no requests")
    base_rps = window.counts.max() / width_s if name == "peak_rps" else window.total / duration_s
    factor = float(value) / float(base_rps)
    if not math.isfinite(factor):
        raise ConfigError(f"{names.show(name, value)} is out of range: it needs an infinite scale factor")
    return factor


def _check_compression(width_s: float, duration_s: float, speedup: float, names: OptionNames) -> None:
    """The compressed bins must have a finite, non-zero width (an absurd speedup makes them 0 or inf)."""
    if not (math.isfinite(width_s) and width_s > 0 and math.isfinite(duration_s)):
        raise ConfigError(
            f"{names.show('speedup', speedup)} squeezes or stretches the trace out of range "
            f"(its bins would last {width_s:g} s); give a speedup nearer 1"
        )


def _rounded_counts(expected: np.ndarray) -> np.ndarray:
    """Integer counts whose running sum is the rounded running sum of `expected` (no drift)."""
    cumulative = np.floor(np.cumsum(expected, dtype=np.float64) + 0.5).astype(np.int64)
    return np.diff(cumulative, prepend=0)


def _poisson_counts(expected: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.poisson(expected).astype(np.int64)


def _place(
    bin_offsets_s: np.ndarray, per_bin: np.ndarray, width_s: float, process: str, rng: np.random.Generator
) -> np.ndarray:
    """Send offsets: `per_bin[i]` arrivals inside [bin_offsets_s[i], + width_s), evenly or at random."""
    starts = np.repeat(bin_offsets_s, per_bin)
    if process == "poisson":
        return np.sort(starts + rng.random(starts.size) * width_s)
    n = np.repeat(per_bin, per_bin)
    first_index = np.repeat(np.cumsum(per_bin) - per_bin, per_bin)
    k = np.arange(starts.size, dtype=np.int64) - first_index
    return starts + (k + 0.5) / n * width_s


def _exact_schedule(
    trace: Timestamps,
    start: str | float | None,
    end: str | float | None,
    speedup: float,
    scaling: tuple[float | None, ...],
    max_count: int,
    names: OptionNames,
) -> Schedule:
    if any(v is not None for v in scaling):
        raise ConfigError("process 'exact' cannot rescale; use 'uniform' or 'poisson' to scale an arrival trace")
    if not len(trace):
        raise ConfigError(f"trace {trace.source!r} has no arrivals")
    times = trace.times_s
    lo_s = float(times[0]) if start is None else _window_bound(start)
    hi_s = float(times[-1]) + 1.0 if end is None else _window_bound(end)
    kept = times[(times >= lo_s) & (times < hi_s)]
    if hi_s <= lo_s or not kept.size:
        raise WindowError(f"window [{start}, {end}) holds no arrivals of {trace.source}")
    _check_size(float(kept.size), max_count, names, rates=())
    curve = Timestamps(kept).to_counts(bin_s=1)  # the rate curve: arrivals per whole second
    width_s = 1.0 / speedup
    _check_compression(width_s, (hi_s - lo_s) / speedup, speedup, names)
    return Schedule(
        offsets_s=(kept - lo_s) / speedup,
        bin_offsets_s=(curve.start_unix_s - lo_s) / speedup,
        bin_rate_rps=curve.counts / width_s,
        bin_width_s=width_s,
        duration_s=(hi_s - lo_s) / speedup,
        source=trace.source,
        window_start_unix_s=lo_s,
        window_end_unix_s=hi_s,
        speedup=float(speedup),
        scale=1.0,
        process="exact",
        seed=None,
    )


def _check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, int | float) and math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ConfigError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, got {value!r}")


def _check_size(expected_count: float, max_count: int, names: OptionNames, rates: tuple[float | None, ...]) -> None:
    """Refuse a schedule above `max_count` arrivals (an infinite or NaN count is above it too)."""
    if expected_count <= max_count:
        return
    count = f"{expected_count:,.0f}" if expected_count < 1e15 else f"{expected_count:.3g}"
    given = [k for k, v in zip(("scale", "peak_rps", "mean_rps"), rates, strict=False) if v is not None]
    hints = [f"narrow the window ({names.window})"]
    hints += [f"lower {getattr(names, k)}" for k in given]
    hints += [f"raise {names.speedup}" for k in given if k != "scale"]  # a fixed rate over a shorter time
    raise ConfigError(
        f"schedule would hold {count} arrivals, more than {names.show('max_count', max_count)}; "
        f"{', '.join(hints)}, or raise {names.max_count}"
    )
