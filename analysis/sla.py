"""SLA specs (config/sla.yaml) and verdicts: overall per group, per window, with a confidence statement.

A bound holds when the observed figure is within it (the "point" verdict, which is what the gate uses).
The confidence statement says whether the sample is large enough to *conclude* it, in the spirit of
MLPerf's early stopping: a bound "pK <= B ms" says the chance of a request exceeding B is at most
p0 = 1 - K/100. With k of n requests over B, the pass is conclusive at confidence c when
P(Binomial(n, p0) <= k) <= 1 - c (so few exceedances would be unlikely if the bound were just met),
the breach is conclusive when P(Binomial(n, p0) >= k) <= 1 - c, else the verdict is inconclusive.
Error-rate and cold-start-rate bounds are the same test with p0 = the bound. `min_samples` is the
smallest n that can conclude a pass at all (zero exceedances): ceil(ln(1 - c) / ln(1 - p0)).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import binomial
from analysis.latency import percentile_key, sorted_percentiles
from labkit.config import DEFAULT_CONFIG_DIR, read_yaml
from labkit.errors import ConfigError

DEFAULT_SLA = DEFAULT_CONFIG_DIR / "sla.yaml"
PERCENTILE_BOUNDS = {"p50_ms": 50.0, "p90_ms": 90.0, "p95_ms": 95.0, "p99_ms": 99.0, "p99_9_ms": 99.9}
RATE_BOUNDS = ("error_rate", "cold_start_rate")
BOUND_KEYS = (*PERCENTILE_BOUNDS, "max_ms", *RATE_BOUNDS)
LATENCY_FROM = ("intended", "actual")


@dataclass(frozen=True)
class SlaSpec:
    bounds_default: dict[str, float]
    bounds_by_key: dict[str, dict[str, float | None]] = field(default_factory=dict)  # "target" or "target/op"
    confidence: float = 0.95
    window_s: float = 10.0
    latency_from: str = "intended"
    source: str = ""

    def rule_for(self, target: str, operation: str) -> dict[str, float]:
        """default, overridden by the target's entry, overridden by the target/operation entry; null removes."""
        merged: dict[str, float | None] = dict(self.bounds_default)
        for key in (target, f"{target}/{operation}"):
            merged.update(self.bounds_by_key.get(key, {}))
        return {k: float(v) for k, v in merged.items() if v is not None}


def _bounds(data: Any, where: str, allow_null: bool) -> dict[str, float | None]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of bounds, got {type(data).__name__}")
    unknown = sorted(set(data) - set(BOUND_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; expected some of {list(BOUND_KEYS)}")
    out: dict[str, float | None] = {}
    for key, value in data.items():
        if value is None and allow_null:
            out[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{where}.{key}: expected a number >= 0, got {value!r}")
        if key in RATE_BOUNDS and value > 1:
            raise ConfigError(f"{where}.{key}: a rate is a fraction 0..1 (1% is 0.01), got {value!r}")
        out[key] = float(value)
    return out


def parse_sla(data: Any, where: str) -> SlaSpec:
    """Validate a loaded YAML document into an SlaSpec (errors name the file and key)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with 'default' and optional 'targets'")
    unknown = sorted(set(data) - {"default", "targets", "confidence", "window_s", "latency_from"})
    if unknown:
        raise ConfigError(
            f"{where}: unknown keys {unknown}; expected default, targets, confidence, window_s, latency_from"
        )
    confidence = data.get("confidence", 0.95)
    if not isinstance(confidence, float) or not 0.5 <= confidence < 1:
        raise ConfigError(f"{where}: confidence: expected a fraction in [0.5, 1), got {confidence!r}")
    window_s = data.get("window_s", 10.0)
    if isinstance(window_s, bool) or not isinstance(window_s, int | float) or window_s <= 0:
        raise ConfigError(f"{where}: window_s: expected seconds > 0, got {window_s!r}")
    latency_from = data.get("latency_from", "intended")
    if latency_from not in LATENCY_FROM:
        raise ConfigError(f"{where}: latency_from: expected one of {list(LATENCY_FROM)}, got {latency_from!r}")
    targets = data.get("targets") or {}
    if not isinstance(targets, dict):
        raise ConfigError(f"{where}: targets: expected a mapping of target names to bounds")
    default = {k: v for k, v in _bounds(data.get("default"), f"{where}: default", False).items() if v is not None}
    by_key = {str(k): _bounds(v, f"{where}: targets.{k}", True) for k, v in targets.items()}
    return SlaSpec(default, by_key, confidence, float(window_s), latency_from, where)


def load_sla(path: Path) -> SlaSpec:
    data = read_yaml(path, "SLA file")
    return parse_sla(data, str(path))


def min_samples(p0: float, confidence: float) -> int | None:
    """Smallest n that concludes a pass with zero exceedances (None when p0 is 0: never)."""
    if p0 <= 0:
        return None
    if p0 >= 1:
        return 1
    return math.ceil(math.log(1 - confidence) / math.log(1 - p0))


def exceedance_test(k: int, n: int, p0: float, confidence: float) -> dict[str, Any]:
    """Binomial test of 'the chance of exceeding is <= p0' from k exceedances in n samples."""
    alpha = 1 - confidence
    need = min_samples(p0, confidence)
    if n == 0:
        return {"confidence": "no data", "exceedances": 0, "n": 0, "min_samples": need}
    if binomial.cdf(k, n, p0) <= alpha:
        conclusion = "conclusive pass"
    elif k > 0 and binomial.sf(k - 1, n, p0) <= alpha:
        conclusion = "conclusive breach"
    else:
        conclusion = "inconclusive"
    allowed = int(binomial.ppf(alpha, n, p0))  # largest k with cdf(k) <= alpha is this or this - 1
    allowed = allowed if binomial.cdf(allowed, n, p0) <= alpha else allowed - 1
    return {
        "confidence": conclusion,
        "exceedances": int(k),
        "n": int(n),
        "min_samples": need,
        "max_exceedances_for_conclusive_pass": allowed if allowed >= 0 else None,
    }


def _latency_values(group: pd.DataFrame, latency_from: str) -> np.ndarray:
    column = "latency_ms" if latency_from == "intended" else "service_latency_ms"
    values = group.loc[group["ok_bool"], column].to_numpy(dtype=float)
    return values[~np.isnan(values)]


def _observed(values: np.ndarray, q: float, bound: float, presorted: bool) -> tuple[float, int]:
    """The q-th percentile (numpy's) and how many values exceed `bound`; by index arithmetic when sorted."""
    if not presorted:
        return float(np.percentile(values, q)), int((values > bound).sum())
    found = sorted_percentiles(values, np.array([0]), np.array([values.size]), (q,))
    return float(found[percentile_key(q)][0]), int(values.size - np.searchsorted(values, bound, side="right"))


def check_bound(
    group: pd.DataFrame, key: str, bound: float, spec: SlaSpec, sorted_ms: np.ndarray | None = None
) -> dict[str, Any]:
    """One bound on one group (with its cold starts resolved): observed value, verdict, confidence.

    `sorted_ms`: the successful requests' latencies (as `spec.latency_from` says), sorted, if at hand.
    """
    out: dict[str, Any] = {"bound": key, "limit": bound}
    if key in PERCENTILE_BOUNDS or key == "max_ms":
        values = sorted_ms if sorted_ms is not None else _latency_values(group, spec.latency_from)
        if values.size == 0:
            return {**out, "observed": None, "verdict": "no data"}
        if key == "max_ms":
            observed = float(values.max())
            test: dict[str, Any] = {"confidence": "exact (max of the sample)", "n": int(values.size)}
        else:
            q = PERCENTILE_BOUNDS[key]
            observed, exceeding = _observed(values, q, bound, sorted_ms is not None)
            test = exceedance_test(exceeding, int(values.size), 1 - q / 100, spec.confidence)
    elif key == "error_rate":
        n = len(group)
        observed = float((~group["ok_bool"]).mean()) if n else None
        test = exceedance_test(int((~group["ok_bool"]).sum()), n, bound, spec.confidence)
    else:
        known = group["cold_known"].to_numpy(dtype=bool)
        if not known.any():
            return {**out, "observed": None, "verdict": "no data"}
        cold = int((group["cold_bool"].to_numpy(dtype=bool) & known).sum())
        observed = cold / int(known.sum())
        test = exceedance_test(cold, int(known.sum()), bound, spec.confidence)
    if observed is None:
        return {**out, "observed": None, "verdict": "no data"}
    return {**out, "observed": observed, "verdict": "pass" if observed <= bound else "breach", **test}


WINDOW_COLUMNS = {
    **{k: f"latency_p{k[1:-3]}" for k in PERCENTILE_BOUNDS},
    "max_ms": "latency_max",
    "error_rate": "error_rate",
    "cold_start_rate": "cold_start_rate",
}


def window_verdicts(
    windows: pd.DataFrame | Mapping[str, np.ndarray], rule: dict[str, float], spec: SlaSpec
) -> dict[str, Any]:
    """Windows violating any bound: which, how many, time in violation, the first one. `windows`: a window
    table (a frame, or `windows.window_columns`' columns)."""
    count = len(windows["window"]) if "window" in windows else 0
    if count == 0:
        return {"window_s": spec.window_s, "windows": 0, "violating": []}
    prefix = "service" if spec.latency_from == "actual" else "latency"
    violating = np.zeros(count, dtype=bool)
    per_bound = {}
    for key, bound in rule.items():
        column = WINDOW_COLUMNS[key].replace("latency", prefix, 1)
        values = np.asarray(windows[column], dtype=float)
        bad = np.nan_to_num(values, nan=-np.inf) > bound
        per_bound[key] = int(bad.sum())
        violating |= bad
    starts = np.asarray(windows["start_s"], dtype=float)
    return {
        "window_s": spec.window_s,
        "windows": count,
        "violating_windows": int(violating.sum()),
        "time_in_violation_s": float(violating.sum() * spec.window_s),
        "first_violation_s": float(starts[violating][0]) if violating.any() else None,
        "violations_by_bound": per_bound,
        "violating": [int(i) for i in np.flatnonzero(violating)],
    }


def group_verdict(checks: list[dict[str, Any]]) -> str:
    verdicts = {c["verdict"] for c in checks}
    if "breach" in verdicts:
        return "breach"
    return "pass" if "pass" in verdicts else "no data"
