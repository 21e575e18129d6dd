"""Schedule lag of the replay's open-loop sender at 50, 200 and 500 uploads/s against local S3 (moto server).

For each rate, a constant-rate schedule of `--duration-s` seconds is sent exactly as `python -m replay`
sends it: the scheduler's worker pool (sized to the rate as the CLI does), one boto3 client without its
own retries, one generated JPEG payload. Printed per rate: the achieved rate (uploads / time from the
first intended send to the last actual send), the schedule lag (actual - intended send) p50/p99/max,
the PUT service time p50/p99, and errors. The baseline, measured first in the same run, is the same
scheduler at the highest rate with a send that does nothing: the lag of the timer and the threads
alone; each rate's lag p99 is also shown as a ratio to it. Objects are deleted after each rate.

    .venv/bin/python bench/bench_replay_lag.py [--rates 50,200,500] [--duration-s 10] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit.images import generated_images
from labkit.records import RequestRecord
from localcloud.s3 import MotoS3Server
from replay.retry import RetryPolicy, upload_with_retry
from replay.scheduler import run_open_loop, workers_for_rate
from replay.targets import local_client
from replay.uploads import UploadJob

BUCKET = "bench-replay-lag"


def constant_schedule(rate_rps: float, duration_s: float, lead_s: float = 0.5) -> list[float]:
    start = time.time() + lead_s
    return [start + i / rate_rps for i in range(int(rate_rps * duration_s))]


def percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return float("nan"), float("nan"), float("nan")
    p50, p99 = np.percentile(values, [50, 99])
    return float(p50), float(p99), float(max(values))


def baseline_lag(rate_rps: float, duration_s: float, workers: int) -> tuple[float, float, float]:
    """Lag percentiles (ms) of the scheduler alone: the send only notes when it was called."""
    intended = constant_schedule(rate_rps, duration_s)
    lags_ms = [0.0] * len(intended)

    def send(index: int, intended_unix_s: float) -> None:
        lags_ms[index] = (time.time() - intended_unix_s) * 1000.0

    run_open_loop(list(range(len(intended))), intended, send, workers)
    return percentiles(lags_ms)


def measure(s3: Any, rate_rps: float, duration_s: float, workers: int, payload: bytes) -> dict[str, Any]:
    intended = constant_schedule(rate_rps, duration_s)
    records: list[RequestRecord] = []
    lock, stop, policy = threading.Lock(), threading.Event(), RetryPolicy(max_attempts=1)

    def on_record(record: RequestRecord, attempt: int) -> None:
        with lock:
            records.append(record)

    def send(index: int, intended_unix_s: float) -> None:
        job = UploadJob(index, f"bench/{rate_rps:g}/{index:08d}.jpg", payload, "image/jpeg", intended_unix_s)
        upload_with_retry(s3, BUCKET, job, policy=policy, stop=stop, on_record=on_record,
                          run_id="bench", scenario="bench", target="local-s3")  # fmt: skip

    run_open_loop(list(range(len(intended))), intended, send, workers)
    last_send = max(r.actual_send_unix_s or 0.0 for r in records)
    return {
        "count": len(records),
        "achieved_rps": len(records) / max(1e-9, last_send - intended[0]),
        "lag_ms": percentiles([r.send_lag_ms for r in records if r.send_lag_ms is not None]),
        "service_ms": percentiles([r.service_latency_ms for r in records if r.ok and r.service_latency_ms]),
        "errors": sum(not r.ok for r in records),
    }


def empty_bucket(s3: Any) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=BUCKET, Delete={"Objects": keys, "Quiet": True})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="50,200,500", help="comma-separated uploads/s (default 50,200,500)")
    parser.add_argument("--duration-s", type=float, default=10.0, help="seconds per rate (default 10)")
    parser.add_argument("--workers", type=int, default=0, help="sender threads (default: sized to each rate)")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r]
    payload = generated_images(4)[3].data  # the 320x240 one
    top_workers = args.workers or workers_for_rate(max(rates))
    base = baseline_lag(max(rates), args.duration_s, top_workers)
    print(f"payload {len(payload):,} bytes; cpus {os.cpu_count()}; {args.duration_s:g} s per rate")
    print(f"baseline (scheduler only, {max(rates):g}/s, {top_workers} threads): lag p50 {base[0]:.2f} ms, "
          f"p99 {base[1]:.2f} ms, max {base[2]:.2f} ms")  # fmt: skip
    header = f"{'rate/s':>7} {'threads':>7} {'sent':>6} {'achieved/s':>10} {'lag p50':>8} {'lag p99':>8} "
    print(header + f"{'lag max':>8} {'p99/base':>8} {'put p50':>8} {'put p99':>8} {'errors':>6}   (ms)")
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp, MotoS3Server(Path(tmp) / "moto.log") as moto:
        admin = moto.client("s3")
        admin.create_bucket(Bucket=BUCKET)
        for rate in rates:
            workers = args.workers or workers_for_rate(rate)
            s3 = local_client(moto.endpoint_url, workers + 2)
            m = measure(s3, rate, args.duration_s, workers, payload)
            lag, put = m["lag_ms"], m["service_ms"]
            ratio = lag[1] / base[1] if base[1] > 0 else float("nan")
            row = f"{rate:>7g} {workers:>7} {m['count']:>6} {m['achieved_rps']:>10.1f} {lag[0]:>8.2f} {lag[1]:>8.2f} "
            row += f"{lag[2]:>8.1f} {ratio:>8.1f} {put[0]:>8.2f} {put[1]:>8.2f} {m['errors']:>6}"
            print(row, flush=True)
            empty_bucket(admin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
