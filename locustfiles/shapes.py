"""Request-rate shapes (open model) and the arrival schedule they imply.

A shape is a rate function `rate_rps(t_s)` over `[0, duration_s]`. The n-th arrival is the instant where the
integral of the rate reaches n (deterministic, evenly paced arrivals), so a ramp 0 -> 100 rps issues
exactly the requests its area holds, whatever the latency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from labkit.errors import ConfigError

RateFn = Callable[[np.ndarray], np.ndarray]
GRID_STEP_S = 0.01


@dataclass(frozen=True)
class Shape:
    name: str
    duration_s: float
    rate_fn: RateFn

    def arrival_offsets_s(self) -> np.ndarray:
        """Intended send offsets (seconds from the start), increasing."""
        steps = max(2, int(np.ceil(self.duration_s / GRID_STEP_S)) + 1)
        grid_s = np.linspace(0.0, self.duration_s, steps)
        rates = np.clip(self.rate_fn(grid_s), 0.0, None)
        cumulative = np.concatenate(([0.0], np.cumsum((rates[1:] + rates[:-1]) / 2 * np.diff(grid_s))))
        total = int(np.floor(cumulative[-1] + 1e-9))
        if total == 0:
            return np.empty(0)
        targets = np.arange(total, dtype=float) + 0.5  # mid-unit: the first send is not at t=0 exactly
        targets = targets[targets <= cumulative[-1]]
        return np.interp(targets, cumulative, grid_s)

    def target_rate_rps(self, t_s: float) -> float:
        return float(self.rate_fn(np.array([t_s]))[0])


def constant(rate_rps: float, duration_s: float) -> Shape:
    _check_positive(rate_rps=rate_rps, duration_s=duration_s)
    return Shape("constant", duration_s, lambda t: np.full_like(t, rate_rps, dtype=float))


def ramp(peak_rps: float, duration_s: float, start_rps: float = 0.0) -> Shape:
    """Linear ramp from `start_rps` to `peak_rps` over `duration_s` (the published 0 -> 100 rps run)."""
    _check_positive(peak_rps=peak_rps, duration_s=duration_s)
    return Shape("ramp", duration_s, lambda t: start_rps + (peak_rps - start_rps) * t / duration_s)


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ConfigError(f"shape: {name} must be > 0, got {value}")


def make_shape(name: str, rate_rps: float, duration_s: float) -> Shape:
    """A shape by name: `constant` (at rate_rps) or `ramp` (0 -> rate_rps)."""
    builders = {"constant": constant, "ramp": ramp}
    if name not in builders:
        raise ConfigError(f"unknown shape {name!r}; expected one of {', '.join(builders)}")
    return builders[name](rate_rps, duration_s)
