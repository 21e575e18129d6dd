"""Request-rate shapes (open model) and the arrival schedule they imply.

A shape is a rate function `rate_rps(t_s)` over `[0, duration_s]`. The n-th arrival is the instant where the
integral of the rate reaches n - 1/2 (deterministic, evenly paced arrivals), so a ramp 0 -> 100 rps issues
exactly the requests its area holds, whatever the latency.

Shapes: constant, ramp (0 -> peak), steps (equal steps up to the peak), spike (a base rate with one burst at
the peak rate) and trace (a trace from traces/ compressed into the duration and scaled to the peak rate by
`traces.build_schedule`). `ShapeSpec` names one with its parameters; `build_shape(spec)` makes it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labkit.errors import ConfigError

RateFn = Callable[[np.ndarray], np.ndarray]
GRID_STEP_S = 0.01
# Checked before anything is allocated: the 0.01-s rate grid (8 bytes a point; 20 M points is 55.6 h) and
# the number of arrivals (bounded by peak rate x duration).
MAX_GRID_POINTS = 20_000_000
MAX_ARRIVALS = 50_000_000
SHAPE_NAMES = ("ramp", "constant", "steps", "spike", "trace")
DEFAULT_TRACE = Path(__file__).resolve().parent.parent / "traces" / "fifa98.csv"


@dataclass(frozen=True)
class Shape:
    name: str
    duration_s: float
    rate_fn: RateFn

    def arrival_offsets_s(self) -> np.ndarray:
        """Intended send offsets (seconds from the start), increasing."""
        grid_s = np.linspace(0.0, self.duration_s, _grid_points(self.duration_s))
        rates = np.clip(self.rate_fn(grid_s), 0.0, None)
        cumulative = np.concatenate(([0.0], np.cumsum((rates[1:] + rates[:-1]) / 2 * np.diff(grid_s))))
        _check_arrivals(float(cumulative[-1]), f"--duration-s {self.duration_s:g}")
        total = math.floor(cumulative[-1] + 1e-9)
        if total == 0:
            return np.empty(0)
        targets = np.arange(total, dtype=float) + 0.5  # mid-unit: the first send is not at t=0 exactly
        targets = targets[targets <= cumulative[-1]]
        return np.interp(targets, cumulative, grid_s)

    def target_rate_rps(self, t_s: float) -> float:
        return float(self.rate_fn(np.array([t_s], dtype=float))[0])

    @property
    def peak_rps(self) -> float:
        grid_s = np.linspace(0.0, self.duration_s, _grid_points(self.duration_s))
        return float(np.max(self.rate_fn(grid_s)))

    def metadata(self) -> dict[str, Any]:
        return {"shape": self.name, "duration_s": self.duration_s, "peak_rps": self.peak_rps}


@dataclass(frozen=True)
class TraceShape:
    """A trace-driven schedule, with the same surface as `Shape`."""

    name: str
    duration_s: float
    schedule: Any  # traces.Schedule (imported lazily: the traces package is only needed for this shape)

    def arrival_offsets_s(self) -> np.ndarray:
        return np.asarray(self.schedule.offsets_s, dtype=float)

    def target_rate_rps(self, t_s: float) -> float:
        return float(self.schedule.rate_at(t_s))

    @property
    def peak_rps(self) -> float:
        return float(self.schedule.peak_rps)

    def metadata(self) -> dict[str, Any]:
        return {"shape": self.name, "duration_s": self.duration_s, "peak_rps": self.peak_rps,
                "trace": self.schedule.metadata()}  # fmt: skip


AnyShape = Shape | TraceShape


def constant(rate_rps: float, duration_s: float) -> Shape:
    _check_positive(rate_rps=rate_rps, duration_s=duration_s)
    _check_budget(rate_rps, duration_s)
    return Shape("constant", duration_s, lambda t: np.full_like(t, rate_rps, dtype=float))


def ramp(peak_rps: float, duration_s: float, start_rps: float = 0.0) -> Shape:
    """Linear ramp from `start_rps` to `peak_rps` over `duration_s` (the published 0 -> 100 rps run)."""
    _check_positive(peak_rps=peak_rps, duration_s=duration_s)
    _check_budget(max(peak_rps, start_rps), duration_s)
    return Shape("ramp", duration_s, lambda t: start_rps + (peak_rps - start_rps) * t / duration_s)


def steps(peak_rps: float, duration_s: float, step_count: int = 5) -> Shape:
    """`step_count` equal-length plateaus at peak/n, 2 peak/n, ..., peak."""
    _check_positive(peak_rps=peak_rps, duration_s=duration_s, step_count=step_count)
    _check_budget(peak_rps, duration_s)
    if int(step_count) != step_count:
        raise ConfigError(f"shape steps: step_count must be a whole number, got {step_count}")
    width_s = duration_s / step_count

    def rate(t: np.ndarray) -> np.ndarray:
        level = np.minimum(np.floor(t / width_s), step_count - 1) + 1
        return peak_rps * level / step_count

    return Shape("steps", duration_s, rate)


def spike(peak_rps: float, duration_s: float, base_rps: float, spike_at_s: float, spike_s: float) -> Shape:
    """`base_rps` throughout, and `peak_rps` during [spike_at_s, spike_at_s + spike_s)."""
    _check_positive(peak_rps=peak_rps, duration_s=duration_s, spike_s=spike_s)
    _check_budget(peak_rps, duration_s)
    if not 0 <= base_rps <= peak_rps:
        raise ConfigError(f"shape spike: base_rps must be within 0..peak ({peak_rps}), got {base_rps}")
    if not 0 <= spike_at_s < duration_s:
        raise ConfigError(f"shape spike: spike_at_s must be within 0..duration ({duration_s}), got {spike_at_s}")
    end_s = spike_at_s + spike_s
    return Shape("spike", duration_s, lambda t: np.where((t >= spike_at_s) & (t < end_s), peak_rps, base_rps))


def trace(
    path: str | Path,
    peak_rps: float,
    duration_s: float,
    *,
    start: str | None = None,
    end: str | None = None,
    process: str = "uniform",
    seed: int = 1998,
) -> TraceShape:
    """The trace window [start, end) compressed to last `duration_s` and scaled so its busiest bin is at
    `peak_rps`. `process` "poisson" draws seeded arrivals (the same seed gives the same schedule everywhere)."""
    from traces import MAX_ARRIVALS as TRACE_MAX_ARRIVALS
    from traces import build_schedule, load_trace

    _check_positive(peak_rps=peak_rps, duration_s=duration_s)
    what = f"--peak-rps {peak_rps:g} over --duration-s {duration_s:g}"
    _check_arrivals(peak_rps * duration_s, what, TRACE_MAX_ARRIVALS)  # the busiest bin is at the peak
    series = load_trace(path)
    probe = build_schedule(series, start=start or None, end=end or None, scale=0.0)  # window length only
    speedup = probe.duration_s / duration_s
    schedule = build_schedule(series, start=start or None, end=end or None, speedup=speedup, peak_rps=peak_rps,
                              process=process, seed=seed)  # fmt: skip
    return TraceShape("trace", float(schedule.duration_s), schedule)


@dataclass(frozen=True)
class ShapeSpec:
    """A shape by name with every parameter any shape takes (unused ones are ignored)."""

    name: str = "ramp"
    rate_rps: float = 100.0  # constant: the rate; ramp, steps, spike, trace: the peak
    duration_s: float = 60.0
    step_count: int = 5
    base_rps: float | None = None  # spike: default a tenth of the peak
    spike_at_s: float | None = None  # spike: default half-way
    spike_s: float | None = None  # spike: default a tenth of the duration
    trace_path: str = ""  # trace: default traces/fifa98.csv
    trace_start: str = ""
    trace_end: str = ""
    trace_process: str = "uniform"
    seed: int = 1998

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def build_shape(spec: ShapeSpec) -> AnyShape:
    """The shape `spec` names (ConfigError naming the bad parameter otherwise)."""
    rate, duration = spec.rate_rps, spec.duration_s
    if spec.name == "constant":
        return constant(rate, duration)
    if spec.name == "ramp":
        return ramp(rate, duration)
    if spec.name == "steps":
        return steps(rate, duration, spec.step_count)
    if spec.name == "spike":
        base = rate / 10 if spec.base_rps is None else spec.base_rps
        at_s = duration / 2 if spec.spike_at_s is None else spec.spike_at_s
        length_s = duration / 10 if spec.spike_s is None else spec.spike_s
        return spike(rate, duration, base, at_s, length_s)
    if spec.name == "trace":
        return trace(spec.trace_path or DEFAULT_TRACE, rate, duration, start=spec.trace_start or None,
                     end=spec.trace_end or None, process=spec.trace_process, seed=spec.seed)  # fmt: skip
    raise ConfigError(f"unknown shape {spec.name!r}; expected one of {', '.join(SHAPE_NAMES)}")


def make_shape(name: str, rate_rps: float, duration_s: float) -> AnyShape:
    """A shape by name with default parameters (`constant` at rate_rps, the others peaking at rate_rps)."""
    return build_shape(ShapeSpec(name=name, rate_rps=rate_rps, duration_s=duration_s))


def partition(offsets_s: np.ndarray, index: int, count: int) -> np.ndarray:
    """The arrivals load-generator process `index` of `count` sends: every count-th one, starting at index.
    Over all indexes every arrival is taken exactly once (deterministic, no coordination needed)."""
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"process index {index} is not within 0..{count - 1}")
    return offsets_s[index::count]


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ConfigError(f"shape: {name} must be > 0, got {value}")


def _grid_points(duration_s: float) -> int:
    """Points of the 0.01-s rate grid over `duration_s`; ConfigError (before allocating) above MAX_GRID_POINTS."""
    points = duration_s / GRID_STEP_S + 1
    if not points <= MAX_GRID_POINTS:  # also NaN and inf
        raise ConfigError(
            f"shape: --duration-s {duration_s:g} is too long for one schedule (at most "
            f"{(MAX_GRID_POINTS - 1) * GRID_STEP_S:,.0f} s, a {GRID_STEP_S:g}-s rate grid of {MAX_GRID_POINTS:,} "
            "points); shorten --duration-s"
        )
    return max(2, math.ceil(duration_s / GRID_STEP_S) + 1)


def _check_arrivals(count: float, what: str, limit: int = MAX_ARRIVALS) -> None:
    if not count <= limit:  # also NaN and inf
        raise ConfigError(
            f"shape: {what} would schedule up to {count:.4g} requests, more than {limit:,} in one run; "
            "lower --duration-s or --peak-rps"
        )


def _check_budget(peak_rps: float, duration_s: float) -> None:
    """Refuse, before any array is made, a shape whose rate grid or arrival count would be absurd."""
    _grid_points(duration_s)
    _check_arrivals(peak_rps * duration_s, f"--peak-rps {peak_rps:g} over --duration-s {duration_s:g}")
