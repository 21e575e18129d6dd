import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from analysis_helpers import rec

from analysis.cost import (
    billed_ms,
    breakeven_requests_per_day,
    function_cost,
    group_cost,
    memory_sweep,
    monthly_function_usd,
)
from analysis.frame import prepare
from analysis.pricing import load_pricing, parse_pricing, tiered_cost
from labkit.errors import ConfigError

PRICING = load_pricing()


def _frame(records):
    return prepare(pd.DataFrame([{n: getattr(r, n) for n in r.__slots__} for r in records]))


def test_lambda_pricing_page_example_with_free_tier():
    # AWS Lambda pricing page example: 512 MB, 3 million invocations a month, 1 s each.
    # 3e6 x 1 s x 0.5 GB = 1.5e6 GB-s; minus 400,000 free = 1.1e6 GB-s x $0.0000166667 = $18.33;
    # requests: (3e6 - 1e6 free) x $0.20/M = $0.40.
    pricing = dataclasses.replace(PRICING, include_free_tier=True, front="none", bill_init_phase=False)
    profile = {"gb_s": 0.5, "front_units": 0.0}
    assert monthly_function_usd(3e6, profile, pricing) == pytest.approx(18.33 + 0.40, abs=0.01)


def test_same_example_from_records_billed_at_1_ms_granularity():
    pricing = dataclasses.replace(PRICING, front="none", bill_init_phase=False)
    records = [rec(i, "lambda", 1001.0, duration_ms=999.2, memory_mb=512) for i in range(1000)]
    frame = _frame(records)
    billed, basis = billed_ms(frame, pricing)
    assert billed.tolist() == [1000.0] * 1000 and basis == "ceil(duration_ms)"
    cost = function_cost(frame, pricing, with_front=False)
    # 1000 x 1 s x 0.5 GB = 500 GB-s x $0.0000166667 + 1000 x $0.0000002
    assert cost["gb_s"] == pytest.approx(500.0)
    assert cost["total_usd"] == pytest.approx(500 * 0.0000166667 + 1000 * 0.2e-6)


def test_init_phase_is_billed_on_cold_starts_when_configured():
    records = [rec(0, "lambda", 400.0, duration_ms=10.2, billed_ms=11, init_ms=250.4, cold_start=True,
                   memory_mb=1024)]  # fmt: skip
    billed, _ = billed_ms(_frame(records), PRICING)
    assert billed.tolist() == [11 + 251]


def test_tiers_and_api_gateway_metering():
    tiers = PRICING.lambda_gb_s["x86_64"]
    # 1e9 GB-s already used this month, 6e9 more: 5e9 at tier 1, 1e9 at tier 2
    assert tiered_cost(6e9, tiers, already_used=1e9) == pytest.approx(5e9 * 0.0000166667 + 1e9 * 0.000015)
    # HTTP API counts each started 512 KB: a 600 KB request is 2 requests
    records = [rec(0, "local-faas", 20.0, request_bytes=600 * 1024, billed_ms=20, memory_mb=1024)]
    cost = function_cost(_frame(records), PRICING, with_front=True)
    assert cost["front_usd"] == pytest.approx(2 * 1.00e-6)
    rest = dataclasses.replace(PRICING, front="rest_api")
    assert function_cost(_frame(records), rest, with_front=True)["front_usd"] == pytest.approx(3.50e-6)


def test_ec2_per_second_billing_with_a_60_s_minimum():
    short = [rec(i, "local-server", 20.0, gap_s=1.0) for i in range(30)]  # span ~29 s -> 60 s billed
    cost = group_cost(_frame(short), "local-server", "predict", PRICING)
    assert cost["billed_s"] == 60 and cost["total_usd"] == pytest.approx(60 / 3600 * 0.085)
    long = [rec(i, "local-server", 200.0, gap_s=1.0) for i in range(91)]  # 90.2 s -> 91 s billed
    assert group_cost(_frame(long), "local-server", "predict", PRICING)["billed_s"] == 91
    assert cost["usd_per_million_ok"] == pytest.approx(cost["total_usd"] / 30 * 1e6)


def test_breakeven_balances_a_month_of_each():
    profile = {"gb_s": 0.1, "front_units": 1.0}
    n = breakeven_requests_per_day(profile, 0.085, PRICING)
    month = monthly_function_usd(n * 30, profile, PRICING)
    assert month == pytest.approx(0.085 * 24 * 30, rel=1e-4)
    # hand-worked: per request 0.1 x 0.0000166667 + 0.2e-6 + 1e-6 = 2.866667e-6 USD
    assert n == pytest.approx(0.085 * 24 / 2.866667e-6, rel=1e-4)


def test_memory_sweep_picks_a_balanced_optimum():
    rows = [{"memory_mb": 512, "usd_per_million_ok": 2.0, "p95_ms": 400.0},
            {"memory_mb": 1024, "usd_per_million_ok": 2.2, "p95_ms": 200.0},
            {"memory_mb": 3008, "usd_per_million_ok": 6.0, "p95_ms": 150.0}]  # fmt: skip
    sweep = memory_sweep(rows)
    assert sweep["optimum"] == 1024 and [r["memory_mb"] for r in sweep["rows"]] == [512, 1024, 3008]


def test_bad_pricing_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="lambda.request_usd_per_million: missing"):
        parse_pricing({"ec2": {"usd_per_hour": {"c5.large": 0.085}}}, "p.yaml")
    path = tmp_path / "p.yaml"
    text = Path(PRICING.path).read_text()
    path.write_text(text.replace("server_instance_type: c5.large", "server_instance_type: z9.huge"))
    with pytest.raises(ConfigError, match="no price for 'z9.huge'"):
        load_pricing(path)
