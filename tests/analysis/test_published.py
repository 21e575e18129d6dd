"""A published study's claims beside the run's figures (analysis.published): measured or modelled, or said
plainly when a claim is not checked or its figure is not in the run."""

from __future__ import annotations

from analysis.published import claim_lines


def _group(scenario: str, model: str, warm: float, usd: float, target: str = "local-faas") -> dict:
    return {"scenario": scenario, "operation": "predict", "target": target, "models": [model], "label": scenario,
            "latency_ms": {"p50": warm * 1.5},
            "cold_starts": {"warm_latency_ms": {"p50": warm}, "cold_latency_ms": {"p50": warm * 10},
                            "init_ms": {"p50": 300.0}, "cold": 1, "known": 5},
            "cost": {"usd_per_million_ok": usd}}  # fmt: skip


TIMELINE = {"workloads": [
    {"tag": "a-512", "sweep": {"memory_mb": 512, "model": "mobilenetv2"}},
    {"tag": "a-1024", "sweep": {"memory_mb": 1024, "model": "mobilenetv2"}},
    {"tag": "b-512", "sweep": {"memory_mb": 512, "model": "resnet50"}},
]}  # fmt: skip
GROUPS = [_group("a-512", "mobilenetv2", 40.0, 2.0), _group("a-1024", "mobilenetv2", 20.0, 3.0),
          _group("b-512", "resnet50", 90.0, 5.0)]  # fmt: skip


def test_each_claim_gets_its_figure_and_says_measured_or_modelled() -> None:
    published = [
        {"claim": "latency falls with memory", "here": "warm_p50_by_memory"},
        {"claim": "MobileNet is cheapest", "here": "cheapest_by_memory"},
        "a claim without a figure",
        {"claim": "function vs server", "here": "function_vs_server"},
    ]
    lines = claim_lines(published, TIMELINE, GROUPS)
    assert lines[0] == ("published: latency falls with memory / here: warm p50 by memory (the fastest workload of "
                        "each setting): mobilenetv2: 512 MB 40.0 ms, 1024 MB 20.0 ms; resnet50: 512 MB 90.0 ms "
                        "(measured)")  # fmt: skip
    assert "512 MB mobilenetv2 ($2.00/million), 1024 MB mobilenetv2 ($3.00/million) (modelled)" in lines[1]
    assert lines[2] == "published: a claim without a figure / here: not checked automatically"
    assert lines[3] == "published: function vs server / here: no function vs server in this run"


def test_burst_sizes_rank_and_break_even() -> None:
    timeline = {"workloads": [
        {"tag": "b1-cold", "kind": "burst", "size": 1, "sweep": {}},
        {"tag": "b4-cold", "kind": "burst", "size": 4, "sweep": {}},
        {"tag": "b4-warm", "kind": "burst", "size": 4, "sweep": {}},
    ]}  # fmt: skip
    b1, b4 = _group("b1-cold", "m", 20.0, 1.0), _group("b4-cold", "m", 30.0, 1.0)
    b4["cold_starts"] = {**b4["cold_starts"], "cold": 4, "known": 4, "init_ms": {"p50": 500.0, "max": 700.0}}
    warm = _group("b4-warm", "m", 25.0, 1.0)
    warm["cold_starts"] = {**warm["cold_starts"], "cold": 0, "known": 4}
    fn = {**_group("fn", "m", 10.0, 2.0), "breakeven": {"function_usd_per_request": 2e-6, "rows": [
        {"instance_type": "t3.medium", "usd_per_hour": 0.0416, "breakeven_requests_per_day": 499_200.0},
        {"instance_type": "t2.small", "usd_per_hour": 0.023, "breakeven_requests_per_day": 276_000.0}]}}  # fmt: skip
    published = [
        {"claim": "cold grows with batch", "here": "cold_by_burst_size"},
        {"claim": "4 > 1", "here": "rank_by_p50", "labels": {"b1-cold": "one", "b4-warm": "four"}},
        {"claim": "break-even", "here": "break_even", "instance_type": "t2.small"},
    ]
    lines = claim_lines(published, timeline, [b1, b4, warm, fn])
    assert lines[0] == ("published: cold grows with batch / here: size 1: 1 cold of 5, init p50 300 ms, cold burst "
                        "p50 30.0 ms; size 4: 4 cold of 4, init p50 500 ms (max 700 ms), cold burst p50 45.0 ms, "
                        "warm burst p50 37.5 ms (measured)")  # fmt: skip
    assert lines[1] == "published: 4 > 1 / here: fastest first by p50: one (30.0 ms) > four (37.5 ms) (measured)"
    assert lines[2] == ("published: break-even / here: fn: $2.00e-06 per call -> 276,000 calls/day vs t2.small "
                        "($0.023/h) (modelled)")  # fmt: skip


def test_response_vs_execution_and_cost_per_combination() -> None:
    timeline = {"workloads": [
        {"tag": "r-a", "sweep": {"model": "resnet50", "runtime": "opencv"}},
        {"tag": "m-a", "sweep": {"model": "mobilenetv2", "runtime": "opencv"}},
    ]}  # fmt: skip
    slow, fast = _group("r-a", "resnet50", 100.0, 9.0), _group("m-a", "mobilenetv2", 10.0, 2.0)
    slow["duration_ms"], fast["duration_ms"] = {"p50": 120.0}, {"p50": 12.0}
    slow["cost"]["kind"] = fast["cost"]["kind"] = "function"
    published = [{"claim": "r vs e", "here": "response_vs_execution"}, {"claim": "cost", "here": "cost_per_million"}]
    lines = claim_lines(published, timeline, [slow, fast])
    assert lines[0] == ("published: r vs e / here: response p50 (execution p50), fastest first: mobilenetv2 / "
                        "opencv 15.0 ms (execution 12.0 ms); resnet50 / opencv 150 ms (execution 120 ms) "
                        "(measured)")  # fmt: skip
    assert lines[1] == ("published: cost / here: $ per million (billed GB-s x $/GB-s + requests; an upload's S3 GET "
                        "and PUT too), cheapest first: mobilenetv2 / opencv $2.00, resnet50 / opencv $9.00 "
                        "(modelled)")  # fmt: skip
