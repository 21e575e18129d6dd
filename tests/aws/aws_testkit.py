"""Helpers for the AWS tests: the template as data, real-shaped CloudWatch events, a stand-in API front.

`FakeFront` stands in for what cannot run here, API Gateway + Lambda invocation (moto's Lambda needs
Docker to invoke): a loopback HTTP server answering POST /predict with a body shaped like
handlers.lambda_api's, whose memory comes from the function's current configuration in moto, cold when
no idle environment of the current configuration exists (any configuration change), and which writes the
invocation's REPORT line (Lambda's exact format) into moto's CloudWatch Logs, as the platform would. Like
Lambda, an environment handles one request at a time: simultaneous requests start environments of their own.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import yaml

from labkit.config import REPO_ROOT
from labkit.net import LOOPBACK
from labkit.reportlog import format_report_line

DEPLOY_DIR = REPO_ROOT / "handlers" / "deploy"
TEMPLATE = DEPLOY_DIR / "template.yaml"
IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/loadlab:latest"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags as {"Fn::X": value} / {"Ref": value}."""


def _tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)


class Resolver:
    """Evaluates the template's conditions for given parameters (defaults for the rest) and resolves
    Fn::If / Fn::Equals / a Ref to a parameter in a node; any other intrinsic is kept as it is."""

    def __init__(self, template: dict[str, Any], **parameters: str) -> None:
        self.params = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
        unknown = set(parameters) - set(self.params)
        assert not unknown, f"not template parameters: {unknown}"
        self.params.update(parameters)
        self.conditions: dict[str, bool] = {}
        for name, expr in template.get("Conditions", {}).items():
            self.conditions[name] = bool(self.resolve(expr))

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Fn::If"}:
            condition, when_true, when_false = node["Fn::If"]
            return self.resolve(when_true if self.conditions[condition] else when_false)
        if set(node) == {"Fn::Equals"}:
            left, right = (self.resolve(side) for side in node["Fn::Equals"])
            return left == right
        if set(node) == {"Ref"} and node["Ref"] in self.params:
            return self.params[node["Ref"]]
        return {key: self.resolve(value) for key, value in node.items()}


def report_event(
    request_id: str,
    timestamp_ms: int,
    stream: str,
    init_ms: float | None = None,
    memory_mb: int = 1024,
    duration_ms: float = 41.37,
) -> dict[str, Any]:
    """One filter_log_events event as CloudWatch returns it (the message ends with a newline)."""
    message = format_report_line(request_id, duration_ms, memory_mb, 143, init_duration_ms=init_ms) + "\n"
    return {
        "logStreamName": stream,
        "timestamp": timestamp_ms,
        "message": message,
        "ingestionTime": timestamp_ms + 812,
        "eventId": f"{timestamp_ms}{abs(hash(request_id)) % 10**20:020d}",
    }


def stream_name() -> str:
    return f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"


class FakeFront:
    """See the module docstring. `url` is the base URL (POST {url}/predict)."""

    def __init__(self, endpoint_url: str, function: str, log_group: str) -> None:
        self._lam = boto3.client("lambda", endpoint_url=endpoint_url, region_name="us-east-1")
        self._logs = boto3.client("logs", endpoint_url=endpoint_url, region_name="us-east-1")
        self.function, self.log_group = function, log_group
        self._lock = threading.Lock()
        self._idle: dict[str, list[str]] = {}  # configuration fingerprint -> idle environments (log streams)
        self.busy_s = 0.2
        self.requests = 0
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.dumps(front.invoke()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeFront:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def invoke(self) -> dict[str, Any]:
        config = self._lam.get_function_configuration(FunctionName=self.function)
        memory_mb = int(config["MemorySize"])
        fingerprint = json.dumps([memory_mb, config.get("Environment", {})], sort_keys=True)
        with self._lock:  # one request per environment: reuse an idle one (warm) or start one (cold)
            self.requests += 1
            idle = self._idle.setdefault(fingerprint, [])
            cold = not idle
            stream = stream_name() if cold else idle.pop()
        time.sleep(self.busy_s)  # the environment is busy while it handles the request
        request_id = str(uuid.uuid4())
        init_ms = 812.5 if cold else None
        self._put_report(request_id, stream, memory_mb, init_ms)
        with self._lock:
            self._idle[fingerprint].append(stream)
        return {
            "model_name": "mobilenetv2",
            "weights": "random",
            "top5": [],
            "cold_start": cold,
            "init_ms": init_ms,
            "preprocess_ms": 3.1,
            "inference_ms": 30.2,
            "handler_ms": 35.0,
            "memory_mb": memory_mb,
            "max_memory_used_mb": 143.0,
            "instance_id": stream,
            "function_request_id": request_id,
        }

    def _put_report(self, request_id: str, stream: str, memory_mb: int, init_ms: float | None) -> None:
        with contextlib.suppress(self._logs.exceptions.ResourceAlreadyExistsException):
            self._logs.create_log_stream(logGroupName=self.log_group, logStreamName=stream)
        line = format_report_line(request_id, 36.42, memory_mb, 143, init_duration_ms=init_ms)
        now_ms = int(time.time() * 1000)
        self._logs.put_log_events(
            logGroupName=self.log_group,
            logStreamName=stream,
            logEvents=[
                {"timestamp": now_ms, "message": f"START RequestId: {request_id} Version: $LATEST"},
                {"timestamp": now_ms, "message": line},
            ],
        )
