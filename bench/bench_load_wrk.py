"""Load-generator throughput per CPU core on loopback: this toolkit's Locust dispatcher next to wrk.

Both send the same POST (a small JSON image payload) to the same endpoint: a minimal asyncio HTTP/1.1
keep-alive server started by this script in a process of its own. Figures: requests/s answered, CPU
seconds the load generator used (its process tree, from rusage), requests per CPU-second, and the ratio.
Our dispatcher is asked for a constant rate above what it can reach; sends it cannot start within
max lag are recorded "dropped" (counted, not hidden). wrk comes from the Debian package `wrk`; without it
that column is skipped.

    .venv/bin/python bench/bench_load_wrk.py                      # 10 s each (about 1 min)
    .venv/bin/python bench/bench_load_wrk.py --duration-s 30 --rate-rps 4000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._common import figure  # noqa: E402
from labkit.images import synthetic_jpeg  # noqa: E402
from labkit.net import LOOPBACK, free_port  # noqa: E402
from labkit.rundir import RunDir  # noqa: E402
from locustfiles.runner import LoadPlan, run_locust  # noqa: E402

RESPONSE_BODY = b'{"model_name": "none"}'
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(RESPONSE_BODY)).encode() + b"\r\n\r\n" + RESPONSE_BODY)  # fmt: skip


class FastHttp(asyncio.Protocol):
    """Just enough HTTP/1.1: requests with Content-Length, keep-alive, a fixed 200 answer."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            match = re.search(rb"(?i)content-length:\s*(\d+)", self.buffer[:end])
            total = end + 4 + (int(match.group(1)) if match else 0)
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            self.transport.write(RESPONSE)  # type: ignore[attr-defined]
            self.answered()

    def answered(self) -> None:
        """Called once per request answered (a subclass counts them)."""


def serve(port: int) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(FastHttp, LOOPBACK, port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class CountedHttp(FastHttp):
    """FastHttp with an access log kept in memory: `<unix s with ms> 200` per request (bench_load_max)."""

    lines: list[str] = []

    def answered(self) -> None:
        self.lines.append(f"{time.time():.3f} 200\n")


def serve_counted(port: int, log_path: Path) -> None:
    """Serve like `serve`, writing the access log to `log_path` every 0.2 s; SIGUSR1 reopens it (as nginx does,
    for a rotation: what was buffered goes to the old file first)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        handle = [log_path.open("a")]

        def write_out() -> None:
            lines, CountedHttp.lines[:] = CountedHttp.lines[:], []
            handle[0].write("".join(lines))
            handle[0].flush()

        def reopen() -> None:
            write_out()
            handle[0].close()
            handle[0] = log_path.open("a")

        loop.add_signal_handler(signal.SIGUSR1, reopen)
        server = await loop.create_server(CountedHttp, LOOPBACK, port)
        async with server:
            while True:
                await asyncio.sleep(0.2)
                write_out()

    asyncio.run(main())


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ours(url: str, rate_rps: float, duration_s: float, images: Path, root: Path) -> dict[str, float]:
    run = RunDir.create(root, "bench-wrk")
    plan = LoadPlan("fast-server", url, shape="constant", rate_rps=rate_rps, duration_s=duration_s,
                    max_inflight=64, max_rate_rps=rate_rps, images_dir=str(images), scenario="bench-wrk")  # fmt: skip
    cpu_before = children_cpu_s()
    run_locust(plan, run)
    cpu_s = children_cpu_s() - cpu_before
    records = run.records()
    ok = sum(r.ok for r in records)
    sends = sorted(r.actual_send_unix_s for r in records if r.actual_send_unix_s)
    span_s = max(1e-9, sends[-1] - sends[0]) if sends else duration_s
    return {"rps": ok / span_s, "cpu_s": cpu_s, "ok": ok, "dropped": sum(r.error_kind == "dropped" for r in records),
            "per_cpu_s": ok / cpu_s}  # fmt: skip


def run_wrk(url: str, payload: bytes, duration_s: float, connections: int, root: Path) -> dict[str, float] | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    script = root / "post.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f"wrk.body = [==[{payload.decode()}]==]\n")  # fmt: skip
    cpu_before = children_cpu_s()
    command = [wrk, "-t1", f"-c{connections}", f"-d{int(duration_s)}s", "-s", str(script), url + "/predict"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60, check=True).stdout
    cpu_s = children_cpu_s() - cpu_before
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "cpu_s": cpu_s, "per_cpu_s": rps * duration_s / cpu_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--rate-rps", type=float, default=3000.0, help="rate asked of our dispatcher")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        time.sleep(1.0)
        url = f"http://{LOOPBACK}:{port}"
        with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
            root = Path(tmp)
            (root / "images").mkdir()
            image = synthetic_jpeg(64, 48, seed=1)
            (root / "images" / "small.jpg").write_bytes(image)
            payload = json.dumps({"image": base64.b64encode(image).decode("ascii")}).encode()
            ours = run_ours(url, args.rate_rps, args.duration_s, root / "images", root)
            theirs = run_wrk(url, payload, args.duration_s, args.connections, root)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"same endpoint, same {len(payload)}-byte POST, {args.duration_s:g} s each (2 cores shared with the server)")
    print(f"{'':34} {'req/s':>9} {'CPU s':>7} {'req per CPU-s':>14}")
    print(f"{'ours (asked ' + format(args.rate_rps, 'g') + ' rps)':34} {ours['rps']:9.0f} {ours['cpu_s']:7.1f} "
          f"{ours['per_cpu_s']:14.0f}   ({ours['ok']:.0f} ok, {ours['dropped']:.0f} dropped)")  # fmt: skip
    figure("load_wrk_ours_rps", ours["rps"], "req/s")
    figure("load_wrk_ours_req_per_cpu_s", ours["per_cpu_s"], "req/CPU-s")
    if theirs is None:
        print("wrk: not installed (apt-get install wrk); column skipped")
        return 0
    figure("load_wrk_wrk_rps", theirs["rps"], "req/s")
    figure("load_wrk_ours_vs_wrk_rps", ours["rps"] / theirs["rps"], "x")
    figure("load_wrk_ours_vs_wrk_req_per_cpu_s", ours["per_cpu_s"] / theirs["per_cpu_s"], "x")
    print(f"{'wrk -t1 -c' + str(args.connections):34} {theirs['rps']:9.0f} {theirs['cpu_s']:7.1f} "
          f"{theirs['per_cpu_s']:14.0f}")  # fmt: skip
    print(
        f"\nratio ours / wrk: {ours['rps'] / theirs['rps']:.3f} in req/s, "
        f"{ours['per_cpu_s'] / theirs['per_cpu_s']:.3f} in req per CPU-second"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
