"""Bad configuration gives clear errors (and exit code 2) before anything is started or sent."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from labkit.errors import ConfigError
from locustfiles.__main__ import main
from locustfiles.options import check_plan, plan_from_options
from locustfiles.safety import check_host
from locustfiles.settings import load_settings

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_unknown_target(capsys, tmp_path):
    code, err = _run(capsys, "--target", "mars", "--runs", str(tmp_path))
    assert code == 2 and "unknown target 'mars'" in err and "local-faas" in err
    assert not list(tmp_path.iterdir())  # no run dir for a refused run


def test_missing_url_says_what_to_set(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("LOADLAB_EC2_URL", raising=False)
    code, err = _run(capsys, "--target", "ec2", "--runs", str(tmp_path))
    assert code == 2 and "LOADLAB_EC2_URL" in err and "make deploy" in err


def test_non_loopback_needs_the_flag(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LOADLAB_LAMBDA_URL", "https://abc123.execute-api.us-east-1.amazonaws.com")
    code, err = _run(capsys, "--target", "lambda", "--runs", str(tmp_path))
    assert code == 2 and "--yes-remote" in err and "abc123" in err
    assert not list(tmp_path.iterdir())


def test_bad_shape_parameters(capsys, tmp_path):
    code, err = _run(capsys, "--target", "local", "--duration-s", "-5", "--runs", str(tmp_path))
    assert code == 2 and "duration_s must be > 0" in err
    code, err = _run(capsys, "--target", "local", "--shape", "spike", "--base-rps", "500", "--runs", str(tmp_path))
    assert code == 2 and "base_rps must be within" in err
    code, err = _run(capsys, "--target", "local", "--shape", "trace", "--trace", str(tmp_path / "no.csv"))
    assert code == 3 and "no such trace file" in err


def test_rate_cap_and_duration_cap(capsys, tmp_path):
    code, err = _run(capsys, "--target", "local", "--rate-rps", "1500", "--runs", str(tmp_path))
    assert code == 2 and "--max-rate-rps" in err
    code, err = _run(capsys, "--target", "local", "--duration-s", "7200", "--runs", str(tmp_path))
    assert code == 2 and "--max-duration-s" in err


def test_check_host_accepts_loopback_only_without_consent():
    check_host("http://127.0.0.1:8080", yes_remote=False)
    check_host("http://localhost:8080", yes_remote=False)
    check_host("https://example.com", yes_remote=True)
    with pytest.raises(ConfigError, match="not on this machine"):
        check_host("http://10.0.0.5:8080", yes_remote=False)
    with pytest.raises(ConfigError, match="not an http"):
        check_host("ftp://127.0.0.1", yes_remote=False)


def _opts(**overrides):
    base = dict(lab_shape="ramp", lab_rate_rps=10.0, lab_duration_s=5.0, lab_step_count=5, lab_base_rps="",
                lab_spike_at_s="", lab_spike_s="", lab_trace="", lab_trace_start="", lab_trace_end="",
                lab_trace_process="uniform", lab_seed=1, lab_target="local-faas", lab_scenario="s",
                lab_predict_path="/predict", lab_images="", lab_max_inflight=10, lab_max_lag_s=1.0,
                lab_max_rate_rps=1000.0, lab_max_duration_s=60.0, lab_network_timeout_s=30.0,
                lab_yes_remote=False)  # fmt: skip
    return SimpleNamespace(**{**base, **overrides})


def test_locustfile_options_are_checked_like_the_cli():
    plan = plan_from_options(_opts())
    assert check_plan(plan, "http://127.0.0.1:1").peak_rps == 10.0
    assert plan.per_process_cap(3) == 4
    with pytest.raises(ConfigError, match="lab-base-rps: expected a number"):
        plan_from_options(_opts(lab_shape="spike", lab_base_rps="lots"))
    with pytest.raises(ConfigError, match="no host"):
        check_plan(plan, "")
    with pytest.raises(ConfigError, match="--yes-remote"):
        check_plan(plan, "http://192.0.2.1")
    with pytest.raises(ConfigError, match="safety cap"):
        check_plan(plan_from_options(_opts(lab_max_rate_rps=5.0)), "http://127.0.0.1:1")


def test_load_yaml_is_validated(tmp_path):
    assert load_settings(REPO_CONFIG).shape == "ramp"
    (tmp_path / "load.yaml").write_text("shape: sine\n")
    with pytest.raises(ConfigError, match=r"load.yaml.shape: 'sine'"):
        load_settings(tmp_path)
    (tmp_path / "load.yaml").write_text("rate_rps: fast\n")
    with pytest.raises(ConfigError, match=r"rate_rps: expected float"):
        load_settings(tmp_path)
    (tmp_path / "load.yaml").write_text("ratee_rps: 5\n")
    with pytest.raises(ConfigError, match="unknown keys"):
        load_settings(tmp_path)
