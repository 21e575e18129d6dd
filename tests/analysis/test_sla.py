import pandas as pd
import pytest
from analysis_helpers import rec, write_run

from analysis.__main__ import main
from analysis.frame import prepare
from analysis.sla import check_bound, exceedance_test, min_samples, parse_sla, window_verdicts
from analysis.windows import window_columns, window_frame
from labkit.errors import ConfigError

SPEC = {"default": {"p99_ms": 100, "error_rate": 0.01}, "window_s": 10,
        "targets": {"slow": {"p99_ms": 1000}, "slow/put": {"p99_ms": None}}}  # fmt: skip


def _group(latencies, **kw):
    return prepare(pd.DataFrame([{n: getattr(r, n) for n in r.__slots__} for r in
                                 (rec(i, "t", v, **kw) for i, v in enumerate(latencies))]))  # fmt: skip


def test_rules_merge_default_target_and_operation():
    spec = parse_sla(SPEC, "sla.yaml")
    assert spec.rule_for("fast", "predict") == {"p99_ms": 100.0, "error_rate": 0.01}
    assert spec.rule_for("slow", "predict")["p99_ms"] == 1000.0
    assert "p99_ms" not in spec.rule_for("slow", "put")


@pytest.mark.parametrize(
    ("data", "message"),
    [({"default": {"p98_ms": 1}}, "unknown keys"), ({"default": {"error_rate": 5}}, "a rate is a fraction"),
     ({"default": {"p99_ms": "fast"}}, r"default.p99_ms: expected a number"), ({"confidence": 2.0}, "confidence"),
     ([1, 2], "expected a mapping")],
)  # fmt: skip
def test_bad_specs_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_sla(data, "sla.yaml")


def test_min_samples_match_the_closed_form():
    assert min_samples(0.01, 0.95) == 299  # 0.99**299 <= 0.05 < 0.99**298
    assert min_samples(0.05, 0.95) == 59
    assert exceedance_test(0, 299, 0.01, 0.95)["confidence"] == "conclusive pass"
    assert exceedance_test(0, 298, 0.01, 0.95)["confidence"] == "inconclusive"
    assert exceedance_test(10, 100, 0.01, 0.95)["confidence"] == "conclusive breach"
    big = exceedance_test(3, 1000, 0.01, 0.95)
    assert big["confidence"] == "conclusive pass" and big["max_exceedances_for_conclusive_pass"] == 4


def test_percentile_bound_verdict_and_confidence():
    spec = parse_sla(SPEC, "sla.yaml")
    passing = check_bound(_group([20.0] * 400), "p99_ms", 100.0, spec)
    assert passing["verdict"] == "pass" and passing["confidence"] == "conclusive pass"
    failing = check_bound(_group([20.0] * 90 + [500.0] * 10), "p99_ms", 100.0, spec)
    assert failing["verdict"] == "breach" and failing["exceedances"] == 10
    assert failing["confidence"] == "conclusive breach"
    small = check_bound(_group([20.0] * 30), "p99_ms", 100.0, spec)
    assert small["verdict"] == "pass" and small["confidence"] == "inconclusive" and small["min_samples"] == 299


def test_window_verdicts_find_the_violating_windows():
    # 4 req/s for 40 s; latency is bad between 20 s and 30 s
    latencies = [500.0 if 80 <= i < 120 else 20.0 for i in range(160)]
    group = _group(latencies)
    spec = parse_sla(SPEC, "sla.yaml")
    result = window_verdicts(window_frame(group, 10.0), spec.rule_for("t", "predict"), spec)
    assert result["violating"] == [2] and result["time_in_violation_s"] == 10.0
    assert result["first_violation_s"] == 20.0 and result["windows"] == 4
    columns = window_columns(group, (10.0,))[10.0]  # the summary's plain columns: the same verdicts
    assert window_verdicts(columns, spec.rule_for("t", "predict"), spec) == result
    assert window_verdicts({}, spec.rule_for("t", "predict"), spec)["windows"] == 0  # a group without send times


def _sla_file(tmp_path, p99_ms):
    path = tmp_path / "sla.yaml"
    path.write_text(f"default:\n  p99_ms: {p99_ms}\n  error_rate: 0.01\n")
    return path


def test_cli_exit_codes_gate_on_breach(tmp_path, capsys):
    run = write_run(tmp_path / "runs", [rec(i, "local-server", 20.0 + i % 7) for i in range(50)])
    args = [str(run.path), "--no-plots"]
    assert main([*args, "--sla", str(_sla_file(tmp_path, 1000))]) == 0
    assert main([*args, "--sla", str(_sla_file(tmp_path, 5))]) == 10
    assert "SLA breach" in capsys.readouterr().err
    assert main([*args, "--sla", str(_sla_file(tmp_path, 5)).replace("sla", "nope")]) == 2
    assert main(args) == 0  # default spec: verdicts reported, no gate
    assert main([str(tmp_path / "missing-run")]) == 3
