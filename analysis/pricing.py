"""config/pricing.yaml: dated, sourced list prices, validated into typed objects (errors name file and key)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.config import DEFAULT_CONFIG_DIR, read_yaml
from labkit.errors import ConfigError

DEFAULT_PRICING = DEFAULT_CONFIG_DIR / "pricing.yaml"
ARCHITECTURES = ("x86_64", "arm64")
FRONTS = ("http_api", "rest_api", "none")


@dataclass(frozen=True)
class Tier:
    up_to: float | None  # cumulative monthly quantity where this tier ends (None: no end)
    price: float  # USD per unit (GB-s, or request)


@dataclass(frozen=True)
class Pricing:
    region: str
    as_of: str
    checked: str | None
    lambda_request_usd: float
    lambda_gb_s: dict[str, tuple[Tier, ...]]
    free_requests: float
    free_gb_s: float
    bill_init_phase: bool
    apigw: dict[str, tuple[Tier, ...]]
    http_api_metering_kb: float
    s3_put_usd: float
    s3_get_usd: float
    ec2_usd_per_hour: dict[str, float]
    sources: dict[str, str]
    architecture: str = "x86_64"
    front: str = "http_api"
    include_free_tier: bool = False
    server_instance_type: str = "c5.large"
    server_instances: int = 1
    breakeven_instance_types: tuple[str, ...] = ()
    days_per_month: float = 30.0
    path: str = ""

    def instance_usd_per_hour(self, instance_type: str) -> float:
        if instance_type not in self.ec2_usd_per_hour:
            known = ", ".join(sorted(self.ec2_usd_per_hour))
            raise ConfigError(f"{self.path}: ec2.usd_per_hour: no price for {instance_type!r}; known: {known}")
        return self.ec2_usd_per_hour[instance_type]


KEYS: dict[str, tuple[str, ...]] = {
    "": ("region", "currency", "as_of", "checked", "lambda", "api_gateway", "s3", "ec2", "model"),
    "lambda": ("source", "request_usd_per_million", *ARCHITECTURES, "free_tier_requests_per_month",
               "free_tier_gb_s_per_month", "billing_granularity_ms", "bill_init_phase"),
    "api_gateway": ("source", "rest_api", "http_api", "http_api_metering_kb"),
    "s3": ("source", "put_usd_per_thousand", "get_usd_per_thousand"),
    "ec2": ("source", "billing", "usd_per_hour"),
    "model": ("function_architecture", "function_front", "include_free_tier", "server_instance_type",
              "server_instances", "breakeven_instance_types", "days_per_month"),
}  # fmt: skip


def _section(data: Any, keys: tuple[str, ...], where: str) -> dict[str, Any]:
    """`data` checked to be a mapping with only `keys` (None: empty)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in keys)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; expected some of {list(keys)}")
    return data


def _get(data: dict, key: str, where: str, default: float | None = None, *, above: bool = False) -> float:
    """A number >= 0 (> 0 with `above`); missing is an error unless a default is given."""
    if key not in data and default is not None:
        return default
    if key not in data:
        raise ConfigError(f"{where}.{key}: missing")
    value = data[key]
    number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not number or value < 0 or (above and value == 0):
        raise ConfigError(f"{where}.{key}: expected a number {'>' if above else '>='} 0, got {value!r}")
    return float(value)


def _flag(data: dict, key: str, where: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.{key}: expected true or false, got {value!r}")
    return value


def _tiers(items: Any, quantity_key: str, price_key: str, scale: float, where: str) -> tuple[Tier, ...]:
    """Price tiers: each ends at a larger cumulative quantity than the one before; only the last has no end."""
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where}: expected a non-empty list of tiers")
    tiers: list[Tier] = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        _section(item if item is not None else [], (quantity_key, price_key), at)
        up_to = _get(item, quantity_key, at, above=True) if item.get(quantity_key) is not None else None
        if up_to is None and i < len(items) - 1:
            raise ConfigError(f"{at}.{quantity_key}: only the last tier may be null (no upper end)")
        previous = tiers[-1].up_to if tiers else None
        if up_to is not None and previous is not None and up_to <= previous:
            raise ConfigError(
                f"{at}.{quantity_key}: expected more than the previous tier's {previous:g}, got {up_to:g}"
            )
        tiers.append(Tier(up_to, _get(item, price_key, at) / scale))
    if tiers[-1].up_to is not None:
        raise ConfigError(f"{where}: the last tier must have {quantity_key}: null (no upper end)")
    return tuple(tiers)


def _model(data: dict, where: str) -> dict[str, Any]:
    at = f"{where}: model"
    model = _section(data.get("model"), KEYS["model"], at)
    instances = model.get("server_instances", 1)
    if isinstance(instances, bool) or not isinstance(instances, int) or instances < 1:
        raise ConfigError(f"{at}.server_instances: expected an integer >= 1, got {instances!r}")
    types = model.get("breakeven_instance_types") or []
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise ConfigError(f"{at}.breakeven_instance_types: expected a list of instance types, got {types!r}")
    out = {
        "architecture": model.get("function_architecture", "x86_64"),
        "front": model.get("function_front", "http_api"),
        "include_free_tier": _flag(model, "include_free_tier", at, False),
        "server_instance_type": str(model.get("server_instance_type", "c5.large")),
        "server_instances": instances,
        "breakeven_instance_types": tuple(types),
        "days_per_month": _get(model, "days_per_month", at, 30.0, above=True),
    }
    if out["architecture"] not in ARCHITECTURES:
        raise ConfigError(f"{at}.function_architecture: expected one of {list(ARCHITECTURES)}")
    if out["front"] not in FRONTS:
        raise ConfigError(f"{at}.function_front: expected one of {list(FRONTS)}")
    return out


def parse_pricing(data: Any, where: str) -> Pricing:
    """Validate a loaded YAML document into Pricing (errors name the file, the key and what was expected)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping (lambda, api_gateway, s3, ec2, model)")
    _section(data, KEYS[""], where)
    lam, api, s3, ec2 = (
        _section(data.get(k), KEYS[k], f"{where}: {k}") for k in ("lambda", "api_gateway", "s3", "ec2")
    )
    prices = ec2.get("usd_per_hour")
    if not isinstance(prices, dict) or not prices:
        raise ConfigError(f"{where}: ec2.usd_per_hour: expected a mapping of instance type to USD per hour")
    _get(lam, "billing_granularity_ms", f"{where}: lambda", 1.0, above=True)
    pricing = Pricing(
        region=str(data.get("region", "")),
        as_of=str(data.get("as_of", "unknown")),
        checked=None if data.get("checked") is None else str(data["checked"]),
        lambda_request_usd=_get(lam, "request_usd_per_million", f"{where}: lambda") / 1e6,
        lambda_gb_s={
            a: _tiers(lam.get(a), "up_to_gb_s", "usd_per_gb_s", 1.0, f"{where}: lambda.{a}") for a in ARCHITECTURES
        },
        free_requests=_get(lam, "free_tier_requests_per_month", f"{where}: lambda", 0.0),
        free_gb_s=_get(lam, "free_tier_gb_s_per_month", f"{where}: lambda", 0.0),
        bill_init_phase=_flag(lam, "bill_init_phase", f"{where}: lambda", True),
        apigw={
            k: _tiers(api.get(k), "up_to_requests", "usd_per_million", 1e6, f"{where}: api_gateway.{k}")
            for k in ("rest_api", "http_api")
        },
        http_api_metering_kb=_get(api, "http_api_metering_kb", f"{where}: api_gateway", 512.0, above=True),
        s3_put_usd=_get(s3, "put_usd_per_thousand", f"{where}: s3") / 1e3,
        s3_get_usd=_get(s3, "get_usd_per_thousand", f"{where}: s3") / 1e3,
        ec2_usd_per_hour={str(k): _get(prices, k, f"{where}: ec2.usd_per_hour") for k in prices},
        sources={k: str((data.get(k) or {}).get("source", "")) for k in ("lambda", "api_gateway", "s3", "ec2")},
        path=where,
        **_model(data, where),
    )
    for name in (pricing.server_instance_type, *pricing.breakeven_instance_types):
        pricing.instance_usd_per_hour(name)
    return pricing


def load_pricing(path: Path = DEFAULT_PRICING) -> Pricing:
    data = read_yaml(path, "pricing file")
    return parse_pricing(data, str(path))


def tiered_cost(quantity: float, tiers: tuple[Tier, ...], already_used: float = 0.0) -> float:
    """Cost of `quantity` units billed after `already_used` units this month, across the tiers."""
    cost, position, remaining = 0.0, already_used, quantity
    for tier in tiers:
        end = tier.up_to if tier.up_to is not None else float("inf")
        if remaining <= 0:
            break
        if position >= end:
            continue
        take = min(remaining, end - position)
        cost += take * tier.price
        position += take
        remaining -= take
    return cost
