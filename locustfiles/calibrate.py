"""Latency floor: what this toolkit adds to every latency it measures, on this machine, at a given rate.

`calibrate(rate_rps)` starts a null HTTP endpoint on 127.0.0.1 (a free port; it answers every request at once
with a small JSON object), runs the toolkit's own open-model dispatcher against it for a few seconds at that
rate, exactly as a real run does (Locust as a subprocess through locustfiles.runner.run_locust: the plan,
the start sync, the records), and returns the latency it recorded: against an endpoint that takes no time,
that latency is the client's own (Locust, gevent, the HTTP client, the record path, loopback), from the
intended send (with the send lag) and from the actual send. The null server's own handling time (arrival to
reply written, its p50) is reported beside it; it is included in the figures.

    python -m locustfiles --calibrate [--rate-rps 50] [--processes N] [--calibrate-s 5]
    python -m experiments run PLAN --calibrate      # runs/<id>/calibration.json, shown in the plan's report
"""

from __future__ import annotations

import json
import math
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from labkit.errors import LabError
from labkit.net import LOOPBACK

CALIBRATION_JSON = "calibration.json"
DEFAULT_RATE_RPS = 50.0
DEFAULT_DURATION_S = 5.0
PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
NULL_BODY = b'{"ok":true,"model_name":"null"}'


@dataclass(frozen=True)
class Added:
    """Percentiles (ms) of the latency recorded against the null endpoint."""

    p50_ms: float
    p90_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Calibration:
    """The toolkit's own added latency at `rate_rps` (ms), from `count` ok requests of `scheduled`."""

    rate_rps: float
    duration_s: float
    processes: int
    scheduled: int
    count: int
    errors: int
    from_intended: Added
    from_actual: Added
    server_p50_ms: float  # the null server's own time (included in the figures above)
    measured_unix_s: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (a percentile of no samples is None)."""
        return {"what": "latency floor: this tool on this machine against a null endpoint on 127.0.0.1",
                **_no_nan(asdict(self))}  # fmt: skip

    def lines(self) -> list[str]:
        """What `--calibrate` prints."""

        def row(added: Added) -> str:
            return f"p50 {added.p50_ms:.2f} ms, p90 {added.p90_ms:.2f} ms, p99 {added.p99_ms:.2f} ms"

        return [
            f"latency floor (this tool on this machine): {self.rate_rps:g} req/s for {self.duration_s:g} s, "
            f"{self.processes} process{'es' if self.processes > 1 else ''}, {self.count} of {self.scheduled} ok, "
            f"{self.errors} errors, against a null endpoint on {LOOPBACK}",
            f"  added latency from the intended send: {row(self.from_intended)}",
            f"  added latency from the actual send:   {row(self.from_actual)}",
            f"  (the null server's own time, p50 {self.server_p50_ms:.3f} ms, is included)",
        ]


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between order statistics (numpy's default), nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def added(values_ms: Sequence[float]) -> Added:
    return Added(*(percentile(values_ms, fraction) for _, fraction in PERCENTILES))


class NullServer:
    """A threaded keep-alive HTTP server on 127.0.0.1 (free port) answering every request at once; it keeps
    each request's handling time (arrival to reply written, s)."""

    def __init__(self) -> None:
        self.handle_s: list[float] = []
        lock = threading.Lock()
        handle_s = self.handle_s

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _answer(self) -> None:
                arrived_s = time.perf_counter()
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(NULL_BODY)))
                self._headers_buffer.append(b"\r\n" + NULL_BODY)  # type: ignore[attr-defined]  # one write
                self.flush_headers()
                with lock:
                    handle_s.append(time.perf_counter() - arrived_s)

            do_POST = do_GET = _answer

            def log_message(self, *_args: object) -> None:
                return

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="null-server", daemon=True)

    def __enter__(self) -> NullServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def calibrate(rate_rps: float = DEFAULT_RATE_RPS, duration_s: float = DEFAULT_DURATION_S, processes: int = 1,
              images_dir: str = "", work_dir: Path | None = None) -> Calibration:  # fmt: skip
    """A short real run of the dispatcher against a null endpoint at `rate_rps`: the client's added latency.

    The run dir is made in `work_dir` (kept) or in a temporary folder (removed). TargetError (a LabError)
    when Locust fails or refuses the plan.
    """
    from labkit.rundir import RunDir
    from locustfiles.runner import LoadPlan, run_locust
    from locustfiles.shapes import constant

    if not rate_rps > 0 or not duration_s > 0:
        raise LabError(f"calibration needs a rate and a duration > 0, got {rate_rps:g} req/s, {duration_s:g} s")
    with tempfile.TemporaryDirectory(prefix="loadlab-calibrate-") as tmp, NullServer() as server:
        run = RunDir.create(work_dir or Path(tmp), "calibration")
        plan = LoadPlan("null", server.url, shape="constant", rate_rps=rate_rps, duration_s=duration_s,
                        max_inflight=max(64, processes), scenario="calibration", images_dir=images_dir,
                        processes=processes, max_rate_rps=max(1000.0, rate_rps),
                        network_timeout_s=10.0)  # fmt: skip
        run_locust(plan, run)
        records = run.records()
        handle_ms = [s * 1000.0 for s in server.handle_s]
    ok = [r for r in records if r.ok and r.latency_ms is not None and r.service_latency_ms is not None]
    return Calibration(
        rate_rps=rate_rps,
        duration_s=duration_s,
        processes=processes,
        scheduled=int(constant(rate_rps, duration_s).arrival_offsets_s().size),
        count=len(ok),
        errors=len(records) - len(ok),
        from_intended=added([float(r.latency_ms) for r in ok if r.latency_ms is not None]),
        from_actual=added([float(r.service_latency_ms) for r in ok if r.service_latency_ms is not None]),
        server_p50_ms=percentile(handle_ms, 0.5),
        measured_unix_s=time.time(),
    )


def _no_nan(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    return None if isinstance(value, float) and not math.isfinite(value) else value


def write_calibration(run_path: Path, calibration: Calibration) -> Path:
    path = run_path / CALIBRATION_JSON
    path.write_text(json.dumps(calibration.as_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


def plan_rate(plan: Any) -> tuple[float, int]:
    """The rate and process count to calibrate a plan at: its busiest http workload's peak (a default rate
    when it has none)."""
    workloads = plan.http_workloads()
    if not workloads:
        return DEFAULT_RATE_RPS, 1
    busiest = max(workloads, key=lambda w: w.shape.peak_rps)
    return float(busiest.shape.peak_rps), int(busiest.processes)


def calibrate_run(plan: Any, run_path: Path, say: Callable[[str], None]) -> Calibration | None:
    """`python -m experiments run PLAN --calibrate`: calibrate at the plan's rate, write calibration.json into
    the run dir, print it. A failed calibration is said and leaves the run as it is (None)."""
    rate_rps, processes = plan_rate(plan)
    say(f"calibrating the latency floor: {rate_rps:g} req/s for {DEFAULT_DURATION_S:g} s against a null endpoint")
    try:
        calibration = calibrate(rate_rps, DEFAULT_DURATION_S, processes)
    except LabError as exc:
        say(f"calibration failed (the run is not affected): {exc}")
        return None
    write_calibration(run_path, calibration)
    for line in calibration.lines():
        say(line)
    return calibration
