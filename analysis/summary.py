"""Summaries of records per (run, target, scenario, operation) group: pure functions on a prepared DataFrame.

`analyse(frame, options)` returns the JSON-ready summary of every group: counts, errors by kind,
throughput (offered, achieved, configured), exact latency percentiles with CIs (from intended and actual
send), per-window tables, cold starts, SLA verdicts and modelled cost. See the README's report section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.coldstart import cold_start_summary
from analysis.cost import breakeven_table, group_cost
from analysis.frame import prepare
from analysis.latency import CONFIDENCE, latency_stats, latency_stats_with_ci
from analysis.pricing import Pricing
from analysis.sla import SlaSpec, check_bound, group_verdict, window_verdicts
from analysis.windows import DEFAULT_WINDOWS_S, window_frame, window_records

GROUP_KEYS = ("run_id", "target", "scenario", "operation")
INTERRUPTED = "interrupted"  # cut by the user's stop (Locust Stop, Ctrl-C): neither a success nor the server's error
IDENTITY_FIELDS = ("model_name", "weights", "runtime")  # what defines a group besides its keys (runtime if recorded)


@dataclass(frozen=True)
class AnalysisOptions:
    windows_s: tuple[float, ...] = DEFAULT_WINDOWS_S
    sla: SlaSpec | None = None
    pricing: Pricing | None = None
    configured_rps: dict[tuple[str, str], float] = field(default_factory=dict)  # (run_id, operation) -> rps
    confidence: float = CONFIDENCE


def _values(group: pd.DataFrame, column: str, mask: np.ndarray | None = None) -> np.ndarray:
    values = group[column].to_numpy(dtype=float)
    return values if mask is None else values[mask]


def _errors(group: pd.DataFrame) -> dict[str, int]:
    failed = group.loc[~group["ok_bool"], "error_kind"].replace("", "unknown")
    return {str(k): int(v) for k, v in failed.value_counts().items()}


def split_interrupted(group: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The group without the requests cut by the user's stop, and how many those were."""
    cut = (group["error_kind"] == INTERRUPTED).to_numpy(dtype=bool)
    return (group.loc[~cut], int(cut.sum())) if cut.any() else (group, 0)


def _identity(group: pd.DataFrame) -> dict[str, str]:
    """Model, weights and runtime of the group's requests (the commonest non-empty value; "" if none)."""
    out = {}
    for name in IDENTITY_FIELDS:
        values = group[name].replace("", pd.NA).dropna() if name in group.columns else pd.Series(dtype=object)
        out[name] = str(values.mode().iloc[0]) if len(values) else ""
    return out


def _models(group: pd.DataFrame) -> list[str]:
    pairs = group[["model_name", "weights"]].drop_duplicates()
    return sorted(f"{m} ({w or 'unknown'} weights)" for m, w in pairs.itertuples(index=False) if m)


def throughput(group: pd.DataFrame, configured_rps: float | None) -> dict[str, Any]:
    """Offered rate from intended send times, achieved rate of successful completions, configured rate."""
    t_s = group["t_s"].dropna()
    done = group.loc[group["ok_bool"], "completion_unix_s"].dropna()
    intended_span = float(t_s.max() - t_s.min()) if len(t_s) > 1 else 0.0
    done_span = float(done.max() - done.min()) if len(done) > 1 else 0.0
    span_s = float(group["completion_unix_s"].max() - t_s.min()) if len(t_s) and len(done) else 0.0
    # n events span n - 1 intervals: rate = (n - 1) / span for both, so a steady run reads the same
    offered = (len(t_s) - 1) / intended_span if intended_span > 0 else None
    achieved = (len(done) - 1) / done_span if done_span > 0 else None
    out = {"span_s": span_s, "offered_rps": offered, "achieved_rps": achieved, "configured_rps": configured_rps}
    reference = configured_rps or offered
    out["achieved_vs_target"] = achieved / reference if achieved and reference else None
    out["target_source"] = "manifest config" if configured_rps else "intended send times"
    return out


def _windows(group: pd.DataFrame, options: AnalysisOptions) -> dict[str, pd.DataFrame]:
    sizes = set(options.windows_s) | ({options.sla.window_s} if options.sla else set())
    return {f"{w:g}": window_frame(group, w) for w in sorted(sizes)}


def _sla(group: pd.DataFrame, keys: dict[str, str], windows: dict[str, pd.DataFrame], spec: SlaSpec) -> dict:
    rule = spec.rule_for(keys["target"], keys["operation"])
    checks = [check_bound(group, key, bound, spec) for key, bound in rule.items()]
    return {
        "rule": rule,
        "verdict": group_verdict(checks),
        "checks": checks,
        "confidence": spec.confidence,
        "latency_from": spec.latency_from,
        "source": spec.source,
        "windows": window_verdicts(windows[f"{spec.window_s:g}"], rule, spec),
    }


def analyse_group(group: pd.DataFrame, keys: dict[str, str], options: AnalysisOptions) -> dict[str, Any]:
    """Everything about one group; `group` must come from `frame.prepare`.

    Requests cut by the user's stop ("interrupted") are counted apart and left out of every other figure.
    """
    judged, interrupted = split_interrupted(group)
    cold, resolved = cold_start_summary(judged)
    ok = resolved["ok_bool"].to_numpy(dtype=bool)
    windows = _windows(resolved, options)
    rates = options.configured_rps
    configured = rates.get((keys["run_id"], keys["scenario"])) or rates.get((keys["run_id"], keys["operation"]))
    out: dict[str, Any] = {
        **keys,
        "count": len(resolved),
        "interrupted": interrupted,
        "ok": int(ok.sum()),
        "error_rate": float(1 - ok.mean()) if len(resolved) else 0.0,
        "errors": _errors(resolved),
        "throughput": throughput(resolved, configured),
        "latency_ms": latency_stats_with_ci(_values(resolved, "latency_ms", ok), options.confidence),
        "service_latency_ms": latency_stats_with_ci(_values(resolved, "service_latency_ms", ok), options.confidence),
        "send_lag_ms": latency_stats(_values(resolved, "send_lag_ms")),
        "inference_ms": latency_stats(_values(resolved, "inference_ms", ok)),
        "duration_ms": latency_stats(_values(resolved, "duration_ms")),
        "cold_starts": cold,
        "instances": int(resolved["instance_id"].replace("", pd.NA).dropna().nunique()),
        "memory_mb": sorted({int(m) for m in resolved["memory_mb"].dropna().unique()}),
        "models": _models(resolved),
        "identity": _identity(group),
        "windows": {size: window_records(frame) for size, frame in windows.items()},
    }
    if options.sla is not None:
        out["sla"] = _sla(resolved, keys, windows, options.sla)
    if options.pricing is not None:
        out["cost"] = group_cost(resolved, keys["target"], keys["operation"], options.pricing)
        if out["cost"]["kind"] == "function":
            out["breakeven"] = breakeven_table(resolved, options.pricing)
    return out


def iter_groups(frame: pd.DataFrame):
    """(keys, group) per (run_id, target, scenario, operation), sorted; `frame` must be prepared."""
    for values, group in frame.groupby(list(GROUP_KEYS), sort=True, dropna=False, observed=True):
        yield dict(zip(GROUP_KEYS, (str(v) for v in values), strict=True)), group


def analyse(frame: pd.DataFrame, options: AnalysisOptions | None = None, prepared: bool = False) -> list[dict]:
    """One summary per group (see module doc)."""
    options = options or AnalysisOptions()
    if frame.empty:
        return []
    data = frame if prepared else prepare(frame)
    return [analyse_group(group, keys, options) for keys, group in iter_groups(data)]


def summarize(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Per-group summaries with default options (no SLA, no cost): the quick view."""
    return analyse(frame)
