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
