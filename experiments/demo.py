"""`python -m experiments.demo` (`make demo`): the plan experiments/demo.yaml, run by experiments.runner.run_plan.

The local cloud starts on 127.0.0.1 (S3 with upload trigger, function platform, gunicorn server) inside one
run; the same open-model constant-rate Locust load runs against the function platform (API-Gateway-like
front) and the server AT THE SAME TIME, with a short FIFA'98 replay as S3 uploads alongside (each upload
triggers the S3 function; every upload is joined with its result object). Everything goes to
runs/<run-id>/ (plan.json, records, manifest) and the report (report.md, report.html, summary.json) is
written there; a short summary is printed (per workload: requests, ok, p50/p99, SLA verdict).

The options change the plan (the plan file's values are the defaults): --rate-rps / --duration-s for both
http workloads (the replay is compressed into the same duration), --uploads about N uploads (0: no replay),
--targets which http workloads run, --model / --keepalive-s the local cloud. Same as
`python -m experiments run demo` with those changes; exit codes as there (0 complete, 4 a workload did not
match its schedule, 130 interrupted).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.plan import HttpWorkload, Plan, record_target
from experiments.planfile import EXPERIMENTS_DIR, load_plan, parse_plan, resolve_windows
from labkit.config import LabConfig, load_config
from labkit.errors import ConfigError, exit_code_of
from labkit.runctx import RunContext

DEMO_PLAN = EXPERIMENTS_DIR / "demo.yaml"
LOCAL_TARGETS = ("local-faas", "local-server")


@dataclass(frozen=True)
class DemoOptions:
    rate_rps: float | None = None  # None: the plan's (4 req/s)
    duration_s: float | None = None  # None: the plan's (20 s)
    uploads: int | None = None  # about this many S3 uploads; 0: no replay; None: the plan's
    model: str = ""  # "" : the plan's (config/localcloud.yaml's)
    keepalive_s: float | None = None
    runs_root: Path = Path("runs")
    targets: tuple[str, ...] = LOCAL_TARGETS


def say(message: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _http(w: dict[str, Any], options: DemoOptions) -> dict[str, Any]:
    shape = {**w["shape"]}
    if options.rate_rps is not None:
        shape["peak_rps"] = options.rate_rps
    if options.duration_s is not None:
        shape["duration_s"] = options.duration_s
    return {**w, "shape": shape}


def _replay(w: dict[str, Any], options: DemoOptions) -> dict[str, Any]:
    """The replay compressed into --duration-s, scaled to about --uploads uploads."""
    window_s = float(w["window_duration_s"] or 0.0)
    duration_s = options.duration_s or window_s
    out = {**w}
    if options.duration_s is not None and window_s > 0:
        out.update(speedup=w["speedup"] * window_s / options.duration_s, window_duration_s=None)
    if options.uploads:
        out.update(peak_rps=None, mean_rps=options.uploads / duration_s, window_duration_s=None)
    return out


def demo_plan(options: DemoOptions, path: Path = DEMO_PLAN) -> Plan:
    """experiments/demo.yaml with the options applied (ConfigError naming a bad one)."""
    unknown = [t for t in options.targets if t not in LOCAL_TARGETS]
    if unknown:
        raise ConfigError(f"--targets: {unknown} are not local targets; expected some of {', '.join(LOCAL_TARGETS)}")
    plan = load_plan(path)
    workloads = []
    for w in plan.workloads:
        if isinstance(w, HttpWorkload) and record_target(plan, w) in options.targets:
            workloads.append(_http(w.model_dump(mode="json"), options))
        elif w.kind == "s3-replay" and options.uploads != 0:
            workloads.append(_replay(w.model_dump(mode="json"), options))
        elif w.kind not in ("http", "s3-replay"):
            workloads.append(w.model_dump(mode="json"))
    cloud = plan.cloud.model_dump(mode="json")
    cloud.update({k: v for k, v in (("model", options.model), ("keepalive_s", options.keepalive_s)) if v})
    data = {**plan.model_dump(mode="json"), "workloads": workloads, "cloud": cloud}
    return resolve_windows(parse_plan(data, f"{path} (with the demo's options)"), str(path))


def run_demo(config: LabConfig, options: DemoOptions) -> RunContext:
    """The demo plan run to its end; the closed run context (status set)."""
    from experiments.runner import run_plan

    return run_plan(demo_plan(options), config, options.runs_root, say)


def summary_lines(summary_json: Path) -> list[str]:
    """One line per group of the written summary: requests, ok, p50/p99 and the SLA verdict."""
    lines = []
    for g in json.loads(summary_json.read_text(encoding="utf-8")).get("groups", []):
        lat = g.get("latency_ms") or {}
        verdict = (g.get("sla") or {}).get("verdict", "no SLA")
        lines.append(f"{g['scenario']} -> {g['target']} {g['operation']}: {g['count']} requests, {g['ok']} ok, "
                     f"p50 {lat.get('p50') or float('nan'):.0f} ms, p99 {lat.get('p99') or float('nan'):.0f} ms, "
                     f"SLA {verdict}")  # fmt: skip
    return lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m experiments.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--rate-rps", type=float, default=None, help="constant request rate per target (plan: 4)")
    parser.add_argument("--duration-s", type=float, default=None, help="seconds of traffic (plan: 20)")
    parser.add_argument("--uploads", type=int, default=None, help="about this many S3 uploads (0: no replay)")
    parser.add_argument("--model", default="", help="built-in model (default: config/localcloud.yaml)")
    parser.add_argument("--keepalive-s", type=float, default=None, help="idle environment expiry (plan: 60)")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="where run dirs are made")
    parser.add_argument("--targets", default=",".join(LOCAL_TARGETS), help="comma-separated: local-faas,local-server")
    return parser


def main(argv: list[str] | None = None) -> int:
    from analysis.report import write_report
    from experiments.runner import ensure_complete

    args = _parser().parse_args(argv)
    options = DemoOptions(rate_rps=args.rate_rps, duration_s=args.duration_s, uploads=args.uploads,
                          model=args.model, keepalive_s=args.keepalive_s, runs_root=args.runs,
                          targets=tuple(t for t in args.targets.split(",") if t))  # fmt: skip

    def body() -> int:
        ctx = run_demo(load_config(), options)
        files = write_report(ctx.run.path)
        for line in summary_lines(files.summary_json):
            say(line)
        say(f"run {ctx.status}; report: {files.markdown} (also report.html, summary.json there)")
        ensure_complete(ctx)
        return 0

    return exit_code_of(body)


if __name__ == "__main__":
    sys.exit(main())
