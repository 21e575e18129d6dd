"""Rate accuracy: achieved vs target request rate per 10 s window over a 0 -> peak ramp, against the local
gunicorn server, for this toolkit's open-model dispatcher and, in the same run, for stock Locust (users
ramped by a LoadTestShape, each at `constant_throughput(1)`: the usual way to ask Locust for a rate).

    .venv/bin/python bench/bench_load_rate.py            # 0 -> 100 rps over 40 s, smallcnn (about 2 min)
    .venv/bin/python bench/bench_load_rate.py --full     # the published ramp: 0 -> 100 rps over 60 s
    .venv/bin/python bench/bench_load_rate.py --model mobilenetv2   # a server that saturates on 2 cores

Sends are counted by their actual send time (stock Locust: the `start_time` of its request events, logged
by a listener that does not change what Locust does). Error = (achieved - target) / target.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._common import figure  # noqa: E402
from labkit.config import ModelConfig, load_config  # noqa: E402
from labkit.rundir import RunDir  # noqa: E402
from localcloud.cloud import CloudOptions, LocalCloud  # noqa: E402
from locustfiles.runner import LoadPlan, run_locust  # noqa: E402
from locustfiles.shapes import ramp  # noqa: E402

STOCK_LOCUSTFILE = """
import base64, itertools, json, os, time
from locust import FastHttpUser, LoadTestShape, constant_throughput, events, task
from labkit.images import image_set

PEAK, DURATION = float(os.environ["BENCH_PEAK_RPS"]), float(os.environ["BENCH_DURATION_S"])
PAYLOADS = [json.dumps({"image": base64.b64encode(i.data).decode()}).encode() for i in image_set(None)]
NEXT = itertools.count()
LOG = open(os.environ["BENCH_SENDS_FILE"], "w")

@events.test_start.add_listener
def _start(**_kw):
    LOG.write(f"start,{time.time()}\\n")

@events.request.add_listener
def _sent(start_time, response_time, exception, **_kw):
    LOG.write(f"{start_time},{response_time},{int(exception is None)}\\n")

class StockUser(FastHttpUser):
    wait_time = constant_throughput(1.0)

    @task
    def predict(self):
        payload = PAYLOADS[next(NEXT) % len(PAYLOADS)]
        self.client.post("/predict", data=payload, headers={"Content-Type": "application/json"})

class Ramp(LoadTestShape):
    def tick(self):
        t = self.get_run_time()
        return None if t > DURATION else (max(1, round(PEAK * t / DURATION)), 100)
"""


def windows_of(times_s: np.ndarray, duration_s: float, width_s: float) -> np.ndarray:
    edges = np.arange(0.0, duration_s + 1e-9, width_s)
    return np.histogram(times_s, bins=edges)[0]


def run_ours(url: str, peak_rps: float, duration_s: float, root: Path) -> np.ndarray:
    """Send offsets (actual send time from the schedule start) of this toolkit's run."""
    run = RunDir.create(root, "bench-rate")
    plan = LoadPlan("local-server", url, shape="ramp", rate_rps=peak_rps, duration_s=duration_s,
                    max_inflight=400, scenario="bench-rate")  # fmt: skip
    run_locust(plan, run)
    records = run.records()
    first_offset_s = float(ramp(peak_rps, duration_s).arrival_offsets_s()[0])
    start_s = min(r.intended_send_unix_s for r in records) - first_offset_s
    sends = [r.actual_send_unix_s for r in records if r.actual_send_unix_s is not None]
    print(f"  ours: {len(records)} records, {len(sends)} sent, {sum(r.ok for r in records)} ok", flush=True)
    return np.array(sends) - start_s


def run_stock(url: str, peak_rps: float, duration_s: float, root: Path) -> np.ndarray:
    locustfile, sends_file = root / "stock_locustfile.py", root / "stock_sends.csv"
    locustfile.write_text(STOCK_LOCUSTFILE)
    env = {**os.environ, "BENCH_PEAK_RPS": str(peak_rps), "BENCH_DURATION_S": str(duration_s),
           "BENCH_SENDS_FILE": str(sends_file), "PYTHONPATH": str(REPO)}  # fmt: skip
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", url, "--only-summary",
               "--csv", str(root / "stock"), "--loglevel", "WARNING"]  # fmt: skip
    subprocess.run(command, cwd=root, env=env, timeout=duration_s + 120, check=False, capture_output=True)
    lines = sends_file.read_text().splitlines()
    start_s = float(next(line for line in lines if line.startswith("start,")).split(",")[1])
    rows = [line.split(",") for line in lines if not line.startswith("start,")]
    print(f"  stock: {len(rows)} sent, {sum(int(r[2]) for r in rows)} ok", flush=True)
    return np.array([float(r[0]) for r in rows]) - start_s


def report(target: np.ndarray, ours: np.ndarray, stock: np.ndarray, width_s: float) -> None:
    print(f"\n{'window':>10} {'target rps':>10} {'ours rps':>9} {'ours err':>9} {'stock rps':>10} {'stock err':>10}")
    for i, (t, o, s) in enumerate(zip(target, ours, stock, strict=True)):
        span = f"{i * width_s:.0f}-{(i + 1) * width_s:.0f}s"
        print(f"{span:>10} {t / width_s:10.1f} {o / width_s:9.1f} {(o - t) / t:+9.1%} {s / width_s:10.1f} "
              f"{(s - t) / t:+10.1%}")  # fmt: skip
    ours_err = float(np.mean(np.abs(ours - target) / target))
    stock_err = float(np.mean(np.abs(stock - target) / target))
    print(f"\nmean |rate error| per window: ours {ours_err:.1%}, stock Locust {stock_err:.1%}")
    print(f"total sent vs target: ours {ours.sum() / target.sum():.3f}, stock {stock.sum() / target.sum():.3f}")
    if ours_err > 0:
        print(f"ratio stock error / ours: {stock_err / ours_err:.1f}x")
    figure("load_rate_ours_mean_abs_error_pct", 100 * ours_err, "%")
    figure("load_rate_stock_mean_abs_error_pct", 100 * stock_err, "%")
    figure("load_rate_ours_sent_vs_target", float(ours.sum() / target.sum()), "x")
    figure("load_rate_stock_sent_vs_target", float(stock.sum() / target.sum()), "x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peak-rps", type=float, default=100.0)
    parser.add_argument("--duration-s", type=float, default=40.0)
    parser.add_argument("--full", action="store_true", help="the published ramp: 60 s")
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--model", default="smallcnn", help="server model (default smallcnn)")
    args = parser.parse_args()
    duration_s = 60.0 if args.full else args.duration_s
    target = windows_of(ramp(args.peak_rps, duration_s).arrival_offsets_s(), duration_s, args.window_s)
    with tempfile.TemporaryDirectory(prefix="bench-rate-") as tmp:
        root = Path(tmp)
        options = CloudOptions(parts=("server",), model=ModelConfig(name=args.model))
        print(f"ramp 0 -> {args.peak_rps:g} rps over {duration_s:g} s against the local server ({args.model})")
        with LocalCloud(load_config().localcloud, root / "cloud", options) as cloud:
            cloud.start()
            url = cloud.endpoints.server_url
            started = time.monotonic()
            ours = windows_of(run_ours(url, args.peak_rps, duration_s, root), duration_s, args.window_s)
            stock = windows_of(run_stock(url, args.peak_rps, duration_s, root), duration_s, args.window_s)
            print(f"  both runs took {time.monotonic() - started:.0f} s")
    report(target, ours, stock, args.window_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
