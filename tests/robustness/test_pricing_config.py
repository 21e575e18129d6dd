"""Issue "Trustworthy runs": config/pricing.yaml is validated like the other config files.

A wrong key or value is a ConfigError naming the file, the key and what was expected (exit 2), never a
silently wrong cost (a negative price, `http_api_metering_kb: 0` giving $inf and a break-even of 0).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from analysis.__main__ import main
from analysis.pricing import DEFAULT_PRICING, load_pricing
from labkit.errors import ConfigError
from labkit.records import RequestRecord
from labkit.rundir import RunDir

BASE: dict[str, Any] = yaml.safe_load(DEFAULT_PRICING.read_text(encoding="utf-8"))


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation: set the value at a dotted path ('lambda.x86_64.1.usd_per_gb_s'; digits index lists)."""

    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return mutate


def _write(tmp_path: Path, mutate: Callable[[dict[str, Any]], None]) -> Path:
    doc = copy.deepcopy(BASE)
    mutate(doc)
    path = tmp_path / "pricing.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _up_to(values: list[float | None]) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        for tier, value in zip(doc["lambda"]["x86_64"], values, strict=True):
            tier["up_to_gb_s"] = value

    return mutate


def _set_ec2_price(value: float) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        doc["ec2"]["usd_per_hour"]["c5.large"] = value  # a dotted instance name: not a path

    return mutate


CASES = [
    (_set("lambda.request_usd_per_million", -0.2), r"lambda\.request_usd_per_million: expected a number >= 0"),
    (_set("lambda.x86_64.1.usd_per_gb_s", -1e-5), r"lambda\.x86_64\[1\]\.usd_per_gb_s: expected a number >= 0"),
    (_set("api_gateway.rest_api.0.usd_per_million", -3.5), r"api_gateway\.rest_api\[0\]\.usd_per_million: expected"),
    (_set("api_gateway.http_api_metering_kb", 0), r"api_gateway\.http_api_metering_kb: expected a number > 0"),
    (_set("s3.put_usd_per_thousand", -0.005), r"s3\.put_usd_per_thousand: expected a number >= 0"),
    (_set("s3.get_usd_per_thousand", "cheap"), r"s3\.get_usd_per_thousand: expected a number >= 0, got 'cheap'"),
    (_set_ec2_price(-0.085), r"ec2\.usd_per_hour\.c5\.large: expected a number >= 0"),
    (_set("lambda.free_tier_gb_s_per_month", -400000), r"lambda\.free_tier_gb_s_per_month: expected a number >= 0"),
    (_set("lambda.bill_init_phase", "yes"), r"lambda\.bill_init_phase: expected true or false"),
    (_set("model.include_free_tier", "no"), r"model\.include_free_tier: expected true or false"),
    (_set("model.days_per_month", 0), r"model\.days_per_month: expected"),
    (_set("model.server_instances", 0), r"model\.server_instances: expected an integer >= 1"),
    (_set("lamda", {"request_usd_per_million": 0.2}), r"unknown keys \['lamda'\]"),
    (_set("lambda.request_usd_per_milion", 0.2), r"lambda: unknown keys \['request_usd_per_milion'\]"),
    (_set("model.server_instance", "c5.large"), r"model: unknown keys \['server_instance'\]"),
    (_set("lambda.x86_64.0.usd", 1.0), r"lambda\.x86_64\[0\]: unknown keys \['usd'\]"),
    (_up_to([6e9, 1e9, None]), r"lambda\.x86_64\[1\]\.up_to_gb_s: expected more than the previous tier's 6e\+09"),
    (_up_to([0, 1e9, None]), r"lambda\.x86_64\[0\]\.up_to_gb_s: expected a number > 0"),
    (_up_to([6e9, None, None]), r"lambda\.x86_64\[1\]\.up_to_gb_s: only the last tier"),
]


@pytest.mark.parametrize(("mutate", "message"), CASES, ids=[m.split(":")[0].replace("\\", "") for _, m in CASES])
def test_bad_pricing_is_a_config_error_naming_file_and_key(tmp_path: Path, mutate: Callable, message: str):
    path = _write(tmp_path, mutate)
    with pytest.raises(ConfigError, match=message) as info:
        load_pricing(path)
    assert str(path) in str(info.value)


def test_the_shipped_pricing_file_is_valid():
    pricing = load_pricing()
    assert pricing.http_api_metering_kb == 512
    assert all(t.price >= 0 for tiers in pricing.lambda_gb_s.values() for t in tiers)


def test_bad_pricing_exits_2_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = _write(tmp_path, _set("api_gateway.http_api_metering_kb", 0))
    run = RunDir.create(tmp_path, "t", config={})
    with run.writer("x") as writer:
        times = {"intended_send_unix_s": 1.0, "actual_send_unix_s": 1.0, "completion_unix_s": 1.1}
        writer.write(RequestRecord.timed(**times, run_id="r", request_id="q", source="l", scenario="s", target="ec2"))
    run.finish()
    code = main([str(run.path), "--pricing", str(path), "--no-plots"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{path}: api_gateway.http_api_metering_kb" in err
    assert "Traceback" not in err
