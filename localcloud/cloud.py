"""The embedded local cloud: S3 (moto server) with upload triggers, the function platform, the gunicorn server.

    with LocalCloud(config.localcloud, work_dir).start() as cloud:
        cloud.endpoints.faas_url      # API-Gateway-like front + Lambda Invoke API
        cloud.endpoints.server_url    # the EC2-like gunicorn server
        cloud.endpoints.s3_endpoint_url

Everything listens on 127.0.0.1 on ports picked free; `close()` stops every process it started.
Each function and the server may have their own model runtime and model (`runtime:` / `model:` in
config/localcloud.yaml, over the top-level ones); a built-in model with `source: s3` is uploaded to the
local S3 at start if it is not there yet, so that source works offline.
Uploads to the input bucket drive one function (`s3.trigger_function`, or `CloudOptions.s3_trigger`). The
server starts before the functions, which get its URL as `SERVER_URL` and the platform's Lambda API as
`AWS_ENDPOINT_URL_LAMBDA` (the chained S3 pipelines: handlers.lambda_s3_forward / lambda_s3_chain).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handlers.models import BUILTIN_MODELS, resolve_model
from handlers.models.store import default_cache_dir, parse_s3_uri, upload_builtin_model
from labkit.config import REPO_ROOT, LocalCloudConfig, ModelConfig
from labkit.errors import TargetError
from localcloud.faas import FunctionSpec, Platform, start_platform_server
from localcloud.faas.apigw import ApiRoute
from localcloud.s3 import MotoS3Server, NotificationBridge, make_client, setup_trigger
from localcloud.server import GunicornServer

log = logging.getLogger(__name__)
PARTS = ("s3", "faas", "server")
LAMBDA_ENDPOINT_ENV = "AWS_ENDPOINT_URL_LAMBDA"  # boto3's per-service endpoint: the functions' Lambda API
TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@dataclass(frozen=True)
class Endpoints:
    faas_url: str = ""
    server_url: str = ""
    s3_endpoint_url: str = ""
    input_bucket: str = ""
    output_bucket: str = ""
    aggregate_log: str = ""

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass
class CloudOptions:
    """Run-time overrides of the config (the demo shortens keep-alive, tests pick a small model)."""

    parts: tuple[str, ...] = PARTS
    keepalive_s: float | None = None
    model: ModelConfig | None = None
    server_workers: int | None = None
    model_cache_dir: Path | None = None
    runtime: str | None = None  # the model runtime of every function and the server that set none of their own
    s3_trigger: str | None = None  # the function uploads to the input bucket drive; None = config s3.trigger_function


class LocalCloud:
    """Starts and stops the local cloud's parts; see the module doc."""

    def __init__(self, config: LocalCloudConfig, work_dir: Path, options: CloudOptions | None = None) -> None:
        self.config = config
        self.work_dir = work_dir
        self.options = options or CloudOptions()
        unknown = set(self.options.parts) - set(PARTS)
        if unknown:
            raise TargetError(f"unknown local cloud parts {sorted(unknown)}; expected some of {PARTS}")
        self.model = self.options.model or config.model
        self.runtime = self.options.runtime or config.runtime
        self.s3_trigger = ""
        self.route_uploads(self.options.s3_trigger or config.s3.trigger_function)
        self.endpoints = Endpoints()
        self.platform: Platform | None = None
        self.bridge: NotificationBridge | None = None
        self._s3: MotoS3Server | None = None
        self._front: Any = None
        self._server: GunicornServer | None = None

    def route_uploads(self, function: str) -> None:
        """Uploads to the input bucket drive `function` from the next event on (TargetError when unknown)."""
        if function not in {fn.name for fn in self.config.functions}:
            raise TargetError(f"s3 trigger {function!r} is not a function of the local cloud")
        self.s3_trigger = function

    def model_for(self, overrides: dict[str, str], where: str = "model") -> ModelConfig:
        """The local cloud's model with a function's or the server's `model:` keys over it."""
        return self.model.merged(overrides, where) if overrides else self.model

    def handler_environment(self, model: ModelConfig | None = None, runtime: str = "") -> dict[str, str]:
        """What a function or server worker sees: model and runtime selection (the local cloud's unless
        given), S3 endpoint, dummy credentials."""
        env = {
            **(model or self.model).environment(),
            "MODEL_RUNTIME": runtime or self.runtime,
            **TEST_CREDENTIALS,
            "OUTPUT_BUCKET": self.config.s3.output_bucket,
        }
        if self.options.model_cache_dir:
            env["MODEL_CACHE_DIR"] = str(self.options.model_cache_dir)
        if self.endpoints.s3_endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoints.s3_endpoint_url
        return env

    def models(self) -> list[ModelConfig]:
        """Every distinct model the functions and the server use."""
        chosen = [self.model_for(fn.model, fn.name) for fn in self.config.functions]
        chosen.append(self.model_for(self.config.server.model, "server"))
        return list(dict.fromkeys([self.model, *chosen]))

    def prepare_model(self) -> str:
        """Build every built-in model once, before any environment starts, so no cold start pays for it;
        put a built-in model with `source: s3` into the local S3 (each cold start then downloads it)."""
        done = []
        for model in self.models():
            if model.source == "s3":
                done.append(self._ensure_s3_model(model))
                continue
            ref = resolve_model({**os.environ, **self.handler_environment(model)})
            done.append(f"{ref.model_name} ({ref.weights} weights) at {ref.path}")
        return "; ".join(done)

    def _ensure_s3_model(self, model: ModelConfig) -> str:
        """The s3:// model is in the local S3 (uploaded now if it is a built-in one and missing)."""
        if self._s3 is None:
            return f"{model.name} at {model.path} (not checked: the local S3 is not started)"
        client = make_client("s3", self._s3.endpoint_url)
        bucket, key = parse_s3_uri(model.path)
        try:
            client.head_object(Bucket=bucket, Key=key)
            return f"{model.name} at {model.path} (already in the local S3)"
        except client.exceptions.ClientError as exc:
            if model.name not in BUILTIN_MODELS:
                raise TargetError(f"{model.path} is not in the local S3 and {model.name!r} is not built in") from exc
        cache_dir = default_cache_dir({**os.environ, **self.handler_environment(model)})
        upload_builtin_model(client, model.name, model.path, cache_dir)
        return f"{model.name} (random weights) uploaded to {model.path} in the local S3"

    def start(self) -> LocalCloud:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        try:
            if "s3" in self.options.parts:
                self._start_s3()
            log.info("model: %s", self.prepare_model())
            if "server" in self.options.parts:  # before the functions: they get its URL (SERVER_URL)
                self._start_server()
            if "faas" in self.options.parts:
                self._start_faas()
        except BaseException:
            self.close()
            raise
        return self

    def _start_s3(self) -> None:
        self._s3 = MotoS3Server(log_path=self.work_dir / "moto.log").start()
        s3 = self.config.s3
        setup_trigger(self._s3.endpoint_url, s3.input_bucket, s3.output_bucket, s3.queue)
        self.endpoints = dataclasses.replace(
            self.endpoints,
            s3_endpoint_url=self._s3.endpoint_url,
            input_bucket=s3.input_bucket,
            output_bucket=s3.output_bucket,
        )

    def _function_specs(self) -> list[FunctionSpec]:
        keepalive = self.options.keepalive_s
        server = {"SERVER_URL": self.endpoints.server_url} if self.endpoints.server_url else {}
        return [
            dataclasses.replace(
                fn,
                environment={
                    **self.handler_environment(self.model_for(fn.model, fn.name), fn.runtime),
                    **server,
                    **fn.environment,
                },
                keepalive_s=keepalive if keepalive is not None else fn.keepalive_s,
                python_path=(REPO_ROOT, *fn.python_path),
            )
            for fn in self.config.functions
        ]

    def _start_faas(self) -> None:
        self.platform = Platform(self._function_specs(), self.work_dir / "functions")
        routes = [ApiRoute(r.method, r.path, r.function, r.payload_format) for r in self.config.api_routes]
        self._front = start_platform_server(self.platform, routes=routes)
        for name, spec in list(self.platform.specs.items()):  # no environment runs yet: nothing is retired
            lambda_api = {LAMBDA_ENDPOINT_ENV: self._front.url}  # a chained function invokes the next one here
            self.platform.update_function(name, environment={**spec.environment, **lambda_api})
        self.endpoints = dataclasses.replace(
            self.endpoints, faas_url=self._front.url, aggregate_log=str(self.platform.aggregate_log_path)
        )
        if self._s3 is not None:
            self._start_bridge()

    def _start_bridge(self) -> None:
        assert self._s3 is not None and self.platform is not None
        platform = self.platform

        def deliver(event: dict[str, Any]) -> None:
            function = self.s3_trigger  # read per event: setting `s3_trigger` re-routes the next uploads
            result = platform.invoke(function, json.dumps(event).encode(), "Event")
            if result.status_code != 202:
                raise TargetError(f"async invoke of {function} answered {result.status_code}: {result.payload[:200]!r}")

        sqs = make_client("sqs", self._s3.endpoint_url)
        queue_url = sqs.get_queue_url(QueueName=self.config.s3.queue)["QueueUrl"]
        self.bridge = NotificationBridge(sqs, queue_url, deliver).start()

    def _start_server(self) -> None:
        workers = self.options.server_workers or self.config.server.workers
        server = self.config.server
        env = {
            **self.handler_environment(self.model_for(server.model, "server"), server.runtime),
            "PYTHONPATH": _pythonpath(),
        }
        self._server = GunicornServer(
            workers=workers,
            env=env,
            log_path=self.work_dir / "gunicorn.log",
            boot_timeout_s=self.config.server.boot_timeout_s,
        ).start()
        self.endpoints = dataclasses.replace(self.endpoints, server_url=self._server.url)

    def close(self) -> None:
        """Stop everything started, in reverse order; the first error is raised after all are stopped."""
        errors: list[BaseException] = []
        for stop in (self._stop_server, self._stop_bridge, self._stop_faas, self._stop_s3):
            try:
                stop()
            except Exception as exc:  # keep stopping the rest, then report
                errors.append(exc)
        if errors:
            raise TargetError(f"local cloud did not stop cleanly: {errors[0]}") from errors[0]

    def _stop_server(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _stop_bridge(self) -> None:
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge = None

    def _stop_faas(self) -> None:
        if self._front is not None:
            self._front.close()
            self._front = None
        if self.platform is not None:
            self.platform.close()

    def _stop_s3(self) -> None:
        if self._s3 is not None:
            self._s3.stop()
            self._s3 = None

    def __enter__(self) -> LocalCloud:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pythonpath() -> str:
    existing = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join(p for p in (str(REPO_ROOT), existing) if p)
