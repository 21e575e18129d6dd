"""Latency truth: measured p50/p99 against the true values of a loopback server with a known delay model.

The server (in this file, threaded, keep-alive) answers a request arriving at unix time t after
    delay(t) = stall_wait(t) + base(t)
    stall_wait(t) = stall_s - phase  when phase = (t - epoch) mod period_s < stall_s, else 0  (periodic stalls)
    base(t) = 10 ms + 40 ms * frac(t * 7.31)                                             (a spread of 10..50 ms)
An ideal open-model client that sends at the intended times t_i sees exactly delay(t_i): the true
percentiles are those of delay over the schedule. Compared, in the same run:
  ours         this toolkit's records (latency from the intended send time)
  ours/locust  Locust's own percentiles of that same run (its stats csv: from the actual send, rounded)
  stock        stock Locust, users at constant_throughput at the same mean rate (its stats csv)

    .venv/bin/python bench/bench_load_latency_truth.py               # 40 rps for 30 s (about 1.5 min)
    .venv/bin/python bench/bench_load_latency_truth.py --duration-s 120 --rate-rps 80
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from labkit.images import synthetic_jpeg  # noqa: E402
from labkit.net import LOOPBACK  # noqa: E402
from labkit.rundir import RunDir  # noqa: E402
from locustfiles.runner import LoadPlan, run_locust  # noqa: E402
from locustfiles.shapes import constant  # noqa: E402

STOCK_LOCUSTFILE = """
import base64, json, os
from locust import FastHttpUser, constant_throughput, task
PER_USER = float(os.environ["BENCH_PER_USER_RPS"])
with open(os.environ["BENCH_IMAGE"], "rb") as f:
    PAYLOAD = json.dumps({"image": base64.b64encode(f.read()).decode("ascii")}).encode()

class StockUser(FastHttpUser):
    wait_time = constant_throughput(PER_USER)

    @task
    def predict(self):
        self.client.post("/predict", data=PAYLOAD, headers={"Content-Type": "application/json"}, name="predict")
"""


IMAGE = "small.jpg"  # the same small payload for both tools: the server's cost does not depend on it


def write_image(root: Path) -> Path:
    folder = root / "images"
    folder.mkdir()
    (folder / IMAGE).write_bytes(synthetic_jpeg(64, 48, seed=1))
    return folder


class DelayModel:
    def __init__(self, epoch_unix_s: float, period_s: float, stall_s: float) -> None:
        self.epoch_unix_s, self.period_s, self.stall_s = epoch_unix_s, period_s, stall_s

    def delay_s(self, t_unix_s: float) -> float:
        phase_s = (t_unix_s - self.epoch_unix_s) % self.period_s
        stall_wait_s = self.stall_s - phase_s if phase_s < self.stall_s else 0.0
        frac = (t_unix_s * 7.31) % 1.0
        return stall_wait_s + 0.010 + 0.040 * frac


def start_server(model: DelayModel) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else headers and body, written apart, wait on a delayed ACK (40 ms)

        def do_POST(self) -> None:
            arrived = time.time()
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(max(0.0, arrived + model.delay_s(arrived) - time.time()))
            body = json.dumps({"model_name": "delay-model"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def locust_percentiles(stats_csv: Path) -> dict[str, float]:
    with stats_csv.open() as handle:
        row = next(r for r in csv.DictReader(handle) if r["Name"] == "predict")
    return {"p50": float(row["50%"]), "p99": float(row["99%"]), "count": float(row["Request Count"])}


def run_stock(url: str, rate_rps: float, duration_s: float, users: int, root: Path) -> dict[str, float]:
    (root / "stock.py").write_text(STOCK_LOCUSTFILE)
    env = {**os.environ, "BENCH_PER_USER_RPS": str(rate_rps / users), "BENCH_IMAGE": str(root / "images" / IMAGE)}
    command = [sys.executable, "-m", "locust", "-f", str(root / "stock.py"), "--headless", "--host", url,
               "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{int(duration_s)}s",
               "--csv", str(root / "stock"), "--only-summary", "--loglevel", "WARNING"]  # fmt: skip
    subprocess.run(command, cwd=root, env=env, timeout=duration_s + 90, check=False, capture_output=True)
    return locust_percentiles(root / "stock_stats.csv")


def _p50_p99(values_ms: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(values_ms, 50)), float(np.percentile(values_ms, 99))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate-rps", type=float, default=40.0)
    parser.add_argument("--duration-s", type=float, default=30.0)
    parser.add_argument("--period-s", type=float, default=5.0, help="a stall every this many seconds")
    parser.add_argument("--stall-s", type=float, default=0.5, help="stall length")
    parser.add_argument("--stock-users", type=int, default=4, help="stock Locust users (same total rate)")
    args = parser.parse_args()
    model = DelayModel(time.time(), args.period_s, args.stall_s)
    server = start_server(model)
    url = f"http://{LOOPBACK}:{server.server_address[1]}"
    print(
        f"{args.rate_rps:g} rps for {args.duration_s:g} s; server stalls {args.stall_s:g} s every {args.period_s:g} s"
    )
    with tempfile.TemporaryDirectory(prefix="bench-truth-") as tmp:
        root = Path(tmp)
        run = RunDir.create(root, "bench-truth")
        plan = LoadPlan("delay-server", url, shape="constant", rate_rps=args.rate_rps, duration_s=args.duration_s,
                        max_inflight=400, scenario="bench-truth", images_dir=str(write_image(root)))  # fmt: skip
        run_locust(plan, run)
        records = [r for r in run.records() if r.ok]
        ours_locust = locust_percentiles(run.path / "locust" / "delay-server_stats.csv")
        stock = run_stock(url, args.rate_rps, args.duration_s, args.stock_users, root)
    server.shutdown()
    truth_ms = np.array([model.delay_s(r.intended_send_unix_s) * 1000 for r in records])
    ours_ms = np.array([r.latency_ms for r in records])
    expected = constant(args.rate_rps, args.duration_s).arrival_offsets_s().size
    stock_name = f"stock Locust, {args.stock_users} users x constant_throughput"
    rows = [
        ("truth (delay model at the intended times)", *_p50_p99(truth_ms), len(truth_ms)),
        ("ours (records, from intended send)", *_p50_p99(ours_ms), len(ours_ms)),
        ("Locust stats of our run (from actual send)", ours_locust["p50"], ours_locust["p99"], ours_locust["count"]),
        (stock_name, stock["p50"], stock["p99"], stock["count"]),
    ]
    print(f"\n{'':46} {'p50 ms':>8} {'p99 ms':>8} {'p99/true':>9} {'requests':>9}")
    true_p99 = rows[0][2]
    for name, p50, p99, count in rows:
        print(f"{name:46} {p50:8.1f} {p99:8.1f} {p99 / true_p99:9.2f} {count:9.0f}")
    error = abs(rows[1][2] - true_p99) / true_p99
    print(
        f"\nours: {len(records)} ok of {expected} scheduled; p99 error vs truth {error:.1%} "
        f"(stock Locust: {abs(stock['p99'] - true_p99) / true_p99:.1%})"
    )
    return 0 if math.isfinite(error) else 1


if __name__ == "__main__":
    sys.exit(main())
