"""Handler overhead vs a raw ONNX Runtime forward: same model, same session, same input, same run.

Three paths, interleaved trial by trial (rotating order) so load drift on a shared machine hits
them alike:
  raw forward   `InferenceSession.run` on a pre-made input tensor (the preprocessed JPEG);
  predict       `InferenceService.predict(jpeg)`: decode + preprocess + infer + top-5;
  api handler   `handlers.lambda_api.handler(event)` with an API Gateway v2 event whose body is
                base64 JSON {"image": ...} (event parse, base64, JSON, predict, response JSON, log line).
All use the handler's own session (ORT_THREADS threads). The predict split comes from the
returned fields (preprocess_ms, inference_ms); the rest is measured wall time minus those.

    .venv/bin/python bench/bench_handler_overhead.py [--model mobilenetv2] [--trials 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable
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
    v2_event_with_body,
)


def configure_env(model: str, threads: int) -> Path:
    """The handler reads its model and threads from the environment at import: set them first."""
    cache_dir = model_cache_dir()
    os.environ.update(
        {"MODEL_SOURCE": "builtin", "MODEL_NAME": model, "MODEL_CACHE_DIR": str(cache_dir), "ORT_THREADS": str(threads)}
    )
    return ensure_builtin_model(model, cache_dir)


def print_paths(samples: dict[str, list[tuple[float, Any]]]) -> None:
    raw = summarize([ms for ms, _ in samples["raw forward"]])
    rows = []
    for name, pairs in samples.items():
        stats = summarize([ms for ms, _ in pairs])
        extra_ms = stats.median_ms - raw.median_ms
        rows.append([name, stats.count, *stats.cells(), extra_ms, f"{stats.median_ms / raw.median_ms:.2f}x"])
    print_table(["path", "n", *PERCENTILE_HEADERS, "overhead ms (p50)", "ratio vs raw"], rows)


def print_figures(model: str, samples: dict[str, list[tuple[float, Any]]]) -> None:
    """FIGURE lines: median wall of each path, and what the API handler adds to the raw forward."""
    medians = {name: summarize([ms for ms, _ in pairs]).median_ms for name, pairs in samples.items()}
    for name, value in medians.items():
        figure(f"handler_overhead_{model}_{name.replace(' ', '_')}_p50_ms", value, "ms")
    raw_ms, handler_ms = medians["raw forward"], medians["api handler"]
    figure(f"handler_overhead_{model}_api_handler_minus_raw_p50_ms", handler_ms - raw_ms, "ms")
    figure(f"handler_overhead_{model}_api_handler_vs_raw", handler_ms / raw_ms, "x")


def split_rows(label: str, walls_ms: list[float], fields: list[dict[str, Any]]) -> list[list[object]]:
    """Rows: preprocess, inference (the body's own fields) and the rest of the wall time."""
    pre = [float(f["preprocess_ms"]) for f in fields]
    inf = [float(f["inference_ms"]) for f in fields]
    rest = [wall - p - i for wall, p, i in zip(walls_ms, pre, inf, strict=True)]
    rows = []
    for part, values in (("preprocess_ms", pre), ("inference_ms", inf), ("rest (wall - both)", rest)):
        stats = summarize(values)
        rows.append([f"{label}: {part}", stats.count, *stats.cells()])
    return rows


def print_split(samples: dict[str, list[tuple[float, Any]]]) -> None:
    predict_walls = [ms for ms, _ in samples["predict"]]
    handler_walls = [ms for ms, _ in samples["api handler"]]
    handler_bodies = [json.loads(resp["body"]) for _, resp in samples["api handler"]]
    rows = split_rows("predict", predict_walls, [fields for _, fields in samples["predict"]])
    rows += split_rows("api handler", handler_walls, handler_bodies)
    outside = [wall - float(body["handler_ms"]) for wall, body in zip(handler_walls, handler_bodies, strict=True)]
    stats = summarize(outside)
    rows.append(["api handler: wall - handler_ms (response JSON + log line)", stats.count, *stats.cells()])
    print_table(["split", "n", *PERCENTILE_HEADERS], rows)
    raw_ms = summarize([ms for ms, _ in samples["raw forward"]]).median_ms
    inference_ms = summarize([float(f["inference_ms"]) for _, f in samples["predict"]]).median_ms
    preprocess_ms = summarize([float(f["preprocess_ms"]) for _, f in samples["predict"]]).median_ms
    print(f"predict inference_ms / raw forward (medians): {inference_ms / raw_ms:.2f}x")
    print(f"predict preprocess_ms / raw forward (medians): {preprocess_ms / raw_ms:.2f}x")


def build_paths(jpeg: bytes) -> dict[str, Callable[[], Any]]:
    """The three callables on the handler's own session (import loads the model, as in Lambda's init)."""
    from handlers import lambda_api
    from handlers.imaging import preprocess

    service = lambda_api.ADAPTER.service()
    tensor, _ = preprocess(jpeg, service.input_spec)
    feed = {service.input_name: tensor}
    event = v2_event_with_body(image_json_body(jpeg))
    return {
        "raw forward": lambda: service.session.run(None, feed),
        "predict": lambda: service.predict(jpeg),
        "api handler": lambda: lambda_api.handler(event, None),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mobilenetv2", choices=BUILTIN_MODELS)
    parser.add_argument("--trials", type=int, default=200, help="timed calls per path (default 200)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls per path first (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="ORT intra-op threads, all paths (default 1)")
    args = parser.parse_args(argv)
    if args.trials < 1:
        return fail("--trials must be >= 1")
    model_path = configure_env(args.model, args.threads)
    from labkit.images import generated_images

    jpeg = generated_images(1)[0].data
    paths = build_paths(jpeg)
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # the handler's log lines
        samples = interleaved_trials(paths, args.trials, args.warmup)
    statuses = {resp["statusCode"] for _, resp in samples["api handler"]}
    if statuses != {200}:
        return fail(f"api handler answered {statuses}")
    print(machine_line())
    print(
        f"model: {args.model} ({model_path.name}, random weights), ORT_THREADS={args.threads}, "
        f"image {len(jpeg)} bytes JPEG 640x480, {args.trials} trials per path after {args.warmup} warm-up"
    )
    print_paths(samples)
    print()
    print_split(samples)
    print_figures(args.model, samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
