"""Summaries of a run's records per (target, scenario, operation) group: pure functions on a DataFrame."""

from __future__ import annotations

from typing import Any

import pandas as pd

from analysis.latency import latency_stats

GROUP_KEYS = ("target", "scenario", "operation")


def _span_s(group: pd.DataFrame) -> float:
    starts = group["intended_send_unix_s"].dropna()
    ends = group["completion_unix_s"].dropna()
    if starts.empty or ends.empty:
        return 0.0
    return float(ends.max() - starts.min())


def _cold_starts(group: pd.DataFrame) -> dict[str, Any]:
    flags = group["cold_start"].dropna()
    if flags.empty:
        return {"known": 0, "cold": 0, "rate": None, "source": "none"}
    cold = int(flags.sum())
    return {"known": int(flags.size), "cold": cold, "rate": cold / flags.size, "source": "function flag"}


def _errors(group: pd.DataFrame) -> dict[str, int]:
    kinds = group.loc[~group["ok"].fillna(False).astype(bool), "error_kind"].fillna("unknown")
    return {str(k): int(v) for k, v in kinds.value_counts().items()}


def _models(group: pd.DataFrame) -> list[str]:
    pairs = zip(group["model_name"], group["weights"], strict=True)
    return sorted({f"{model} ({weights} weights)" for model, weights in pairs if model})


def summarize_group(group: pd.DataFrame) -> dict[str, Any]:
    ok_mask = group["ok"].fillna(False).astype(bool)
    span_s = _span_s(group)
    cold = group["cold_start"].fillna(False).astype(bool)
    return {
        "count": len(group),
        "ok": int(ok_mask.sum()),
        "error_rate": float(1 - ok_mask.mean()) if len(group) else 0.0,
        "errors": _errors(group),
        "span_s": span_s,
        "achieved_rps": len(group) / span_s if span_s > 0 else None,
        "latency_ms": latency_stats(group.loc[ok_mask, "latency_ms"].to_numpy(dtype=float, na_value=float("nan"))),
        "service_latency_ms": latency_stats(
            group.loc[ok_mask, "service_latency_ms"].to_numpy(dtype=float, na_value=float("nan"))
        ),
        "warm_latency_ms": latency_stats(
            group.loc[ok_mask & ~cold, "latency_ms"].to_numpy(dtype=float, na_value=float("nan"))
        ),
        "cold_latency_ms": latency_stats(
            group.loc[ok_mask & cold, "latency_ms"].to_numpy(dtype=float, na_value=float("nan"))
        ),
        "inference_ms": latency_stats(group["inference_ms"].to_numpy(dtype=float, na_value=float("nan"))),
        "cold_starts": _cold_starts(group),
        "instances": int(group["instance_id"].replace("", pd.NA).dropna().nunique()),
        "models": _models(group),
    }


def summarize(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One summary per (target, scenario, operation), sorted by those keys."""
    out = []
    if frame.empty:
        return out
    for keys, group in frame.groupby(list(GROUP_KEYS), sort=True, dropna=False):
        out.append({**dict(zip(GROUP_KEYS, keys, strict=True)), **summarize_group(group)})
    return out
