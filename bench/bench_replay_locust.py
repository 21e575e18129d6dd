"""The replay's Locust engine on schedule (issue 13, goal 4): >= 1,000 signed uploads/s from 2 processes, send lag
p99 < 20 ms, against an S3-compatible endpoint that is not the bottleneck; moto server's own ceiling beside it.

Endpoint: nginx on 127.0.0.1 (a free port, a config of its own; bench_load_max.Endpoint) answering every PUT with
200 and logging one line per request: that access log is the independent count. The uploads are what
`python -m replay --engine locust` sends: the replay's generated JPEGs (8 photo sizes, ~74 KB on average), one
SigV4-signed PUT each on pooled keep-alive connections, through replay.locustengine.run_uploads (Locust headless as
a subprocess, `--processes N`), a constant-rate schedule of `--rate-rps` for `--duration-s`. Measured:
  1. 2 Locust processes against nginx (the goal), 2. 1 process (comparison),
  3. moto server (`python -m moto.server`, a free port) driven by the same engine with 2 processes at
     `--moto-rate-rps` (above what it can take) for `--moto-s`: what it completes per second is its ceiling.
Printed: asked vs achieved rate (nginx's log and the records), send lag and latency p50/p90/p99/p99.9, the
Locust processes' CPU seconds (uploads per CPU-second: the sizing figure), MISSED lines (rate short by > 1%, lag
p99 >= 20 ms, an upload not recorded ok), which side limits, and one `FIGURE <name>: <value> <unit>` line per
headline figure.

    .venv/bin/python bench/bench_replay_locust.py                      # about 1.5 min
    .venv/bin/python bench/bench_replay_locust.py --rate-rps 1500 --duration-s 20
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._common import machine_line, missed_line, print_table, summarize  # noqa: E402
from bench.bench_load_max import Endpoint, Served  # noqa: E402
from labkit.runctx import RunContext  # noqa: E402
from labkit.rundir import RunDir  # noqa: E402
from localcloud.s3 import MotoS3Server  # noqa: E402
from localcloud.s3.moto_server import DUMMY_REGION  # noqa: E402
from replay.locustengine import Cluster, UploadSpec, run_uploads, upload_records  # noqa: E402

LAG_P99_GOAL_MS = 20.0
BUCKET = "bench-replay"


@dataclass(frozen=True)
class Outcome:
    """One run of the engine: what was asked, what the endpoint and the records say."""

    name: str
    processes: int
    asked_rps: float
    scheduled: int
    ok: int
    errors: int
    dropped: int
    records_rps: float  # ok uploads between the first and last actual send
    completed_rps: float  # ok uploads per second between the first send and the last completion
    served: Served | None  # nginx's own count (None for moto)
    lag_ms: list[float]
    latency_ms: list[float]
    cpu_s: float


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_engine(name: str, url: str, processes: int, rate_rps: float, duration_s: float, root: Path,
               endpoint: Endpoint | None = None) -> Outcome:  # fmt: skip
    """A constant-rate schedule sent by the Locust engine to `url` (bucket BUCKET), measured."""
    run = RunDir.create(root / "runs", name)
    spec = UploadSpec(run_dir=str(run.path.resolve()), run_id=run.run_id, scenario=name, target="local-s3",
                      key_scope=run.run_id, bucket=BUCKET, endpoint_url=url, region=DUMMY_REGION,
                      constant_rps=rate_rps, constant_s=duration_s, max_inflight=256 * processes,
                      network_timeout_s=10.0, max_attempts=1)  # fmt: skip
    if endpoint is not None:
        endpoint.served()  # start counting from here
    cpu_before_s = children_cpu_s()
    with RunContext(run, handle_signals=False) as ctx:
        run_uploads(ctx, spec, Cluster(processes), duration_s)
    cpu_s = children_cpu_s() - cpu_before_s
    served = endpoint.served() if endpoint is not None else None
    records = list(upload_records(run.records_dir))
    ok = [r for r in records if r.ok]
    sends = sorted(r.actual_send_unix_s for r in ok if r.actual_send_unix_s is not None)
    ends = [r.completion_unix_s for r in ok if r.completion_unix_s is not None]
    records_rps = (len(sends) - 1) / (sends[-1] - sends[0]) if len(sends) > 1 and sends[-1] > sends[0] else 0.0
    completed_rps = len(ends) / (max(ends) - sends[0]) if ends and max(ends) > sends[0] else 0.0
    return Outcome(name, processes, rate_rps, math.floor(rate_rps * duration_s), len(ok),
                   sum(not r.ok and r.error_kind != "dropped" for r in records),
                   sum(r.error_kind == "dropped" for r in records), records_rps, completed_rps, served,
                   [r.send_lag_ms for r in records if r.send_lag_ms is not None],
                   [r.latency_ms for r in ok if r.latency_ms is not None], cpu_s)  # fmt: skip


def misses(out: Outcome) -> list[str]:
    """Why a run against the null endpoint missed its goal (empty when it did not)."""
    found = [line for line in (missed_line(out.asked_rps, out.records_rps, limit="the load generator"),
                               missed_line(out.asked_rps, out.served.rps if out.served else 0.0,
                                           limit="the load generator (the endpoint's count)")) if line]  # fmt: skip
    lag_p99 = summarize(out.lag_ms).p99_ms
    if not lag_p99 < LAG_P99_GOAL_MS:
        found.append(f"MISSED: send lag p99 {lag_p99:.1f} ms >= {LAG_P99_GOAL_MS:g} ms ({out.name})")
    if out.ok != out.scheduled:
        found.append(f"MISSED: {out.ok} of {out.scheduled} uploads ok ({out.errors} errors, {out.dropped} dropped)")
    return found


def report(outs: list[Outcome]) -> None:
    rows = [[o.name, o.asked_rps, o.records_rps, o.served.rps if o.served else math.nan,
             o.served.count if o.served else "-", o.ok, o.dropped, o.cpu_s] for o in outs]  # fmt: skip
    print_table(
        ["run", "asked /s", "records /s", "endpoint /s", "endpoint count", "ok", "dropped", "Locust CPU s"], rows
    )
    print()
    rows = []
    for o in outs:
        rows.append([f"{o.name} send lag", *summarize(o.lag_ms).cells()])
        rows.append([f"{o.name} latency", *summarize(o.latency_ms).cells()])
    print_table(["ms", "p50", "p90", "p99", "p99.9"], rows)


def figures(label: str, out: Outcome) -> None:
    lag, latency = summarize(out.lag_ms), summarize(out.latency_ms)
    print(f"FIGURE {label}_uploads_per_s: {out.records_rps:.1f} /s")
    if out.served is not None:
        print(f"FIGURE {label}_nginx_uploads_per_s: {out.served.rps:.1f} /s")
    print(f"FIGURE {label}_lag_p99_ms: {lag.p99_ms:.2f} ms")
    print(f"FIGURE {label}_lag_p999_ms: {lag.p999_ms:.2f} ms")
    print(f"FIGURE {label}_latency_p99_ms: {latency.p99_ms:.2f} ms")


def measure_moto(args: argparse.Namespace, root: Path) -> Outcome:
    with MotoS3Server(log_path=root / "moto.log") as moto:
        moto.client("s3").create_bucket(Bucket=BUCKET)
        return run_engine("moto-2proc", moto.endpoint_url, 2, args.moto_rate_rps, args.moto_s, root)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate-rps", type=float, default=1000.0, help="uploads/s asked of the engine (1000)")
    parser.add_argument("--duration-s", type=float, default=10.0, help="schedule length against nginx (10)")
    parser.add_argument("--moto-rate-rps", type=float, default=1000.0, help="uploads/s asked of moto (1000)")
    parser.add_argument("--moto-s", type=float, default=5.0, help="schedule length against moto (5)")
    args = parser.parse_args()
    print(machine_line())
    started_s = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-replay-locust-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # nginx's workers (nobody) reopen their log by its path on a rotation
        (root / "nginx").mkdir()
        endpoint = Endpoint(root / "nginx")
        try:
            print(f"null S3 endpoint: {endpoint.name} at {endpoint.url}; {args.rate_rps:g} uploads/s for "
                  f"{args.duration_s:g} s, signed PUTs of the replay's generated JPEGs", flush=True)  # fmt: skip
            two = run_engine(f"{endpoint.kind}-2proc", endpoint.url, 2, args.rate_rps, args.duration_s, root, endpoint)
            one = run_engine(f"{endpoint.kind}-1proc", endpoint.url, 1, args.rate_rps, args.duration_s, root, endpoint)
            idle = run_engine("start-up-1proc", endpoint.url, 1, 1.0, 1.0, root, endpoint)
        finally:
            endpoint.stop()
        moto = measure_moto(args, root)
    report([two, one, moto])
    print()
    for line in misses(two) + [f"(1 process) {line}" for line in misses(one)]:
        print(line)
    moto_ceiling = moto.completed_rps
    limit = "moto limits (not the engine)" if moto_ceiling < two.records_rps else "the engine limits (not moto)"
    print(f"moto server's ceiling: {moto_ceiling:.0f} uploads/s completed when asked {moto.asked_rps:g}/s "
          f"({moto.ok} ok, {moto.dropped} dropped, latency p50 {summarize(moto.latency_ms).median_ms:.0f} ms); "
          f"the engine sent {two.records_rps:.0f}/s to {endpoint.name} from 2 processes: "
          f"against moto, {limit}")  # fmt: skip
    per_cpu_s = one.ok / max(1e-9, one.cpu_s - idle.cpu_s)
    print(f"1 process: {one.cpu_s:.1f} CPU s for {one.ok} uploads, {idle.cpu_s:.1f} of them Locust's start-up and "
          f"shutdown (a run of 1 upload): {per_cpu_s:.0f} uploads per CPU-second sent")  # fmt: skip
    figures("replay_locust_2proc", two)
    figures("replay_locust_1proc", one)
    print(f"FIGURE replay_locust_uploads_per_cpu_s: {per_cpu_s:.0f} /CPU-s")
    print(f"FIGURE moto_ceiling_uploads_per_s: {moto_ceiling:.1f} /s")
    print(f"bench took {time.monotonic() - started_s:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
