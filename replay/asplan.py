"""A replay as the one typed plan every run holds (experiments.plan): one s3-replay workload, in plan.json."""

from __future__ import annotations

from pathlib import Path

from experiments.plan import Plan
from experiments.planfile import parse_plan
from replay.options import ReplayOptions


def replay_plan(options: ReplayOptions, name: str, duration_s: float) -> Plan:
    """ConfigError naming the option's key when a value is outside what a plan allows."""
    s = options.schedule
    workload = {
        "kind": "s3-replay", "name": "replay", "trace": str(Path(s.trace)), "window": s.window, "speedup": s.speedup,
        "peak_rps": s.peak_rps, "mean_rps": s.mean_rps, "process": s.process, "seed": s.seed,
        "max_uploads": s.max_uploads, "image_count": options.image_count, "images": options.images,
        "max_attempts": options.max_attempts, "result_timeout_s": options.result_timeout_s,
        "window_duration_s": duration_s,
    }  # fmt: skip
    data = {"name": name[:63], "description": "python -m replay", "workloads": [workload],
            "target": "aws" if options.target == "aws" else "local",
            "safety": {"max_duration_s": max(3600.0, duration_s)}}  # fmt: skip
    return parse_plan(data, "python -m replay options")
