"""One typed config, loaded once from `config/*.yaml` and validated into dataclasses.

Every error names the file, the key path and what was expected. Environment variables override
target URLs (`url_env`), so the same files serve the local cloud and AWS.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from labkit.errors import ConfigError
from localcloud.faas.spec import FunctionSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_DIR = REPO_ROOT / "config"
AWS_ENDPOINTS_ENV = "LOADLAB_AWS_ENDPOINTS"  # where `python -m awslab deploy` wrote the stack's endpoints
DEFAULT_AWS_ENDPOINTS = REPO_ROOT / ".cache" / "aws-endpoints.json"
DEPLOYED_KINDS = ("lambda", "ec2")
TARGET_KINDS = ("local-faas", "local-server", "lambda", "ec2")
MODEL_NAMES = ("resnet50", "mobilenetv2", "inceptionv3", "smallcnn")
MODEL_SOURCES = ("builtin", "path", "s3", "dir")
MODEL_RUNTIMES = ("onnxruntime", "opencv", "openvino")  # handlers.model_runtimes.RUNTIMES (handlers import no labkit)

T = TypeVar("T")


@dataclass(frozen=True)
class ModelConfig:
    name: str = "mobilenetv2"
    source: str = "builtin"
    path: str = ""  # .onnx path, s3:// URI or mounted directory, per `source`

    def validate(self, where: str) -> None:
        _one_of(self.source, MODEL_SOURCES, f"{where}.source")
        if self.source == "builtin":
            _one_of(self.name, MODEL_NAMES, f"{where}.name")
        elif not self.path:
            raise ConfigError(f"{where}.path: required when source is {self.source!r}")

    def merged(self, overrides: dict[str, str], where: str) -> ModelConfig:
        """This model with a function's or the server's `model:` keys (name / source / path) over it."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}; expected some of {sorted(known)}")
        model = dataclasses.replace(self, **overrides)
        model.validate(where)
        return model

    def environment(self) -> dict[str, str]:
        """The handler's environment variables (Lambda style) that select this model."""
        env = {"MODEL_NAME": self.name, "MODEL_SOURCE": self.source}
        if self.source == "s3":
            env["MODEL_URI"] = self.path
        elif self.source == "dir":
            env["MODEL_DIR"] = self.path
        elif self.source == "path":
            env["MODEL_PATH"] = self.path
        return env


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    function: str
    payload_format: str = "2.0"

    def validate(self, where: str) -> None:
        _one_of(self.payload_format, ("1.0", "2.0"), f"{where}.payload_format")
        if not self.path.startswith("/"):
            raise ConfigError(f"{where}.path: {self.path!r} must start with /")


@dataclass(frozen=True)
class ServerConfig:
    workers: int = 2
    boot_timeout_s: float = 120.0
    runtime: str = ""  # the model runtime; "" = the local cloud's
    model: dict[str, str] = field(default_factory=dict)  # name / source / path over the local cloud's model

    def validate(self, where: str) -> None:
        if self.workers < 1:
            raise ConfigError(f"{where}.workers: must be >= 1")
        if self.runtime:
            _one_of(self.runtime, MODEL_RUNTIMES, f"{where}.runtime")


@dataclass(frozen=True)
class S3Config:
    input_bucket: str = "loadlab-input"
    output_bucket: str = "loadlab-results"
    queue: str = "loadlab-input-events"
    trigger_function: str = "inference-s3"


@dataclass(frozen=True)
class LocalCloudConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    runtime: str = "onnxruntime"  # the model runtime of every function and the server, unless they set theirs
    functions: tuple[FunctionSpec, ...] = ()
    api_routes: tuple[ApiRoute, ...] = ()
    server: ServerConfig = field(default_factory=ServerConfig)
    s3: S3Config = field(default_factory=S3Config)

    def validate(self, where: str) -> None:
        self.model.validate(f"{where}.model")
        _one_of(self.runtime, MODEL_RUNTIMES, f"{where}.runtime")
        for i, fn in enumerate(self.functions):
            if fn.runtime:
                _one_of(fn.runtime, MODEL_RUNTIMES, f"{where}.functions[{i}].runtime")
            self.model.merged(fn.model, f"{where}.functions[{i}].model")
        self.model.merged(self.server.model, f"{where}.server.model")
        names = {fn.name for fn in self.functions}
        for i, route in enumerate(self.api_routes):
            route.validate(f"{where}.api_routes[{i}]")
            if route.function not in names:
                raise ConfigError(f"{where}.api_routes[{i}].function: {route.function!r} is not in functions")
        if self.s3.trigger_function not in names:
            raise ConfigError(f"{where}.s3.trigger_function: {self.s3.trigger_function!r} is not in functions")
        self.server.validate(f"{where}.server")

    def function(self, name: str) -> FunctionSpec:
        for fn in self.functions:
            if fn.name == name:
                return fn
        raise ConfigError(f"no function named {name!r} in the local cloud config")


@dataclass(frozen=True)
class TargetConfig:
    name: str
    kind: str
    url: str = ""
    url_env: str = ""  # an environment variable that, when set, gives the URL
    predict_path: str = "/predict"
    region: str = "us-east-1"
    function_name: str = ""

    def validate(self, where: str) -> None:
        _one_of(self.kind, TARGET_KINDS, f"{where}.kind")

    @property
    def is_local(self) -> bool:
        return self.kind.startswith("local-")

    def resolved_url(self) -> str:
        """The target's base URL: the env variable if set, else the file's `url` (may be empty)."""
        return (os.environ.get(self.url_env, "") if self.url_env else "") or self.url


@dataclass(frozen=True)
class LabConfig:
    localcloud: LocalCloudConfig
    targets: dict[str, TargetConfig]
    source_dir: Path

    def target(self, name: str) -> TargetConfig:
        if name not in self.targets:
            known = ", ".join(sorted(self.targets))
            raise ConfigError(f"unknown target {name!r}; expected one of: {known} (config/targets.yaml)")
        return self.targets[name]

    def as_dict(self) -> dict[str, Any]:
        """A plain snapshot for run manifests."""
        return {
            "localcloud": dataclasses.asdict(self.localcloud),
            "targets": {k: dataclasses.asdict(v) for k, v in self.targets.items()},
            "source_dir": str(self.source_dir),
        }


def _one_of(value: str, allowed: tuple[str, ...], where: str) -> None:
    if value not in allowed:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(allowed)}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        (item_tp, _ellipsis) = typing.get_args(tp)
        return tuple(_convert(item, item_tp, f"{where}[{i}]") for i, item in enumerate(value))
    if dataclasses.is_dataclass(tp):
        return build(tp, value, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return {str(k): str(v) for k, v in value.items()}
    if tp is Path and isinstance(value, str):
        return Path(value)
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(tp, type) and isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
        return value
    if isinstance(tp, types.UnionType):
        raise ConfigError(f"{where}: unsupported union type")
    raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")


def build(cls: type[T], data: Any, where: str) -> T:
    """Build dataclass `cls` from a mapping, rejecting unknown keys and wrong types by name."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; expected some of {sorted(known)}")
    values = {key: _convert(value, hints[key], f"{where}.{key}") for key, value in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except ConfigError as exc:  # the dataclass's own validation: say where in which file
        raise ConfigError(f"{where}: {exc}") from None


SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader (about 10x faster) if built


def invalid_yaml(path: Path, exc: yaml.YAMLError) -> ConfigError:
    """The error for a file that is not valid YAML: its name, the line of the problem (when known), the problem."""
    mark = getattr(exc, "problem_mark", None)
    line = f":{mark.line + 1}" if mark else ""
    return ConfigError(f"{path}{line}: invalid YAML ({getattr(exc, 'problem', exc)})")


def read_yaml(path: Path, what: str = "config file") -> Any:
    """The parsed YAML document of `path` (None for an empty file); ConfigError naming the file (and line)."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except yaml.YAMLError as exc:
        raise invalid_yaml(path, exc) from None


def aws_endpoints_path() -> Path:
    return Path(os.environ.get(AWS_ENDPOINTS_ENV) or DEFAULT_AWS_ENDPOINTS)


def _deployed_targets(path: Path) -> dict[str, dict[str, Any]]:
    """The `targets` section of a deploy's endpoints file ({} when there is no file)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg}); re-run `make deploy` or delete it") from None
    targets = data.get("targets") if isinstance(data, dict) else None
    return targets if isinstance(targets, dict) else {}


def fill_deployed(targets: dict[str, TargetConfig], deployed: dict[str, dict[str, Any]]) -> dict[str, TargetConfig]:
    """The lambda / ec2 targets with empty fields filled from a deploy's endpoints (by kind).

    A URL set in targets.yaml wins over the deployed one, and `url_env` wins over both.
    """
    out = dict(targets)
    for name, target in targets.items():
        values = deployed.get(target.kind) if target.kind in DEPLOYED_KINDS else None
        if not isinstance(values, dict):
            continue
        known = {f.name for f in dataclasses.fields(TargetConfig)} - {"name", "kind"}
        updates = {k: v for k, v in values.items() if k in known and v and not (k == "url" and target.url)}
        out[name] = dataclasses.replace(target, **updates)
    return out


def load_config(config_dir: Path | None = None) -> LabConfig:
    """Load and validate `localcloud.yaml` and `targets.yaml` from `config_dir` (env LOADLAB_CONFIG_DIR),
    with the lambda / ec2 targets completed from the last `make deploy` (`.cache/aws-endpoints.json`)."""
    directory = config_dir or Path(os.environ.get("LOADLAB_CONFIG_DIR", DEFAULT_CONFIG_DIR))
    cloud_path = directory / "localcloud.yaml"
    cloud = build(LocalCloudConfig, read_yaml(cloud_path) or {}, str(cloud_path))
    cloud.validate(str(cloud_path))
    targets_path = directory / "targets.yaml"
    raw_targets = (read_yaml(targets_path) or {}).get("targets")
    if not isinstance(raw_targets, dict) or not raw_targets:
        raise ConfigError(f"{targets_path}: expected a non-empty mapping under 'targets'")
    targets: dict[str, TargetConfig] = {}
    for name, body in raw_targets.items():
        where = f"{targets_path}: targets.{name}"
        target = build(TargetConfig, {"name": name, **(body or {})}, where)
        target.validate(where)
        targets[name] = target
    targets = fill_deployed(targets, _deployed_targets(aws_endpoints_path()))
    return LabConfig(localcloud=cloud, targets=targets, source_dir=directory)
