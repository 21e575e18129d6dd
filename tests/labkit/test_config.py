import shutil
from pathlib import Path

import pytest

from labkit.config import DEFAULT_CONFIG_DIR, load_config
from labkit.errors import ConfigError


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    for name in ("localcloud.yaml", "targets.yaml"):
        shutil.copy(DEFAULT_CONFIG_DIR / name, tmp_path / name)
    return tmp_path


def test_shipped_config_loads():
    config = load_config()
    assert config.localcloud.function("inference-api").handler == "handlers.lambda_api.handler"
    assert config.target("local-server").is_local
    assert not config.target("lambda").is_local


def test_env_variable_overrides_target_url(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LOADLAB_LAMBDA_URL", "https://abc.execute-api.us-east-1.amazonaws.com")
    assert load_config().target("lambda").resolved_url().startswith("https://abc.")


def test_unknown_target_lists_known_ones():
    with pytest.raises(ConfigError, match="unknown target 'lamda'.*ec2.*lambda"):
        load_config().target("lamda")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "memory_mb: 1769        # emulated",
            "memory_mb: 64 #",
            r"functions\[0\]: function 'inference-api': memory_mb=64 must be in 128\.\.10240",
        ),
        ("workers: 2", "workers: two", r"server\.workers: expected int, got 'two'"),
        ("name: mobilenetv2 ", "name: vgg ", r"model\.name: 'vgg' is not one of"),
        ("concurrency_limit: 4", "concurrency_limit: 4\n    colour: red", r"functions\[1\]: unknown keys \['colour'\]"),
    ],
)
def test_bad_values_name_file_key_and_expectation(config_dir: Path, old: str, new: str, message: str):
    path = config_dir / "localcloud.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=message) as info:
        load_config(config_dir)
    assert "localcloud.yaml" in str(info.value)


def test_invalid_yaml_names_line(config_dir: Path):
    (config_dir / "targets.yaml").write_text("targets:\n  a: [unclosed\n")
    with pytest.raises(ConfigError, match=r"targets\.yaml:\d+: invalid YAML"):
        load_config(config_dir)


def test_missing_file_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="localcloud.yaml: config file not found"):
        load_config(tmp_path)


def _endpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    path = tmp_path / "aws-endpoints.json"
    path.write_text(body)
    monkeypatch.setenv("LOADLAB_AWS_ENDPOINTS", str(path))
    monkeypatch.delenv("LOADLAB_LAMBDA_URL", raising=False)


def test_deployed_endpoints_fill_the_aws_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _endpoints(tmp_path, monkeypatch, '{"targets": {"lambda": {"url": "https://x.execute-api.eu-west-1.amazonaws.com",'
               ' "region": "eu-west-1", "function_name": "stack-inference"}, "ec2": {"url": ""}}}')  # fmt: skip
    lam = load_config().target("lambda")
    assert lam.resolved_url() == "https://x.execute-api.eu-west-1.amazonaws.com"
    assert (lam.region, lam.function_name) == ("eu-west-1", "stack-inference")
    assert load_config().target("ec2").resolved_url() == ""  # empty values fill nothing
    monkeypatch.setenv("LOADLAB_LAMBDA_URL", "http://127.0.0.1:9/")
    assert load_config().target("lambda").resolved_url() == "http://127.0.0.1:9/"  # url_env wins


def test_broken_endpoints_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _endpoints(tmp_path, monkeypatch, '{"targets": ')
    with pytest.raises(ConfigError, match=r"aws-endpoints\.json:1: invalid JSON"):
        load_config()
