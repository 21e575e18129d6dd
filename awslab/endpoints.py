"""The deployed endpoints, written where the load and replay commands find them.

`python -m awslab deploy` writes `.cache/aws-endpoints.json` (path: env LOADLAB_AWS_ENDPOINTS overrides):

    {"stack_name", "region", "written_unix_s", "api": "http" | "rest",
     "targets": {"lambda": {"url", "function_name", "region"}, "ec2": {"url"}},   # TargetConfig keys
     "functions": {"api", "s3", "s3_forward", "s3_chain", "chain_target", "s3_trigger"},
     "function_names": {<config/localcloud.yaml name>: <deployed name>}, "runtime": MODEL_RUNTIME,
     "buckets": {"input", "output"}, "log_groups": {"api", "s3", "s3_forward", "s3_chain", "chain_target", "ec2"},
     "outputs": {...every stack output...}, "env": {"LOADLAB_LAMBDA_URL": ..., "LOADLAB_EC2_URL": ...}}

and `.cache/aws-endpoints.env` with the same `env` as `export` lines (`source` it in a shell).
`apply_endpoints(config)` fills the `lambda` / `ec2` targets of a loaded config from the file
(a URL set in targets.yaml or by the url_env variable still wins).

`functions.s3_trigger` is the function the input bucket's uploads invoke (deploy --s3-trigger); `function_names`
maps the local cloud's function names (inference-api, inference-s3, inference-s3-forward, inference-s3-chain,
inference-chain-target) to the stack's, so a plan naming a local function finds the deployed one.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.config import AWS_ENDPOINTS_ENV, DEFAULT_AWS_ENDPOINTS, LabConfig, aws_endpoints_path, fill_deployed
from labkit.errors import ConfigError, InputError

DEFAULT_PATH = DEFAULT_AWS_ENDPOINTS
PATH_ENV = AWS_ENDPOINTS_ENV
API_KINDS = ("http", "rest")
# label in the endpoints file -> (stack output of the function's name, of its log group, config/localcloud.yaml name)
FUNCTION_OUTPUTS = {
    "api": ("ApiFunctionName", "ApiFunctionLogGroupName", "inference-api"),
    "s3": ("S3FunctionName", "S3FunctionLogGroupName", "inference-s3"),
    "s3_forward": ("S3ForwardFunctionName", "S3ForwardFunctionLogGroupName", "inference-s3-forward"),
    "s3_chain": ("S3ChainFunctionName", "S3ChainFunctionLogGroupName", "inference-s3-chain"),
    "chain_target": ("ChainTargetFunctionName", "ChainTargetFunctionLogGroupName", "inference-chain-target"),
}


def endpoints_path() -> Path:
    return aws_endpoints_path()


def _url(outputs: dict[str, str], key: str) -> str:
    """A URL output, or "" when absent or unresolved (an emulator may leave `${...}` in it)."""
    value = outputs.get(key, "").rstrip("/")
    return value if value.startswith(("http://", "https://")) and "${" not in value else ""


@dataclass(frozen=True)
class Endpoints:
    stack_name: str
    region: str
    api: str  # which API the `lambda` target uses: http | rest
    outputs: dict[str, str] = field(default_factory=dict)
    written_unix_s: float = 0.0

    @classmethod
    def from_outputs(cls, stack_name: str, region: str, outputs: dict[str, str], api: str) -> Endpoints:
        if api not in API_KINDS:
            raise ConfigError(f"--api {api!r}: expected one of {', '.join(API_KINDS)}")
        return cls(stack_name, region, api, dict(outputs), time.time())

    @property
    def http_api_url(self) -> str:
        return _url(self.outputs, "HttpApiUrl")

    @property
    def rest_api_url(self) -> str:
        return _url(self.outputs, "RestApiUrl")

    @property
    def lambda_url(self) -> str:
        """The chosen API's base URL (the other one when the chosen one is not resolved)."""
        first, second = (self.http_api_url, self.rest_api_url)
        if self.api == "rest":
            first, second = second, first
        return first or second

    @property
    def ec2_url(self) -> str:
        return _url(self.outputs, "Ec2Url")

    @property
    def api_function(self) -> str:
        return self.outputs.get("ApiFunctionName", "")

    @property
    def s3_trigger_function(self) -> str:
        """The function the input bucket notifies (a stack from before S3Trigger: the S3 function)."""
        return self.outputs.get("S3TriggerFunctionName") or self.outputs.get("S3FunctionName", "")

    def functions(self) -> dict[str, str]:
        """label -> deployed function name (empty for an output the stack does not have)."""
        names = {label: self.outputs.get(name, "") for label, (name, _, _) in FUNCTION_OUTPUTS.items()}
        return {**names, "s3_trigger": self.s3_trigger_function}

    def function_names(self) -> dict[str, str]:
        """config/localcloud.yaml function name -> deployed name, for the functions the stack has."""
        named = {local: self.outputs.get(name, "") for name, _, local in FUNCTION_OUTPUTS.values()}
        return {local: deployed for local, deployed in named.items() if deployed}

    def log_groups(self) -> dict[str, str]:
        groups = {label: self.outputs.get(group, "") for label, (_, group, _) in FUNCTION_OUTPUTS.items()}
        return {**groups, "ec2": self.outputs.get("Ec2LogGroupName", "")}

    def warnings(self) -> list[str]:
        out = []
        chosen = self.http_api_url if self.api == "http" else self.rest_api_url
        if not chosen and self.lambda_url:
            out.append(
                f"the {self.api} API URL output is missing or unresolved; the lambda target uses {self.lambda_url}"
            )
        if not self.lambda_url:
            out.append("no API URL in the stack outputs: the lambda target has no URL")
        return out

    def env(self) -> dict[str, str]:
        env = {"LOADLAB_LAMBDA_URL": self.lambda_url}
        if self.ec2_url:
            env["LOADLAB_EC2_URL"] = self.ec2_url
        return {k: v for k, v in env.items() if v}

    def as_dict(self) -> dict[str, Any]:
        o = self.outputs
        return {
            "stack_name": self.stack_name,
            "region": self.region,
            "written_unix_s": self.written_unix_s,
            "api": self.api,
            "targets": {
                "lambda": {"url": self.lambda_url, "function_name": self.api_function, "region": self.region},
                "ec2": {"url": self.ec2_url},
            },
            "functions": self.functions(),
            "function_names": self.function_names(),
            "runtime": o.get("ModelRuntime", ""),
            "buckets": {"input": o.get("InputBucketName", ""), "output": o.get("OutputBucketName", "")},
            "log_groups": self.log_groups(),
            "outputs": dict(o),
            "env": self.env(),
        }


def write_endpoints(endpoints: Endpoints, path: Path) -> Path:
    """Write the JSON file (atomically) and its `.env` companion; returns the JSON path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(endpoints.as_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    lines = [f"# written by python -m awslab deploy for stack {endpoints.stack_name}; `source` this file"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in endpoints.env().items()]
    path.with_suffix(".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_endpoints(path: Path | None = None) -> Endpoints:
    path = path or endpoints_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no endpoints file; run `python -m awslab deploy` first") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    try:
        return Endpoints(
            str(data["stack_name"]),
            str(data["region"]),
            str(data.get("api", "http")),
            dict(data["outputs"]),
            float(data.get("written_unix_s", 0.0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not an endpoints file ({exc}); deploy again to rewrite it") from None


def apply_endpoints(config: LabConfig, endpoints: Endpoints) -> LabConfig:
    """`config` with the lambda / ec2 targets' empty url, function_name and region filled from `endpoints`."""
    return dataclasses.replace(config, targets=fill_deployed(config.targets, endpoints.as_dict()["targets"]))
