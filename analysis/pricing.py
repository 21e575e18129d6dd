"""config/pricing.yaml: dated, sourced list prices, validated into typed objects (errors name file and key)."""

from __future__ import annotations

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


def _get(data: dict, key: str, where: str, kind: type | tuple = (int, float)) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise ConfigError(f"{where}.{key}: missing")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(f"{where}.{key}: expected {getattr(kind, '__name__', 'a number')}, got {value!r}")
    return value


def _tiers(items: Any, quantity_key: str, price_key: str, scale: float, where: str) -> tuple[Tier, ...]:
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where}: expected a non-empty list of tiers")
    tiers = []
    for i, item in enumerate(items):
        up_to = item.get(quantity_key) if isinstance(item, dict) else None
        if up_to is not None and (isinstance(up_to, bool) or not isinstance(up_to, int | float)):
            raise ConfigError(f"{where}[{i}].{quantity_key}: expected a number or null, got {up_to!r}")
        tiers.append(Tier(float(up_to) if up_to is not None else None, _get(item, price_key, f"{where}[{i}]") / scale))
    if tiers[-1].up_to is not None:
        raise ConfigError(f"{where}: the last tier must have {quantity_key}: null (no upper end)")
    return tuple(tiers)


def _model(data: dict, where: str) -> dict[str, Any]:
    model = data.get("model") or {}
    out = {
        "architecture": model.get("function_architecture", "x86_64"),
        "front": model.get("function_front", "http_api"),
        "include_free_tier": bool(model.get("include_free_tier", False)),
        "server_instance_type": str(model.get("server_instance_type", "c5.large")),
        "server_instances": int(model.get("server_instances", 1)),
        "breakeven_instance_types": tuple(model.get("breakeven_instance_types") or ()),
        "days_per_month": float(model.get("days_per_month", 30)),
    }
    if out["architecture"] not in ARCHITECTURES:
        raise ConfigError(f"{where}: model.function_architecture: expected one of {list(ARCHITECTURES)}")
    if out["front"] not in FRONTS:
        raise ConfigError(f"{where}: model.function_front: expected one of {list(FRONTS)}")
    return out


def parse_pricing(data: Any, where: str) -> Pricing:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping (lambda, api_gateway, s3, ec2, model)")
    lam, api, s3, ec2 = (data.get(k) or {} for k in ("lambda", "api_gateway", "s3", "ec2"))
    prices = ec2.get("usd_per_hour") if isinstance(ec2, dict) else None
    if not isinstance(prices, dict) or not all(isinstance(v, int | float) for v in prices.values()):
        raise ConfigError(f"{where}: ec2.usd_per_hour: expected a mapping of instance type to USD per hour")
    pricing = Pricing(
        region=str(data.get("region", "")),
        as_of=str(data.get("as_of", "unknown")),
        checked=data.get("checked"),
        lambda_request_usd=_get(lam, "request_usd_per_million", f"{where}: lambda") / 1e6,
        lambda_gb_s={
            a: _tiers(lam.get(a), "up_to_gb_s", "usd_per_gb_s", 1.0, f"{where}: lambda.{a}") for a in ARCHITECTURES
        },
        free_requests=float(lam.get("free_tier_requests_per_month", 0)),
        free_gb_s=float(lam.get("free_tier_gb_s_per_month", 0)),
        bill_init_phase=bool(lam.get("bill_init_phase", True)),
        apigw={
            k: _tiers(api.get(k), "up_to_requests", "usd_per_million", 1e6, f"{where}: api_gateway.{k}")
            for k in ("rest_api", "http_api")
        },
        http_api_metering_kb=float(api.get("http_api_metering_kb", 512)),
        s3_put_usd=_get(s3, "put_usd_per_thousand", f"{where}: s3") / 1e3,
        s3_get_usd=_get(s3, "get_usd_per_thousand", f"{where}: s3") / 1e3,
        ec2_usd_per_hour={str(k): float(v) for k, v in prices.items()},
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
