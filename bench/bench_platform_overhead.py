"""Warm-invoke overhead of the local function platform, layer by layer, vs a direct in-process call.

For each handler (a trivial one, so the overhead is visible, and the real API handler on a small
model) the same API Gateway v2 event is served by three layers, interleaved trial by trial:
  direct        `handler(event, None)` in this process;
  Platform      `Platform.invoke(name, event JSON)`: a warm environment over the pipe protocol;
  HTTP front    POST /<route> on `start_platform_server` (API-Gateway-like, payload 2.0), one
                keep-alive `http.client` connection: HTTP + event building + invoke + response mapping.
The in-environment handler time (REPORT Duration) is reported too, so `wall - Duration` is what the
platform adds around the handler.

    .venv/bin/python bench/bench_platform_overhead.py [--model smallcnn] [--trials 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    BUILTIN_MODELS,
    PERCENTILE_HEADERS,
    ensure_builtin_model,
    fail,
    figure,
    image_json_body,
    interleaved_trials,
    machine_line,
    model_cache_dir,
    print_table,
    summarize,
    trivial_handler,
)
from localcloud.faas import ApiRoute, FunctionSpec, Platform, start_platform_server
from localcloud.faas.apigw import HttpRequest, build_event

LAYERS = ("direct", "Platform.invoke", "HTTP front")


@dataclass(frozen=True)
class Target:
    """One handler under test: its function name, route, request body and in-process callable."""

    label: str
    function_name: str
    route: ApiRoute
    body: bytes
    direct: Callable[[dict[str, Any], Any], Any]


def model_env(model: str, threads: int) -> dict[str, str]:
    """The real handler's environment (this process and the function's environments alike)."""
    cache_dir = model_cache_dir()
    ensure_builtin_model(model, cache_dir)
    return {
        "MODEL_SOURCE": "builtin",
        "MODEL_NAME": model,
        "MODEL_CACHE_DIR": str(cache_dir),
        "ORT_THREADS": str(threads),
    }


def function_specs(env: dict[str, str]) -> list[FunctionSpec]:
    """Both functions, one environment each (concurrency 1, long keep-alive: every timed call is warm)."""
    common: dict[str, Any] = {"memory_mb": 1769, "keepalive_s": 600.0, "concurrency_limit": 1, "init_timeout_s": 60.0}
    return [
        FunctionSpec(
            "trivial", "bench._common.trivial_handler", environment={"ORT_THREADS": env["ORT_THREADS"]}, **common
        ),
        FunctionSpec("predict", "handlers.lambda_api.handler", environment=env, **common),
    ]


def targets(model: str, jpeg: bytes) -> list[Target]:
    from handlers import lambda_api  # imported after model_env() is in os.environ: loads the model now

    return [
        Target("trivial handler", "trivial", ApiRoute("POST", "/trivial", "trivial"), b'{"ping": 1}', trivial_handler),
        Target(
            f"api handler ({model})",
            "predict",
            ApiRoute("POST", "/predict", "predict"),
            image_json_body(jpeg),
            lambda_api.handler,
        ),
    ]


def event_for(target: Target) -> dict[str, Any]:
    """The event the HTTP front builds for this request (same builder, same shape)."""
    headers = [("Host", "127.0.0.1"), ("Content-Type", "application/json"), ("Content-Length", str(len(target.body)))]
    return build_event(target.route, HttpRequest("POST", target.route.path, "", headers, target.body), {})


def layer_calls(platform: Platform, conn: http.client.HTTPConnection, target: Target) -> dict[str, Callable[[], Any]]:
    """One callable per layer; the platform ones return the in-environment Duration (ms)."""
    event = event_for(target)
    payload = json.dumps(event).encode()
    first = platform.invoke(target.function_name, payload)  # the cold start, untimed
    if not first.ok:
        raise RuntimeError(f"{target.function_name}: first invoke failed: {first.payload[:300]!r}")

    def direct() -> None:
        response = target.direct(event, None)
        if response["statusCode"] != 200:
            raise RuntimeError(f"direct call answered {response['statusCode']}")

    def invoke() -> float:
        result = platform.invoke(target.function_name, payload)
        if not result.ok or result.cold_start or json.loads(result.payload)["statusCode"] != 200:
            raise RuntimeError(f"invoke not a warm success: {result.status_code} {result.payload[:200]!r}")
        return float(result.duration_ms or 0.0)

    def via_http() -> float:
        conn.request("POST", target.route.path, body=target.body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        if response.status != 200 or response.getheader("x-loadlab-cold-start") != "false":
            raise RuntimeError(f"HTTP front answered {response.status}")
        return float(response.getheader("x-loadlab-duration-ms") or 0.0)

    return dict(zip(LAYERS, (direct, invoke, via_http), strict=True))


def print_target(label: str, samples: dict[str, list[tuple[float, Any]]]) -> None:
    print(f"\n{label}")
    direct_ms = summarize([ms for ms, _ in samples["direct"]]).median_ms
    previous_ms = direct_ms
    rows = []
    for layer in LAYERS:
        stats = summarize([ms for ms, _ in samples[layer]])
        durations = [d for _, d in samples[layer] if d is not None]
        outside = summarize([ms - d for (ms, d) in samples[layer] if d is not None]) if durations else None
        rows.append(
            [
                layer,
                stats.count,
                *stats.cells(),
                stats.median_ms - previous_ms,
                stats.median_ms - direct_ms,
                f"{stats.median_ms / direct_ms:.1f}x",
                summarize(durations).median_ms if durations else "-",
                outside.median_ms if outside else "-",
            ]
        )
        previous_ms = stats.median_ms
    headers = [
        "layer",
        "n",
        *PERCENTILE_HEADERS,
        "+ this layer",
        "+ vs direct",
        "ratio",
        "Duration ms",
        "wall-Duration",
    ]
    print_table(headers, rows)


def print_figures(label: str, samples: dict[str, list[tuple[float, Any]]]) -> None:
    """FIGURE lines of one handler: median wall of the direct call, and what each layer adds to it."""
    key = "trivial" if label.startswith("trivial") else "api_handler"
    medians = {layer: summarize([ms for ms, _ in samples[layer]]).median_ms for layer in LAYERS}
    figure(f"platform_overhead_{key}_direct_p50_ms", medians["direct"], "ms")
    for layer, name in (("Platform.invoke", "invoke"), ("HTTP front", "http_front")):
        figure(f"platform_overhead_{key}_{name}_added_p50_ms", medians[layer] - medians["direct"], "ms")
        outside = [ms - d for ms, d in samples[layer] if d is not None]
        figure(f"platform_overhead_{key}_{name}_wall_minus_duration_p50_ms", summarize(outside).median_ms, "ms")


def run(args: argparse.Namespace, log_dir: Path) -> None:
    env = model_env(args.model, args.threads)
    os.environ.update(env)
    from labkit.images import generated_images

    jpeg = generated_images(1)[0].data
    with Platform(function_specs(env), log_dir) as platform:
        all_targets = targets(args.model, jpeg)
        server = start_platform_server(platform, routes=[t.route for t in all_targets])
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            results = []
            for target in all_targets:
                with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # direct calls' log lines
                    samples = interleaved_trials(layer_calls(platform, conn, target), args.trials, args.warmup)
                results.append((target.label, samples))
        finally:
            conn.close()
            server.close()
    print(machine_line())
    print(
        f"model: {args.model} (random weights), ORT_THREADS={args.threads}, JPEG {len(jpeg)} bytes; "
        f"{args.trials} trials per layer after {args.warmup} warm-up; warm environments only"
    )
    for label, samples in results:
        print_target(label, samples)
        print_figures(label, samples)
    print(
        "\n+ this layer: median minus the layer above; Duration: REPORT Duration (handler time inside the "
        "environment); wall-Duration: median of per-call wall minus Duration"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smallcnn", choices=BUILTIN_MODELS, help="real handler's model (smallcnn)")
    parser.add_argument("--trials", type=int, default=200, help="timed calls per layer and handler (default 200)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed rounds after the cold start (5)")
    parser.add_argument("--threads", type=int, default=1, help="ORT intra-op threads everywhere (default 1)")
    args = parser.parse_args(argv)
    if args.trials < 1 or args.warmup < 0:
        return fail("--trials must be >= 1 and --warmup >= 0")
    with tempfile.TemporaryDirectory(prefix="bench-platform-") as tmp:
        try:
            run(args, Path(tmp))
        except RuntimeError as exc:
            return fail(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
