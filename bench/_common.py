"""Shared helpers of the bench scripts: timing loops, p50/p90/p99/p99.9, MISSED and FIGURE lines, tables, events.

Stdlib only at import time: `trivial_handler` is also loaded as a function handler by the local
platform (`bench._common.trivial_handler`), and must not drag numpy or onnxruntime into the
environment process.
"""

from __future__ import annotations

import base64
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
V2_EVENT_FIXTURE = PROJECT_ROOT / "tests" / "events" / "apigw_v2_post.json"
BUILTIN_MODELS = ("smallcnn", "mobilenetv2", "resnet50", "inceptionv3")


LATENCY_PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999))  # what every bench prints
PERCENTILE_HEADERS = tuple(f"{name} ms" for name, _ in LATENCY_PERCENTILES)


@dataclass(frozen=True, slots=True)
class Summary:
    """Median, p90, p99 and p99.9 (linear interpolation between order statistics) of `count` samples, in ms."""

    count: int
    median_ms: float
    p90_ms: float
    p99_ms: float = math.nan
    p999_ms: float = math.nan

    def cells(self) -> list[float]:
        """p50, p90, p99, p99.9 (the columns of PERCENTILE_HEADERS)."""
        return [self.median_ms, self.p90_ms, self.p99_ms, self.p999_ms]


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile (0..1) with linear interpolation (numpy's default method)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(samples_ms: Sequence[float]) -> Summary:
    return Summary(len(samples_ms), *(percentile(samples_ms, fraction) for _, fraction in LATENCY_PERCENTILES))


def missed_line(asked: float, achieved: float, unit: str = "/s", tolerance: float = 0.01, limit: str = "") -> str:
    """'MISSED: asked X/s, achieved Y/s (...)' when `achieved` falls short of `asked` by more than `tolerance`
    (a fraction), else ''; `limit` says which side limits, when known."""
    if asked <= 0 or achieved >= asked * (1.0 - tolerance):
        return ""
    why = f"; limited by {limit}" if limit else ""
    return f"MISSED: asked {asked:,.4g}{unit}, achieved {achieved:,.4g}{unit} ({achieved / asked:.0%}{why})"


FIGURE_PREFIX = "FIGURE "  # bench/run.py collects these lines: `FIGURE <name>: <value> <unit>`


def figure(name: str, value: float, unit: str) -> None:
    """Print a headline figure as `FIGURE <name>: <value> <unit>` (6 significant digits, no exponent; nan and inf
    allowed): the line bench/run.py collects over repeats. `name`: snake_case, its unit in it where sensible."""
    number = float(value)
    text = format(Decimal(f"{number:.6g}"), "f") if math.isfinite(number) else str(number)
    print(f"{FIGURE_PREFIX}{name}: {text} {unit}".rstrip(), flush=True)


def interleaved_trials(
    calls: dict[str, Callable[[], Any]], trials: int, warmup: int
) -> dict[str, list[tuple[float, Any]]]:
    """(wall ms, result) per call per trial. The calls take turns, the order rotating each trial, so
    load drift on a shared machine hits them alike; `warmup` untimed rounds first."""
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            calls[name]()
    samples: dict[str, list[tuple[float, Any]]] = {name: [] for name in names}
    for trial in range(trials):
        shift = trial % len(names)
        for name in names[shift:] + names[:shift]:
            started_s = time.perf_counter()
            result = calls[name]()
            samples[name].append(((time.perf_counter() - started_s) * 1000.0, result))
    return samples


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain fixed-width table (first column left-aligned, the others right-aligned)."""
    cells = [[str(h) for h in headers]] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])] + [
            value.rjust(width) for value, width in zip(row[1:], widths[1:], strict=True)
        ]
        print("  ".join(parts).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def machine_line() -> str:
    """CPU count, load average, OS, Python and onnxruntime versions (all read now)."""
    try:
        load_1m = f"{os.getloadavg()[0]:.2f}"
    except OSError:
        load_1m = "n/a"
    try:
        import onnxruntime  # deferred: only the bench process reports it

        ort_version = onnxruntime.__version__
    except ImportError:
        ort_version = "missing"
    return (
        f"machine: {os.cpu_count()} cpus (load avg 1m {load_1m}), {platform.system()} {platform.machine()}, "
        f"python {platform.python_version()}, onnxruntime {ort_version}"
    )


def ensure_builtin_model(name: str, cache_dir: Path) -> Path:
    """Build the random-weight model into `cache_dir` now, so no timed phase pays for building it."""
    from handlers.models.store import builtin_model_file  # deferred: heavy (onnx graph builders)

    return builtin_model_file(name, cache_dir)


def model_cache_dir() -> Path:
    """The cache every process of a bench shares (MODEL_CACHE_DIR if set, else the default)."""
    from handlers.models.store import default_cache_dir

    return default_cache_dir({"MODEL_CACHE_DIR": os.environ.get("MODEL_CACHE_DIR", "")})


def image_json_body(jpeg: bytes) -> bytes:
    """The API's JSON request body: {"image": "<base64 JPEG>"}."""
    return json.dumps({"image": base64.b64encode(jpeg).decode("ascii")}).encode()


def v2_event_with_body(body: bytes, content_type: str = "application/json") -> dict[str, Any]:
    """The API Gateway HTTP API (payload 2.0) fixture event carrying `body` base64-encoded."""
    event = json.loads(V2_EVENT_FIXTURE.read_text(encoding="utf-8"))
    event["headers"]["content-type"] = content_type
    event["headers"]["content-length"] = str(len(body))
    event["body"] = base64.b64encode(body).decode("ascii")
    event["isBase64Encoded"] = True
    return event


def trivial_handler(event: Any, context: Any = None) -> dict[str, Any]:
    """A do-nothing API handler (proxy response shape): what is left is the platform's own overhead."""
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"ok":true}'}


def fail(message: str) -> int:
    """Print a bench failure to stderr; the exit code to return."""
    print(f"bench failed: {message}", file=sys.stderr)
    return 1
