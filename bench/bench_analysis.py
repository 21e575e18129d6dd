"""Full analysis of synthetic records (1 M by default; `--sizes 1e6,1e7`): time and peak memory.

Each measurement runs in a fresh subprocess (peak RSS = that process's ru_maxrss, including the synthetic
frame itself, whose size is printed too). Measured in the same run:
- analysis: `analysis.summary.analyse` with windows of 10 s and 60 s, the default SLA spec and the price
  list: per-group exact percentiles with CIs, per-window tables, cold starts (rate, penalty, concurrency,
  keep-alive), SLA verdicts, modelled cost (no plots, no rendering);
- baseline: the naive pandas way to get only the per-window percentiles: groupby(target, window)
  ["latency_ms"].quantile([...]) for the same two window sizes (no CIs, no cold starts, no SLA, no cost);
- windows: only our per-window tables (analysis.windows.window_frame) for the same two window sizes;
- the per-window p99 tables are compared (max abs difference) to show they are the same figures.

Usage: .venv/bin/python bench/bench_analysis.py [--sizes 1e6,1e7] [--targets 4]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))
QUANTILES = (0.5, 0.9, 0.95, 0.99, 0.999)


def synthetic_frame(n: int, targets: int, seed: int = 1):
    """n records over targets at 300 req/s each: lognormal latency, 1% cold (+400 ms), 0.5% errors."""
    import numpy as np
    import pandas as pd

    from labkit.records import FIELD_NAMES

    rng = np.random.default_rng(seed)
    target_code = rng.integers(0, targets, n)
    names = np.array([f"{'local-faas' if i % 2 == 0 else 'local-server'}-{i}" for i in range(targets)])
    t0 = 1_795_000_000.0
    intended = t0 + np.sort(rng.uniform(0, n / (300.0 * targets), n))
    cold = rng.random(n) < 0.01
    latency = rng.lognormal(np.log(20.0), 0.4, n) + np.where(cold, 400.0, 0.0)
    lag = rng.exponential(1.0, n)
    ok = rng.random(n) >= 0.005
    frame = pd.DataFrame({
        "run_id": "bench", "request_id": np.arange(n).astype(str), "source": "locust", "scenario": "constant",
        "target": pd.Categorical(names[target_code]), "operation": "predict",
        "intended_send_unix_s": intended, "actual_send_unix_s": intended + lag / 1000,
        "completion_unix_s": intended + latency / 1000, "latency_ms": latency, "service_latency_ms": latency - lag,
        "send_lag_ms": lag, "ok": pd.array(ok, dtype="boolean"), "status_code": np.where(ok, 200, 503),
        "error_kind": np.where(ok, "", "http_5xx"), "cold_start": pd.array(cold, dtype="boolean"),
        "init_ms": np.where(cold, 300.0, np.nan), "duration_ms": latency * 0.8, "billed_ms": np.ceil(latency * 0.8),
        "memory_mb": 1024.0, "instance_id": pd.Categorical(rng.integers(0, 50, n).astype(str)),
        "model_name": "mobilenetv2", "weights": "random",
    })  # fmt: skip
    return frame.reindex(columns=list(FIELD_NAMES))


def _analysis(frame) -> dict:
    from analysis.pricing import load_pricing
    from analysis.report import DEFAULT_SLA
    from analysis.sla import load_sla
    from analysis.summary import AnalysisOptions, analyse

    options = AnalysisOptions((10.0, 60.0), load_sla(DEFAULT_SLA), load_pricing())
    groups = analyse(frame, options)
    return {g["target"]: [w["latency_p99"] for w in g["windows"]["10"]] for g in groups}


def _windows_only(frame) -> dict:
    from analysis.frame import prepare
    from analysis.windows import window_frame

    data = prepare(frame)
    out = {}
    for target, group in data.groupby("target", observed=True):
        tables = {w: window_frame(group, w) for w in (10.0, 60.0)}
        out[str(target)] = tables[10.0]["latency_p99"].tolist()
    return out


def _baseline(frame) -> dict:
    import numpy as np

    out = {}
    origin = frame.groupby("target", observed=True)["intended_send_unix_s"].transform("min")
    for window_s in (10.0, 60.0):
        data = frame.loc[frame["ok"].fillna(False).astype(bool)].copy()
        data["window"] = np.floor((data["intended_send_unix_s"] - origin[data.index]) / window_s).astype(int)
        table = data.groupby(["target", "window"], observed=True)["latency_ms"].quantile(list(QUANTILES))
        if window_s == 10.0:
            p99 = table.xs(0.99, level=2)
            out = {str(t): p99.xs(t, level=0).tolist() for t in p99.index.get_level_values(0).unique()}
    return out


def child(mode: str, n: int, targets: int) -> None:
    """Runs in the subprocess: build the frame, time one mode, print a JSON line."""
    started = time.perf_counter()
    frame = synthetic_frame(n, targets)
    build_s = time.perf_counter() - started
    frame_mb = frame.memory_usage(deep=True).sum() / 2**20
    started = time.perf_counter()
    p99 = {"analysis": _analysis, "windows": _windows_only, "baseline": _baseline}[mode](frame)
    elapsed_s = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "n": n, "seconds": elapsed_s, "build_s": build_s, "frame_mb": frame_mb,
                      "peak_rss_mb": peak_mb, "p99": p99}))  # fmt: skip


def measure(mode: str, n: int, targets: int) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--sizes", str(n), "--targets", str(targets)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=PROJECT_ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} n={n} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _max_diff(a: dict, b: dict) -> float:
    import numpy as np

    diffs = [np.nanmax(np.abs(np.array(a[t], dtype=float) - np.array(b[t], dtype=float))) for t in a]
    return float(max(diffs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1e6", help="record counts, comma-separated (e.g. 1e6,1e7)")
    parser.add_argument("--targets", type=int, default=4)
    parser.add_argument("--child", choices=("analysis", "windows", "baseline"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",") if s]
    if args.child:
        child(args.child, sizes[0], args.targets)
        return
    print(f"bench_analysis: python {sys.version.split()[0]}, {args.targets} targets, one subprocess per measurement")
    print(f"{'records':>10} {'mode':>9} {'seconds':>8} {'records/s':>11} {'peak RSS MB':>12} {'frame MB':>9}")
    for n in sizes:
        ours, windows = measure("analysis", n, args.targets), measure("windows", n, args.targets)
        base = measure("baseline", n, args.targets)
        for row in (ours, windows, base):
            print(f"{n:>10,} {row['mode']:>9} {row['seconds']:>8.2f} {n / row['seconds']:>11,.0f} "
                  f"{row['peak_rss_mb']:>12,.0f} {row['frame_mb']:>9,.0f}")  # fmt: skip
        print(f"{'':>10} ratio analysis/baseline: time {ours['seconds'] / base['seconds']:.2f}x, peak RSS "
              f"{ours['peak_rss_mb'] / base['peak_rss_mb']:.2f}x; per-window p99 max |diff| "
              f"{_max_diff(ours['p99'], base['p99']):.3g} ms (same figures)")  # fmt: skip
        rss = windows["peak_rss_mb"] / base["peak_rss_mb"]
        print(f"{'':>10} ratio windows/baseline (the same per-window percentiles only): time "
              f"{windows['seconds'] / base['seconds']:.2f}x, peak RSS {rss:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
