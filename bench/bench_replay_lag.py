"""Schedule lag of the replay's open-loop sender at 50, 200 and 500 uploads/s against local S3 (moto server).

For each rate, a constant-rate schedule of `--duration-s` seconds is sent exactly as `python -m replay`
sends it: the scheduler's worker pool (sized to the rate as the CLI does), one boto3 client without its
own retries, one generated JPEG payload. Printed per rate: the achieved rate (uploads / time from the
first intended send to the last actual send), the schedule lag (actual - intended send) p50/p99/max,
the schedule lag (actual - intended send) p50/p90/p99/p99.9/max, the PUT service time p50/p90/p99/p99.9,
and errors. The baseline, measured first in the same run, is the same scheduler at the highest rate with a
send that does nothing: the lag of the timer and the threads alone; each rate's lag p99 is also shown as a
ratio to it. Objects are deleted after each rate.

Which side limits: two closed-loop ceilings (`--ceiling-s` each, as many threads as the top rate's pool,
PUTs back to back): boto3 against moto (the pair's ceiling) and boto3 against a null S3 (a trivial HTTP
server in a process of its own answering every PUT 200 at once: the client's own ceiling). A rate whose
achieved rate falls short of the asked one by more than 1% prints "MISSED: asked X/s, achieved Y/s" and
names the side with the lower ceiling (moto when boto3 alone goes clearly faster).

    .venv/bin/python bench/bench_replay_lag.py [--rates 50,200,500] [--duration-s 10] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import LATENCY_PERCENTILES, figure, missed_line
from labkit.images import generated_images
from labkit.net import LOOPBACK, free_port
from labkit.records import RequestRecord
from localcloud.s3 import MotoS3Server
from replay.retry import RetryPolicy, upload_with_retry
from replay.scheduler import run_open_loop, workers_for_rate
from replay.targets import local_client
from replay.uploads import UploadJob

BUCKET = "bench-replay-lag"
NULL_S3 = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def _answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("ETag", '"0"')
        self.send_header("Content-Length", "0")
        self.end_headers()
    do_PUT = do_HEAD = do_GET = _answer
    def log_message(self, *a):
        pass
ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"""


def constant_schedule(rate_rps: float, duration_s: float, lead_s: float = 0.5) -> list[float]:
    start = time.time() + lead_s
    return [start + i / rate_rps for i in range(int(rate_rps * duration_s))]


def percentiles(values: list[float]) -> tuple[float, ...]:
    """p50, p90, p99, p99.9 and max (ms)."""
    if not values:
        return (float("nan"),) * (len(LATENCY_PERCENTILES) + 1)
    pcts = np.percentile(values, [100 * f for _, f in LATENCY_PERCENTILES])
    return (*(float(v) for v in pcts), float(max(values)))


def put_ceiling(s3: Any, threads: int, seconds: float, payload: bytes, prefix: str) -> float:
    """PUTs/s of `threads` closed-loop senders putting back to back for `seconds` (errors not counted)."""
    done, lock = [0], threading.Lock()
    stop_at = time.monotonic() + seconds

    def loop(thread: int) -> None:
        count = 0
        while time.monotonic() < stop_at:
            try:
                s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{thread}/{count:08d}.jpg", Body=payload)
            except Exception:
                time.sleep(0.01)
                continue
            count += 1
        with lock:
            done[0] += count

    started = time.monotonic()
    pool = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=seconds + 30)
    return done[0] / max(1e-9, time.monotonic() - started)


def null_s3_ceiling(threads: int, seconds: float, payload: bytes) -> float:
    """boto3's own ceiling: the same closed loop against a null S3 in a process of its own."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", NULL_S3, LOOPBACK, str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        s3 = local_client(f"http://{LOOPBACK}:{port}", threads + 2)
        deadline = time.monotonic() + 10
        while True:  # until the server answers (bounded)
            try:
                s3.head_bucket(Bucket=BUCKET)
                break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.05)
        return put_ceiling(s3, threads, seconds, payload, "null")
    finally:
        server.terminate()
        server.wait(timeout=10)


def limiting_side(moto_rps: float, null_rps: float) -> str:
    if moto_rps < 0.8 * null_rps:
        return f"moto (boto3+moto ceiling {moto_rps:,.0f}/s; boto3 alone, null S3: {null_rps:,.0f}/s)"
    return (
        f"the client, boto3 + scheduler (its ceiling against a null S3 {null_rps:,.0f}/s; with moto {moto_rps:,.0f}/s)"
    )


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


def print_rate(rate: float, workers: int, m: dict[str, Any], base_p99_ms: float) -> None:
    lag, put = m["lag_ms"], m["service_ms"]
    ratio = lag[2] / base_p99_ms if base_p99_ms > 0 else float("nan")
    row = f"{rate:>7g} {workers:>7} {m['count']:>6} {m['achieved_rps']:>10.1f} "
    row += " ".join(f"{v:>8.2f}" for v in lag) + f" {ratio:>8.1f} " + " ".join(f"{v:>8.2f}" for v in put[:4])
    print(row + f" {m['errors']:>6}", flush=True)
    key = f"replay_{rate:g}_per_s"
    figure(f"{key}_achieved_rps", m["achieved_rps"], "uploads/s")
    figure(f"{key}_lag_p50_ms", lag[0], "ms")
    figure(f"{key}_lag_p99_ms", lag[2], "ms")
    figure(f"{key}_put_p50_ms", put[0], "ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="50,200,500", help="comma-separated uploads/s (default 50,200,500)")
    parser.add_argument("--duration-s", type=float, default=10.0, help="seconds per rate (default 10)")
    parser.add_argument("--workers", type=int, default=0, help="sender threads (default: sized to each rate)")
    parser.add_argument("--ceiling-s", type=float, default=3.0, help="seconds per closed-loop ceiling (3; 0: skip)")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r]
    payload = generated_images(4)[3].data  # the 320x240 one
    top_workers = args.workers or workers_for_rate(max(rates))
    base = baseline_lag(max(rates), args.duration_s, top_workers)
    print(f"payload {len(payload):,} bytes; cpus {os.cpu_count()}; {args.duration_s:g} s per rate")
    print(f"baseline (scheduler only, {max(rates):g}/s, {top_workers} threads): lag p50 {base[0]:.2f} ms, "
          f"p90 {base[1]:.2f}, p99 {base[2]:.2f} ms, p99.9 {base[3]:.2f} ms, max {base[4]:.2f} ms")  # fmt: skip
    lag_cols = " ".join(f"{'lag ' + n:>8}" for n, _ in LATENCY_PERCENTILES) + f" {'lag max':>8} {'p99/base':>8} "
    put_cols = " ".join(f"{'put ' + n:>8}" for n, _ in LATENCY_PERCENTILES)
    print(
        f"{'rate/s':>7} {'threads':>7} {'sent':>6} {'achieved/s':>10} " + lag_cols + put_cols + f" {'errors':>6}   (ms)"
    )
    missed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp, MotoS3Server(Path(tmp) / "moto.log") as moto:
        admin = moto.client("s3")
        admin.create_bucket(Bucket=BUCKET)
        for rate in rates:
            workers = args.workers or workers_for_rate(rate)
            s3 = local_client(moto.endpoint_url, workers + 2)
            m = measure(s3, rate, args.duration_s, workers, payload)
            print_rate(rate, workers, m, base[2])
            empty_bucket(admin)
            missed += [(rate, m["achieved_rps"])] if missed_line(rate, m["achieved_rps"]) else []
        ceilings = (0.0, 0.0)
        if args.ceiling_s > 0:
            moto_rps = put_ceiling(local_client(moto.endpoint_url, top_workers + 2), top_workers, args.ceiling_s,
                                   payload, "ceiling")  # fmt: skip
            empty_bucket(admin)
            ceilings = (moto_rps, null_s3_ceiling(top_workers, args.ceiling_s, payload))
            print(f"closed-loop ceilings, {top_workers} threads: boto3 + moto {ceilings[0]:,.0f} PUT/s; "
                  f"boto3 + null S3 {ceilings[1]:,.0f} PUT/s")  # fmt: skip
            figure("replay_ceiling_boto3_moto_put_per_s", ceilings[0], "PUT/s")
            figure("replay_ceiling_boto3_null_s3_put_per_s", ceilings[1], "PUT/s")
    for rate, achieved in missed:
        print(missed_line(rate, achieved, limit=limiting_side(*ceilings) if args.ceiling_s > 0 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
