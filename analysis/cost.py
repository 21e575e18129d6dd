"""Modelled cost: what a run (or a month of it) would cost at AWS list prices (config/pricing.yaml).

Everything here is *modelled*: the local cloud has no bill. The model:
- function (Lambda): per invocation, billed ms x memory GB -> GB-s at the tiered duration price, plus the
  per-request fee and, for a synchronous function, its front (API Gateway HTTP API metered per 512 KB, or
  REST API). Billed ms: the record's / REPORT line's billed duration (Lambda rounds up to 1 ms), else
  ceil(duration_ms), else ceil(handler_ms); plus ceil(init_ms) on cold starts when `bill_init_phase`.
- S3-triggered inference: the upload PUT, and per inference the function (no front), one GET of the
  input and one PUT of the result object.
- server (EC2): instances x the hours held, per-second billing with a 60 s minimum; the hours held are the
  group's span (first request to last completion).
- break-even: requests/day at which a month of the function costs as much as a month of the instance
  (tiers applied to the monthly volume; assumes one instance keeps up with that load).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from analysis.pricing import Pricing, tiered_cost

PUBLISHED_BREAKEVEN_CALLS_PER_DAY = 1800  # the cited study: about 1,800 calls/day for a small model


def target_kind(target: str) -> str:
    name = target.lower()
    if "server" in name or "ec2" in name:
        return "server"
    if "faas" in name or "lambda" in name or "function" in name:
        return "function"
    if "s3" in name:
        return "s3"
    return "unknown"


def billed_ms(group: pd.DataFrame, pricing: Pricing) -> tuple[np.ndarray, str]:
    """Billed milliseconds per invocation and the basis used (see module doc)."""
    billed = group["billed_ms"].to_numpy(dtype=float, copy=True)  # filled in below
    basis = "billed duration (record / REPORT line)"
    missing = np.flatnonzero(np.isnan(billed))  # those billed from duration_ms (else handler_ms)
    duration = np.ceil(np.round(group["duration_ms"].to_numpy(dtype=float)[missing], 6))
    if missing.size == billed.size:  # nothing billed recorded
        basis = "ceil(duration_ms)" if not np.isnan(duration).all() else "ceil(handler_ms), no duration recorded"
    if missing.size:
        handler = np.ceil(np.round(group["handler_ms"].to_numpy(dtype=float)[missing], 6))
        billed[missing] = np.where(np.isnan(duration), handler, duration)
    if pricing.bill_init_phase:
        cold = np.flatnonzero(group["cold_bool"].to_numpy(dtype=bool))
        init = np.ceil(np.nan_to_num(group["init_ms"].to_numpy(dtype=float)[cold]))
        dur = np.nan_to_num(group["duration_ms"].to_numpy(dtype=float)[cold])
        add = (init > 0) & (billed[cold] < dur + init)
        billed[cold[add]] += init[add]
        basis += " + init phase on cold starts"
    return np.maximum(np.nan_to_num(billed, nan=0.0), 0.0), basis


def front_units(group: pd.DataFrame, pricing: Pricing) -> float:
    """API Gateway requests billed for the group (HTTP API counts each started 512 KB)."""
    if pricing.front != "http_api":
        return float(len(group))
    size = group["request_bytes"].to_numpy(dtype=float)
    units = np.ceil(np.nan_to_num(size, nan=0.0) / (pricing.http_api_metering_kb * 1024))
    return float(np.maximum(units, 1).sum())


def function_cost(group: pd.DataFrame, pricing: Pricing, with_front: bool) -> dict[str, Any]:
    billed, basis = billed_ms(group, pricing)
    memory_mb = group["memory_mb"].to_numpy(dtype=float)
    known = ~np.isnan(memory_mb)
    gb_s = float((billed[known] / 1000.0 * memory_mb[known] / 1024.0).sum())
    free_gb_s = pricing.free_gb_s if pricing.include_free_tier else 0.0
    free_req = pricing.free_requests if pricing.include_free_tier else 0.0
    n = len(group)
    compute = tiered_cost(max(gb_s - free_gb_s, 0.0), pricing.lambda_gb_s[pricing.architecture])
    requests = max(n - free_req, 0.0) * pricing.lambda_request_usd
    front = 0.0
    if with_front and pricing.front != "none":
        front = tiered_cost(front_units(group, pricing), pricing.apigw[pricing.front])
    out = {
        "invocations": n,
        "gb_s": gb_s,
        "billed_ms_total": float(billed.sum()),
        "billed_basis": basis,
        "compute_usd": compute,
        "request_usd": requests,
        "front_usd": front,
        "front": pricing.front if with_front else "none",
        "total_usd": compute + requests + front,
    }
    if not known.all():
        out["note"] = f"{int((~known).sum())} invocations without a memory size are not in the GB-s"
    return out


def server_cost(group: pd.DataFrame, pricing: Pricing) -> dict[str, Any]:
    start = group["t_s"].min()
    end = group["completion_unix_s"].max()
    span_s = float(end - start) if pd.notna(start) and pd.notna(end) else 0.0
    billed_s = max(60.0, math.ceil(span_s)) * pricing.server_instances
    hourly = pricing.instance_usd_per_hour(pricing.server_instance_type)
    total = billed_s / 3600.0 * hourly
    return {
        "instance_type": pricing.server_instance_type,
        "instances": pricing.server_instances,
        "usd_per_hour": hourly,
        "held_s": span_s,
        "billed_s": billed_s,
        "total_usd": total,
    }


def group_cost(group: pd.DataFrame, target: str, operation: str, pricing: Pricing) -> dict[str, Any]:
    """Modelled cost of one group's requests, and per million successful requests."""
    kind = target_kind(target)
    if kind == "function":
        detail = function_cost(group, pricing, with_front=True)
    elif kind == "server":
        detail = server_cost(group, pricing)
    elif operation == "s3-put":
        detail = {"puts": len(group), "total_usd": len(group) * pricing.s3_put_usd}
    elif operation == "invoke":  # REPORT lines alone: a function, its front (if any) unknown, not priced
        kind, detail = "function", function_cost(group, pricing, with_front=False)
    elif operation == "s3-infer":
        detail = function_cost(group, pricing, with_front=False)
        s3 = len(group) * (pricing.s3_get_usd + pricing.s3_put_usd)
        detail.update(s3_get_put_usd=s3, total_usd=detail["total_usd"] + s3)
    else:
        return {"kind": kind, "modelled": True, "total_usd": None, "note": "no cost model for this target"}
    ok = int(group["ok_bool"].sum())
    per_million = detail["total_usd"] / ok * 1e6 if ok else None
    return {"kind": kind, "modelled": True, **detail, "usd_per_million_ok": per_million}


def per_request_profile(group: pd.DataFrame, pricing: Pricing, gb_s: float | None = None) -> dict[str, float]:
    """Average GB-s and front units per invocation of a function group (for monthly extrapolation);
    `gb_s`: the group's GB-s when known already (`function_cost`)."""
    gb_s = function_cost(group, pricing, with_front=False)["gb_s"] if gb_s is None else gb_s
    n = max(len(group), 1)
    return {"gb_s": gb_s / n, "front_units": front_units(group, pricing) / n}


def monthly_function_usd(requests: float, profile: dict[str, float], pricing: Pricing) -> float:
    free_gb_s = pricing.free_gb_s if pricing.include_free_tier else 0.0
    free_req = pricing.free_requests if pricing.include_free_tier else 0.0
    gb_s = max(requests * profile["gb_s"] - free_gb_s, 0.0)
    cost = tiered_cost(gb_s, pricing.lambda_gb_s[pricing.architecture])
    cost += max(requests - free_req, 0.0) * pricing.lambda_request_usd
    if pricing.front != "none":
        cost += tiered_cost(requests * profile["front_units"], pricing.apigw[pricing.front])
    return cost


def breakeven_requests_per_day(profile: dict[str, float], usd_per_hour: float, pricing: Pricing) -> float:
    """Requests/day where a month of the function costs a month of one instance (bisection, monotone)."""
    days = pricing.days_per_month
    instance_month = usd_per_hour * 24 * days
    low, high = 0.0, 1e12
    if monthly_function_usd(high * days, profile, pricing) < instance_month:
        return math.inf
    for _ in range(200):
        mid = (low + high) / 2
        if monthly_function_usd(mid * days, profile, pricing) < instance_month:
            low = mid
        else:
            high = mid
        if high - low < 1e-6 * max(high, 1):
            break
    return (low + high) / 2


def cost_curve(profile: dict[str, float], pricing: Pricing, top_per_day: float) -> dict[str, list[float]]:
    """A month of the function at requests/day from 10 to past `top_per_day` (log-spaced), for the cost chart."""
    high = max(math.log10(max(top_per_day, 1.0)) + 1.0, 5.0)
    per_day = np.logspace(1.0, min(high, 10.0), 40)
    usd = [monthly_function_usd(x * pricing.days_per_month, profile, pricing) for x in per_day]
    return {"requests_per_day": [float(x) for x in per_day], "function_usd_per_month": usd}


def breakeven_table(group: pd.DataFrame, pricing: Pricing, gb_s: float | None = None) -> dict[str, Any]:
    """Requests/day where the function costs as much as each instance type; `gb_s` as `per_request_profile`."""
    profile = per_request_profile(group, pricing, gb_s)
    per_request = monthly_function_usd(1e6, profile, pricing) / 1e6
    rows = [
        {
            "instance_type": name,
            "usd_per_hour": pricing.instance_usd_per_hour(name),
            "breakeven_requests_per_day": breakeven_requests_per_day(
                profile, pricing.instance_usd_per_hour(name), pricing
            ),
        }
        for name in pricing.breakeven_instance_types
    ]
    finite = [r["breakeven_requests_per_day"] for r in rows if math.isfinite(r["breakeven_requests_per_day"])]
    return {
        "modelled": True,
        "days_per_month": pricing.days_per_month,
        "curve": cost_curve(profile, pricing, max(finite, default=1e5)),
        "gb_s_per_request": profile["gb_s"],
        "front_units_per_request": profile["front_units"],
        "function_usd_per_request": per_request,
        "rows": rows,
        "published_reference_calls_per_day": PUBLISHED_BREAKEVEN_CALLS_PER_DAY,
    }


def memory_sweep(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Cost and speed per memory setting; the balanced optimum minimises cost/min_cost + p95/min_p95."""
    rows = [r for r in rows if r.get("usd_per_million_ok") and r.get("p95_ms")]
    if not rows:
        return {"rows": [], "optimum": None}
    min_cost = min(r["usd_per_million_ok"] for r in rows)
    min_p95 = min(r["p95_ms"] for r in rows)
    for r in rows:
        r["score"] = r["usd_per_million_ok"] / min_cost + r["p95_ms"] / min_p95
    best = min(rows, key=lambda r: r["score"])
    for r in rows:
        r["optimum"] = r is best
    rows.sort(key=lambda r: r["memory_mb"])
    return {
        "modelled": True,
        "rows": rows,
        "optimum": best["memory_mb"],
        "rule": "balanced optimum = lowest (cost per million / cheapest) + (p95 / fastest p95)",
    }


def pricing_used(pricing: Pricing) -> dict[str, Any]:
    """The prices behind every modelled figure, for the report."""
    tier1 = pricing.lambda_gb_s[pricing.architecture][0].price
    return {
        "region": pricing.region,
        "as_of": pricing.as_of,
        "checked": pricing.checked,
        "file": pricing.path,
        "lambda_usd_per_gb_s_tier1": tier1,
        "architecture": pricing.architecture,
        "lambda_usd_per_million_requests": pricing.lambda_request_usd * 1e6,
        "front": pricing.front,
        "front_usd_per_million_tier1": (
            pricing.apigw[pricing.front][0].price * 1e6 if pricing.front != "none" else 0.0
        ),
        "s3_put_usd_per_thousand": pricing.s3_put_usd * 1e3,
        "s3_get_usd_per_thousand": pricing.s3_get_usd * 1e3,
        "server_instance_type": pricing.server_instance_type,
        "server_usd_per_hour": pricing.instance_usd_per_hour(pricing.server_instance_type),
        "include_free_tier": pricing.include_free_tier,
        "bill_init_phase": pricing.bill_init_phase,
        "sources": pricing.sources,
    }
