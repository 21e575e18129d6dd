"""Cold-start time of the real API handler on the local platform, split into phases, per model.

Every trial is a fresh `Platform` (so a new execution environment process) invoked once cold and
then `--warm` times warm. Phases, all from the same cold start:
  spawn         bench's clock before `Platform.invoke` -> the runtime starts importing the handler
                (process start + interpreter + runtime bootstrap); the runtime's `INIT_TIMING` line
                (LOCALCLOUD_INIT_TIMING=1) gives the CLOCK_MONOTONIC instant;
  handler import  the runtime's own `import_ms`: the handler module's import incl. its module init;
  -> modules    the top-level imports the handler import ran (numpy, onnxruntime, PIL, onnx...),
                cumulative times from `python -X importtime` between the runtime's INIT_TIMING lines;
  -> model load the rest of the handler import: the handler module's own body (resolve the cached
                model, labels, `InferenceSession` creation).
importtime costs time itself, so each trial also does one uninstrumented cold start (columns
"plain"): its totals are the honest ones; the instrumented columns carry the module/model split.
Compared with: InvokeResult.init_ms (platform: spawn -> ready), REPORT Init Duration, the handler's
own init_ms (from the `handlers` import to model loaded), and the cold vs warm request latency.

    .venv/bin/python bench/bench_cold_start.py [--model smallcnn --model mobilenetv2] [--trials 12]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    BUILTIN_MODELS,
    LATENCY_PERCENTILES,
    PERCENTILE_HEADERS,
    ensure_builtin_model,
    fail,
    figure,
    image_json_body,
    machine_line,
    model_cache_dir,
    print_table,
    summarize,
    v2_event_with_body,
)
from labkit.reportlog import parse_report_line
from localcloud.faas import FunctionSpec, Platform

HANDLER = "handlers.lambda_api.handler"
PACKAGES = ("numpy", "onnxruntime", "PIL.Image", "onnx")
_IMPORTTIME_RE = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)$")  # self | cumulative | name


@dataclass
class ColdStart:
    """The measured figures of one cold start (ms) and of the warm invocations after it."""

    figures_ms: dict[str, float] = field(default_factory=dict)
    packages_ms: dict[str, float] = field(default_factory=dict)


def function_env(model: str, threads: int, instrumented: bool) -> dict[str, str]:
    env = {
        "MODEL_SOURCE": "builtin",
        "MODEL_NAME": model,
        "MODEL_CACHE_DIR": str(model_cache_dir()),
        "ORT_THREADS": str(threads),
        "LOCALCLOUD_INIT_TIMING": "1",
    }
    if instrumented:
        env["PYTHONPROFILEIMPORTTIME"] = "1"  # `-X importtime` lines go to stderr: the log stream
    return env


def importtime_entries(lines: list[str]) -> list[tuple[str, int, float]]:
    """(module, nesting depth, cumulative ms) per `-X importtime` line, in log order."""
    entries = []
    for line in lines:
        match = _IMPORTTIME_RE.match(line)
        if match:
            entries.append((match.group(3), len(match.group(2)) // 2, int(match.group(1)) / 1000.0))
    return entries


def handler_import_window(lines: list[str]) -> list[str]:
    """The log lines written during the handler import (between the runtime's two INIT_TIMING lines)."""
    begin = lines.index("INIT_TIMING begin")
    end = next(i for i, line in enumerate(lines) if line.startswith("INIT_TIMING {"))
    return lines[begin + 1 : end]


def split_handler_import(start: ColdStart, lines: list[str]) -> None:
    """Module imports = the top-level imports run by the handler import (cumulative, so nested ones
    included); model load = the rest of the handler import (the handler module's own body: resolve
    the cached model, labels, InferenceSession). importlib-driven imports are not in importtime's
    list, which is why the handler module itself never appears there."""
    window = importtime_entries(handler_import_window(lines))
    modules_ms = sum(cumulative_ms for _, depth, cumulative_ms in window if depth == 0)
    start.figures_ms["modules"] = modules_ms
    start.figures_ms["model load"] = start.figures_ms["handler import"] - modules_ms
    first_seen: dict[str, float] = {}
    for name, _, cumulative_ms in importtime_entries(lines):
        first_seen.setdefault(name, cumulative_ms)
    start.packages_ms = {name: first_seen[name] for name in PACKAGES if name in first_seen}


def stream_lines(log_dir: Path, function_name: str) -> list[str]:
    """All lines of the function's log streams (one environment per trial platform)."""
    lines: list[str] = []
    for path in sorted((log_dir / function_name).rglob("*.log")):
        lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines


def invoke_ok(platform: Platform, name: str, payload: bytes, cold: bool) -> tuple[float, Any]:
    started_s = time.perf_counter()
    result = platform.invoke(name, payload)
    wall_ms = (time.perf_counter() - started_s) * 1000.0
    if not result.ok or result.cold_start != cold or json.loads(result.payload)["statusCode"] != 200:
        raise RuntimeError(f"expected a {'cold' if cold else 'warm'} success, got {result.payload[:300]!r}")
    return wall_ms, result


def one_cold_start(spec: FunctionSpec, payload: bytes, warm: int, log_dir: Path) -> ColdStart:
    """A fresh platform: one cold invoke, `warm` warm ones; the figures from results and logs."""
    with Platform([spec], log_dir) as platform:
        invoke_start_monotonic_s = time.monotonic()
        cold_wall_ms, cold = invoke_ok(platform, spec.name, payload, cold=True)
        warm_runs = [invoke_ok(platform, spec.name, payload, cold=False) for _ in range(warm)]
    lines = stream_lines(log_dir, spec.name)
    timing = next(json.loads(line.split(" ", 1)[1]) for line in lines if line.startswith("INIT_TIMING {"))
    report = next(r for r in map(parse_report_line, cold.log_tail.decode().splitlines()) if r is not None)
    if report.init_duration_ms is None:
        raise RuntimeError("the cold invocation's REPORT line has no Init Duration")
    body = json.loads(json.loads(cold.payload)["body"])
    figures = {
        "spawn": (timing["import_start_monotonic_s"] - invoke_start_monotonic_s) * 1000.0,
        "handler import": float(timing["import_ms"]),
        "platform init_ms": float(cold.init_ms),
        "REPORT Init Duration": report.init_duration_ms,
        "handler's own init_ms": float(body["init_ms"]),
        "cold request wall": cold_wall_ms,
        "cold request Duration": float(cold.duration_ms),
        "warm request wall": summarize([ms for ms, _ in warm_runs]).median_ms,
        "warm request Duration": summarize([float(r.duration_ms) for _, r in warm_runs]).median_ms,
    }
    figures["spawn + handler import"] = figures["spawn"] + figures["handler import"]
    figures["init_ms - (spawn + import)"] = figures["platform init_ms"] - figures["spawn + handler import"]
    start = ColdStart(figures)
    if spec.environment.get("PYTHONPROFILEIMPORTTIME"):
        split_handler_import(start, lines)
    return start


def run_model(model: str, args: argparse.Namespace, payload: bytes, log_root: Path) -> dict[str, list[ColdStart]]:
    """`trials` rounds of (plain, instrumented) cold starts, the two kinds alternating."""
    ensure_builtin_model(model, model_cache_dir())
    runs: dict[str, list[ColdStart]] = {"plain": [], "importtime": []}
    for trial in range(args.trials):
        for kind in ("plain", "importtime") if trial % 2 == 0 else ("importtime", "plain"):
            spec = FunctionSpec(
                f"cold-{model}",
                HANDLER,
                memory_mb=1769,
                keepalive_s=600.0,
                concurrency_limit=1,
                init_timeout_s=120.0,
                environment=function_env(model, args.threads, kind == "importtime"),
            )
            runs[kind].append(one_cold_start(spec, payload, args.warm, log_root / f"{model}-{kind}-{trial}"))
    return runs


ROWS = (
    ("spawn", "spawn (process + interpreter + runtime)"),
    ("handler import", "handler import (runtime import_ms)"),
    ("modules", "  -> module imports (importtime, top level)"),
    ("model load", "  -> model load (import - module imports)"),
    ("spawn + handler import", "sum: spawn + handler import"),
    ("platform init_ms", "InvokeResult.init_ms (spawn -> ready)"),
    ("init_ms - (spawn + import)", "init_ms - sum (ready frame, bookkeeping)"),
    ("REPORT Init Duration", "REPORT Init Duration"),
    ("handler's own init_ms", "handler's own init_ms (body)"),
    ("cold request wall", "first request, invoke wall (incl. init)"),
    ("cold request Duration", "first request, REPORT Duration"),
    ("warm request wall", "warm request, invoke wall"),
    ("warm request Duration", "warm request, REPORT Duration"),
)


def column(starts: list[ColdStart], key: str) -> list[float]:
    return [s.figures_ms[key] for s in starts if key in s.figures_ms]


def cells(values: list[float]) -> list[object]:
    if not values:
        return ["-"] * len(PERCENTILE_HEADERS)
    return summarize(values).cells()


def print_model(model: str, runs: dict[str, list[ColdStart]]) -> None:
    plain, instrumented = runs["plain"], runs["importtime"]
    print(f"\n{model}: {len(plain)} plain + {len(instrumented)} importtime-instrumented cold starts")
    rows = [[label, *cells(column(plain, key)), *cells(column(instrumented, key))] for key, label in ROWS]
    headers = [f"{kind} {name}" for kind in ("plain", "importtime") for name, _ in LATENCY_PERCENTILES]
    print(f"(p99 and p99.9 of {len(plain)} samples are near the max: too few samples to resolve them)")
    print_table(["phase (ms)", *headers], rows)
    shares = {
        part: summarize([s.figures_ms[key] / s.figures_ms["platform init_ms"] for s in instrumented]).median_ms
        for part, key in (("spawn", "spawn"), ("module imports", "modules"), ("model load", "model load"))
    }
    print(
        "share of init_ms (instrumented, median of per-trial shares): "
        + ", ".join(f"{k} {v:.0%}" for k, v in shares.items())
    )
    plain_median = {key: summarize(column(plain, key)).median_ms for key, _ in ROWS}
    cold_warm_wall = plain_median["cold request wall"] / plain_median["warm request wall"]
    cold_warm_duration = plain_median["cold request Duration"] / plain_median["warm request Duration"]
    print(
        f"cold/warm request wall (plain medians): {cold_warm_wall:.1f}x; first/warm Duration: {cold_warm_duration:.2f}x"
    )
    cost_ms = summarize(column(instrumented, "platform init_ms")).median_ms - plain_median["platform init_ms"]
    print(
        f"importtime instrumentation cost on init_ms (instrumented - plain medians, noise included): {cost_ms:+.1f} ms"
    )
    packages = [
        [name, *cells([s.packages_ms[name] for s in instrumented if name in s.packages_ms])] for name in PACKAGES
    ]
    print("cumulative import time of named packages (instrumented; each includes what it imported first):")
    print_table(["package", *PERCENTILE_HEADERS], packages)


FIGURE_KEYS = (  # (figure name part, ROWS key, which cold starts): the medians issue 13 cites
    ("init_ms", "platform init_ms", "plain"),
    ("report_init_duration_ms", "REPORT Init Duration", "plain"),
    ("cold_request_wall_ms", "cold request wall", "plain"),
    ("warm_request_wall_ms", "warm request wall", "plain"),
    ("spawn_ms", "spawn", "importtime"),
    ("module_imports_ms", "modules", "importtime"),
    ("model_load_ms", "model load", "importtime"),
)


def print_figures(model: str, runs: dict[str, list[ColdStart]]) -> None:
    """FIGURE lines of one model: medians of the phases and the cold/warm request wall ratio."""
    medians = {name: summarize(column(runs[kind], key)).median_ms for name, key, kind in FIGURE_KEYS}
    for name, value in medians.items():
        figure(f"cold_start_{model}_{name}", value, "ms")
    figure(f"cold_start_{model}_cold_vs_warm_wall", medians["cold_request_wall_ms"] / medians["warm_request_wall_ms"],
           "x")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", choices=BUILTIN_MODELS, help="repeatable (smallcnn, mobilenetv2)")
    parser.add_argument("--trials", type=int, default=12, help="rounds per model, each 1 plain + 1 instrumented (12)")
    parser.add_argument("--warm", type=int, default=5, help="warm invocations after each cold one (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="ORT intra-op threads (default 1)")
    args = parser.parse_args(argv)
    if args.trials < 1 or args.warm < 1:
        return fail("--trials and --warm must be >= 1")
    models = args.model or ["smallcnn", "mobilenetv2"]
    from labkit.images import generated_images

    jpeg = generated_images(1)[0].data
    payload = json.dumps(v2_event_with_body(image_json_body(jpeg))).encode()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        try:
            for model in models:
                results[model] = run_model(model, args, payload, Path(tmp))
        except (RuntimeError, StopIteration) as exc:
            return fail(f"{type(exc).__name__}: {exc}")
    print(machine_line())
    print(
        f"handler {HANDLER}, models {', '.join(models)} (random weights), ORT_THREADS={args.threads}, "
        f"JPEG {len(jpeg)} bytes; each trial a fresh Platform (new environment process)"
    )
    for model, runs in results.items():
        print_model(model, runs)
        print_figures(model, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
