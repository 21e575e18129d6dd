"""Number formatting shared by the report's sentences and tables (pure: numbers in, text out)."""

from __future__ import annotations

import math
from typing import Any


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def fmt_usd(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"${value:,.0f}"
    if value >= 0.01 or value == 0:
        return f"${value:,.2f}"
    return f"${value:.{1 - math.floor(math.log10(value))}f}"  # two significant digits, no exponent


def fmt_bound(check: dict[str, Any]) -> str:
    key, limit = check["bound"], check["limit"]
    if key.endswith("_rate"):
        return f"{key.replace('_', ' ')} <= {limit:.2%}"
    return f"{key[:-3].replace('_', '.')} <= {limit:g} ms"


def fmt_observed(check: dict[str, Any]) -> str:
    value = check.get("observed")
    if value is None:
        return "no data"
    return f"{value:.2%}" if check["bound"].endswith("_rate") else fmt_ms(value)


def num(value: Any, digits: int = 1) -> str:
    """A number for a table cell: thousands separators from 10 up, one more digit below; '-' for none."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}" if abs(value) >= 10 else f"{value:.{digits + 1}f}"
    return str(value)


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def ci_text(stats: dict[str, Any], key: str) -> str:
    """'low .. high' of a percentile's CI; '? (too few)' when the sample cannot bound it above."""
    ci = (stats.get("ci") or {}).get(key)
    if not ci:
        return "-"
    low = num(ci["low"]) if ci["low"] is not None else "?"
    high = num(ci["high"]) if ci["high"] is not None else "? (too few)"
    return f"{low} .. {high}"


def ratio(value: float | None, base: float | None) -> float | None:
    """value / base, None when either is missing or the base is 0."""
    if value is None or base is None or base == 0:
        return None
    return value / base


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"
