"""Analysis of synthetic records (1 M by default; `--sizes 1e6,1e7`): time and peak memory, ours vs pandas and polars.

Every measurement runs in a fresh subprocess; imports are timed apart from the work (`import s`); peak RSS
is that process's ru_maxrss (`peak MB`; for `added MB` see below). Ours: `analysis.summary.analyse`
(windows of 10 s and 60 s, the default SLA spec, the price list: per-group counts, errors by kind,
throughput, exact percentiles with CIs of both latency columns, send lag / inference / duration stats,
per-window tables, cold starts, SLA verdicts, modelled cost). Three peers (bench/analysis_peers.py), each
measured in the same run as ours:

- peer-subset: the strong way to get *only* the per-window percentiles of latency_ms per target (the
  4 columns it needs, the ok rows' target (kept categorical: no text per row) and latency_ms, then
  groupby([target, window])["latency_ms"].quantile(...) for both window sizes).
  It does about a quarter of our work: the lower bound of what any pandas analysis costs, not like-for-like.
- peer-full: the fair, like-for-like peer: the same core figures, idiomatic vectorised pandas
  (groupby(observed=True, sort=False), no per-row Python). Per target: count, ok, errors by error_kind
  (value_counts), mean/min/max and the quantiles (p50 p90 p95 p99 p99.9) of latency_ms and
  service_latency_ms over ok rows, quantiles of send_lag_ms, cold starts (count, known, rate). Per target
  and window (10 s and 60 s from the target's first intended send): requests, errors, cold starts, cold
  known, quantiles and max of both latency columns over ok rows. (Not: CIs, throughput, SLA, cost.)
- peer-polars: the same figures as peer-full in polars (group_by over the whole frame, eager, on every
  core; quantiles with linear interpolation, numpy's definition): the strongest fair peer there is here. The
  goals are against pandas; polars' own ratios against peer-full are printed beside ours.

Windows are floor((intended send - the target's first intended send) / window_s). Two variants:

- memory: records already in a pandas frame (built in the process, not timed; its RSS is printed and
  `added MB` is the peak RSS during the work minus the RSS once the frame was built, the part the work
  itself costs: at the start of the work, freed heap goes back to the OS (glibc malloc_trim) and the peak
  is reset to the current RSS (Linux /proc/self/clear_refs); else a work peak below the frame build's own
  peak, or pages reused from the build's freed heap, would not show. Every mode measures the same way).
- disk (end to end): the records written as CSV files (RecordWriter's format: its header, minimal quoting,
  true/false, empty for None; written here by pyarrow, one file per producer process: see `--layout`) in a
  temporary run dir; ours: what a report reads and computes (`analysis.runread.open_run_records`: the run a part
  at a time, files that share no group apart (analysis.parts: with the producer layout a part per target, so
  about a quarter of the rows in memory at once; interleaved: one part), each part's `analyse`), a first read
  (CSV parsed by pyarrow; it leaves an Arrow IPC copy in the run's cache/ dir), a second one (`ours-cached`: from
  that copy) and a read after a run (`ours-run`: the copy a run's compactor leaves when the records came at the
  synthetic rate: each file cut every 30 s of its rows, the pieces joining a segment until it holds 16 MiB, up to
  the last piece, which is parsed; the compaction runs in a process of its own before, as a run's compactor runs
  in the runner's process, not timed with the report: its seconds (one thread, spent while the run went) are
  printed apart); peers: `pandas.read_csv` of only the columns each needs (target as category; the full peer also
  error_kind as category, ok/cold_start as boolean), then the same work as in memory (no cache: their every read
  is a first one). read_csv's C engine, measured here against engine="pyarrow" (1 M records, 2 cpus): as fast or
  faster and about half the peak RSS. polars reads with its own multi-threaded `scan_csv` (in memory, its input
  is a polars frame, converted before the clock starts).

- report (`ours-report`): what `python -m analysis RUN` does after a run, timed whole: `analysis.report.write_report`
  of the run dir (its read from the columnar copy the modes before left, the analysis, the plots, report.md,
  report.html, summary.json, windows.csv); the imports (matplotlib's too) timed apart. No peer does this work: its
  time and peak RSS are printed against the 10 M goal, not as a ratio.

The per-window p99 tables (10 s windows) of ours and each peer are compared (max |diff|): the same figures.
Goals (issue 13): ours >= 3x faster than the peer, <= 0.5x its memory (at 1 M and 10 M records);
a full report of 10 M records in <= 10 s (ours-report; the analysis alone from disk printed against it too).
A missed goal prints "MISSED goal ... vs pandas <peer> peer ...", for each peer: the full peer is the fair one,
the subset peer the least work any pandas analysis does.
FIGURE names: `..._vs_pandas` against the subset peer (as before, so history lines up), `..._vs_pandas_full`
against the full peer, `..._vs_polars` against polars, `..._polars_speedup_vs_pandas_full` polars' own.
Memory-heavy figures are noisy here: a fresh process's first touch of memory the VM has not backed yet
costs up to ~2.5 s per GB (1.5 GB: 3.7 s the first time, 0.35 s once backed), which no code can avoid.

Usage: .venv/bin/python bench/bench_analysis.py [--sizes 1e6,1e7] [--targets 4] [--layout producer|interleaved]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from bench._common import figure  # noqa: E402
from bench.analysis_peers import PEER_WORK, WINDOWS_S, polars_frame  # noqa: E402
from bench.analysis_records import (  # noqa: E402
    LAYOUTS,
    as_run_dir,
    compact_as_a_run,
    run_span_s,
    synthetic_frame,
    write_records,
)

MODES = ("ours-memory", "ours-disk", "ours-cached", "ours-run", "ours-report", *PEER_WORK)
PEERS = {"subset": "pandas", "full": "pandas_full", "polars": "polars"}  # peer -> its FIGURE names' "vs_" part
GOAL_SPEEDUP, GOAL_MEMORY, GOAL_10M_S = 3.0, 0.5, 10.0
VARIANTS = (  # (variant, our mode, the peers' mode, its FIGURE names' part)
    ("memory", "ours-memory", "memory", "in_memory"),
    ("disk", "ours-disk", "disk", "disk"),
    ("disk, cached", "ours-cached", "disk", "cached"),
    ("disk, after a run", "ours-run", "disk", "after_run"),
)


def _rss_mb() -> float:
    """The process's peak RSS so far (since start or the last `_reset_peak`), MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> float:
    """Reset the peak RSS to the current RSS (Linux: /proc/self/clear_refs) and return that RSS (MB), so the
    next `_rss_mb` is the peak of what runs from now on; where that fails, the peak so far (as before).

    Freed heap the allocator kept (glibc: malloc_trim) goes back to the OS first: else the work's first
    pages reuse it unseen (at 1 M records in memory, ~85 MB left over from building the frame)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    try:
        Path("/proc/self/clear_refs").write_text("5")
        status = Path("/proc/self/status").read_text().splitlines()
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration, ValueError):
        return _rss_mb()


def _ours(frame) -> dict:
    from analysis.pricing import load_pricing
    from analysis.sla import DEFAULT_SLA, load_sla
    from analysis.summary import AnalysisOptions, analyse

    options = AnalysisOptions(WINDOWS_S, load_sla(DEFAULT_SLA), load_pricing())
    groups = analyse(frame, options)
    return {g["target"]: [w["latency_p99"] for w in g["windows"]["10"]] for g in groups}


def _ours_disk(run_dir: Path) -> dict:
    """A report's reading and analysis of the run dir: a part at a time (analysis.runread), no plots or files."""
    from analysis.partwise import analyse_parts
    from analysis.pricing import load_pricing
    from analysis.runread import open_run_records
    from analysis.sla import DEFAULT_SLA, load_sla
    from analysis.summary import AnalysisOptions
    from labkit.rundir import RunDir

    options = AnalysisOptions(WINDOWS_S, load_sla(DEFAULT_SLA), load_pricing())
    groups, _, _ = analyse_parts([open_run_records(RunDir(run_dir))], [], options, {}, timeline=False)
    return {g["target"]: [w["latency_p99"] for w in g["windows"]["10"]] for g in groups}


def _ours_report(run_dir: Path) -> dict:
    """`python -m analysis RUN`: the run dir's report, every file written (see module doc)."""
    from analysis.report import write_report

    files = write_report(run_dir)
    return {g["target"]: [w["latency_p99"] for w in g["windows"]["10"]] for g in files.summary["groups"]}


def _imports(mode: str) -> None:
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    if mode.startswith("peer-polars"):
        import polars  # noqa: F401
    if mode == "ours-report":  # the report draws: matplotlib too
        import analysis.report
    elif mode.startswith("ours"):  # the analysis alone imports no plotting (analysis.partwise)
        import analysis.frame
        import analysis.partwise
        import analysis.summary  # noqa: F401


def child(mode: str, n: int, targets: int, run_dir: Path | None, layout: str) -> None:
    """Runs in the subprocess: imports (timed), the input (not timed), the work (timed); one JSON line."""
    started = time.perf_counter()
    _imports(mode)
    import_s = time.perf_counter() - started
    frame = synthetic_frame(n, targets, layout=layout) if mode.endswith("memory") else None
    if mode == "peer-polars-memory":  # its input is a polars frame, built before the clock starts as the others'
        frame = polars_frame(frame)
    before_mb = _rss_mb()  # the process's peak so far (the frame's build, in memory): reset just below
    base_mb = _reset_peak()
    started = time.perf_counter()
    work = {"ours-memory": _ours, "ours-disk": _ours_disk, "ours-cached": _ours_disk, "ours-run": _ours_disk,
            "ours-report": _ours_report, **PEER_WORK}[mode]  # fmt: skip
    p99 = work(frame if frame is not None else run_dir)
    seconds = time.perf_counter() - started
    peak = _rss_mb()
    print(json.dumps({"mode": mode, "n": n, "seconds": seconds, "import_s": import_s, "base_rss_mb": base_mb,
                      "peak_rss_mb": max(peak, before_mb), "added_mb": peak - base_mb, "p99": p99}))  # fmt: skip


def run_child(args: list[str]) -> dict:
    cmd = [sys.executable, __file__, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=PROJECT_ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    lines = proc.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def _max_diff(a: dict, b: dict) -> float:
    import numpy as np

    diffs = [np.nanmax(np.abs(np.array(a[t], dtype=float) - np.array(b[t], dtype=float))) for t in a]
    return float(max(diffs))


def _ratios(variant: str, ours: dict, peer: dict) -> tuple[float, float]:
    """Speed-up of ours over the peer and our memory as a fraction of the peer's."""
    speed = peer["seconds"] / ours["seconds"]
    memory_key = "added_mb" if variant == "memory" else "peak_rss_mb"  # the frame is the same for both
    return speed, ours[memory_key] / max(peer[memory_key], 1.0)


def _figures(n: int, variant: str, name_part: str, ours: dict, peers: dict[str, dict]) -> None:
    """FIGURE lines of one variant: our seconds, the speed-up and the memory ratio vs each pandas peer."""
    key = f"analysis_{n / 1e6:g}m_{name_part}"
    figure(f"{key}_ours_s", ours["seconds"], "s")
    for name, peer in peers.items():
        speed, memory = _ratios(variant, ours, peer)
        figure(f"{key}_speedup_vs_{PEERS[name]}", speed, "x")
        figure(f"{key}_mem_vs_{PEERS[name]}", memory, "x")
    speed, memory = _ratios(variant, peers["polars"], peers["full"])
    figure(f"{key}_polars_speedup_vs_pandas_full", speed, "x")
    figure(f"{key}_polars_mem_vs_pandas_full", memory, "x")


def _verdicts(n: int, variant: str, ours: dict, peers: dict[str, dict]) -> list[str]:
    """Per peer: the ratios, the p99 check and the MISSED goal lines (the goals are against pandas: naming the
    peer); polars' own ratios against the full pandas peer; then the 10 M goal."""
    what = "added memory" if variant == "memory" else "peak RSS"
    lines = []
    for name, peer in peers.items():
        speed, memory = _ratios(variant, ours, peer)
        lines.append(
            f"{'':>10} {variant} vs peer-{name}: ours {speed:.2f}x faster, {what} {memory:.2f}x the peer's; "
            f"p99 per 10 s window max |diff| {_max_diff(ours['p99'], peer['p99']):.3g} ms"
        )
        if name == "polars":  # no goal against polars: how far the strongest peer itself gets against pandas
            speed, memory = _ratios(variant, peer, peers["full"])
            lines.append(
                f"{'':>10} {variant}: polars itself {speed:.2f}x faster than pandas full, {memory:.2f}x its {what}"
            )
            continue
        label = f"vs pandas {name} peer ({variant}, {n:,} records)"
        if speed < GOAL_SPEEDUP:
            lines.append(f"{'':>10} MISSED goal >= {GOAL_SPEEDUP:g}x faster {label}: {speed:.2f}x")
        if memory > GOAL_MEMORY:
            lines.append(f"{'':>10} MISSED goal <= {GOAL_MEMORY:g}x memory {label}: {memory:.2f}x")
    if variant.startswith("disk") and n >= 10_000_000 and ours["seconds"] > GOAL_10M_S:
        lines.append(f"{'':>10} MISSED goal full analysis of 10 M records <= {GOAL_10M_S:g} s: {ours['seconds']:.1f} s")
    return lines


def measure_size(n: int, targets: int, layout: str) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-analysis-"))
    common = ["--sizes", str(n), "--targets", str(targets), "--run-dir", str(root), "--layout", layout]
    try:
        run_child(["--child", "write", *common])
        files = sorted((root / "records").glob("*.csv"))
        size_mb = sum(p.stat().st_size for p in files) / 2**20
        rows = {}
        for mode in MODES:
            if mode == "ours-run":  # a run's compactor works in the runner's process, not in the report's
                compaction = run_child(["--child", "compact", *common])["compact"]
            rows[mode] = run_child(["--child", mode, *common])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for row in rows.values():
        print(f"{n:>10,} {row['mode']:>18} {row['seconds']:>8.2f} {row['import_s']:>8.2f} {n / row['seconds']:>11,.0f} "
              f"{row['peak_rss_mb']:>9,.0f} {row['added_mb']:>9,.0f}")  # fmt: skip
    print(f"{'':>10} (CSV on disk: {size_mb:,.0f} MB in {len(files)} files, layout {layout})")
    compact_s, segments = compaction
    span_s = run_span_s(n, targets)
    core_pct = compact_s / span_s * 100  # of one core, over the run's span
    print(f"{'':>10} (ours-run: the copy a run leaves, {segments} segments, took {compact_s:.1f} s of one thread while "
          f"the run went: {compact_s / n * 1e6:.2f} us a record, {core_pct:.2f}% of one core over the run's "
          f"{span_s:,.0f} s at {n / span_s:g} records/s)")  # fmt: skip
    figure(f"analysis_{n / 1e6:g}m_compaction_us_per_record", compact_s / n * 1e6, "us")
    figure(f"analysis_{n / 1e6:g}m_compaction_core_pct", core_pct, "%")
    for variant, ours, kind, name_part in VARIANTS:
        peers = {name: rows[f"peer-{name}-{kind}"] for name in PEERS}
        print("\n".join(_verdicts(n, variant, rows[ours], peers)))
        _figures(n, variant, name_part, rows[ours], peers)
    _report_figures(n, rows["ours-report"], rows["peer-full-disk"])


def _report_figures(n: int, report: dict, peer: dict) -> None:
    """The full report's time and peak RSS (no peer does its work: the full peer's read and figures beside)."""
    key = f"analysis_{n / 1e6:g}m_report"
    print(f"{'':>10} full report (python -m analysis RUN, from the copy): {report['seconds']:.2f} s + "
          f"{report['import_s']:.2f} s of imports, peak RSS {report['peak_rss_mb']:,.0f} MB (the full peer's "
          f"analysis alone, from CSV: {peer['seconds']:.2f} s, {peer['peak_rss_mb']:,.0f} MB)")  # fmt: skip
    if report["p99"] and _max_diff(report["p99"], peer["p99"]) > 1e-9:
        print(f"{'':>10} full report: its 10 s p99s differ from the peer's")
    figure(f"{key}_s", report["seconds"], "s")
    figure(f"{key}_with_imports_s", report["seconds"] + report["import_s"], "s")
    figure(f"{key}_peak_rss_mb", report["peak_rss_mb"], "MB")
    if n >= 10_000_000 and report["seconds"] > GOAL_10M_S:
        print(f"{'':>10} MISSED goal full report of 10 M records <= {GOAL_10M_S:g} s: {report['seconds']:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1e6", help="record counts, comma-separated (e.g. 1e6,1e7)")
    parser.add_argument("--targets", type=int, default=4)
    parser.add_argument("--layout", choices=LAYOUTS, default="producer",
                        help="row order: producer (each target's rows together, as a run writes them; default) or "
                        "interleaved (targets mixed row by row: our worst case)")  # fmt: skip
    parser.add_argument("--child", choices=(*MODES, "write", "compact"), help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",") if s]
    if args.child == "write":
        write_records(
            synthetic_frame(sizes[0], args.targets, layout=args.layout), args.run_dir / "records", args.layout
        )
        as_run_dir(args.run_dir, sizes[0])
        return
    if args.child == "compact":
        print(json.dumps({"compact": compact_as_a_run(args.run_dir, run_span_s(sizes[0], args.targets))}))
        return
    if args.child:
        child(args.child, sizes[0], args.targets, args.run_dir, args.layout)
        return
    load = os.getloadavg()[0]
    print(f"bench_analysis: python {sys.version.split()[0]}, {os.cpu_count()} cpus (load avg 1m {load:.2f}), "
          f"{args.targets} targets, layout {args.layout}; one subprocess per measurement; "
          "shared machine: figures are noisy")  # fmt: skip
    print(
        f"{'records':>10} {'mode':>18} {'seconds':>8} {'import s':>8} {'records/s':>11} {'peak MB':>9} {'added MB':>9}"
    )
    for n in sizes:
        measure_size(n, args.targets, args.layout)


if __name__ == "__main__":
    main()
