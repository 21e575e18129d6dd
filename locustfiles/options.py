"""The locustfile's own options (`--lab-*`, shown in the web UI where useful) and the plan they describe.

Defaults come from config/load.yaml. `plan_from_options` turns Locust's parsed options into a typed
`LabPlan`; `check_plan` applies the safety rules (rate cap, duration cap, consent for remote hosts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.errors import ConfigError
from locustfiles.safety import check_duration, check_host, check_rate
from locustfiles.settings import TRACE_PROCESSES, LoadSettings
from locustfiles.shapes import SHAPE_NAMES, AnyShape, ShapeSpec, build_shape


@dataclass(frozen=True)
class LabPlan:
    spec: ShapeSpec
    target: str
    scenario: str
    predict_path: str
    images: str
    max_inflight: int  # over all processes
    max_lag_s: float
    max_rate_rps: float
    max_duration_s: float
    network_timeout_s: float
    yes_remote: bool
    start_offset_s: float = 0.0  # a plan's workload: seconds after the plan's common start

    def per_process_cap(self, process_count: int) -> int:
        return max(1, math.ceil(self.max_inflight / max(1, process_count)))


def add_lab_arguments(parser: Any, s: LoadSettings) -> None:
    """Register the --lab-* options on Locust's parser (floats stay floats: the web UI keeps the type)."""
    g = parser  # (an argument group would not take include_in_web_ui)
    g.add_argument("--lab-shape", choices=SHAPE_NAMES, default=s.shape, help="rate shape")
    g.add_argument("--lab-rate-rps", type=float, default=float(s.rate_rps), help="constant rate, or peak, req/s")
    g.add_argument("--lab-duration-s", type=float, default=float(s.duration_s), help="schedule length, s")
    g.add_argument("--lab-step-count", type=int, default=s.step_count, help="steps: number of plateaus")
    g.add_argument("--lab-base-rps", default="", help="spike: base rate (default: a tenth of the peak)")
    g.add_argument("--lab-spike-at-s", default="", help="spike: start of the burst (default: half-way)")
    g.add_argument("--lab-spike-s", default="", help="spike: length of the burst (default: a tenth)")
    g.add_argument("--lab-trace", default=str(s.resolved_trace_path()), help="trace: trace file")
    g.add_argument("--lab-trace-start", default=s.trace_start, help="trace: window start (ISO, GMT)")
    g.add_argument("--lab-trace-end", default=s.trace_end, help="trace: window end (ISO, GMT)")
    g.add_argument("--lab-trace-process", choices=TRACE_PROCESSES, default=s.trace_process, help="trace arrivals")
    g.add_argument("--lab-seed", type=int, default=s.seed, help="seed of random arrivals (same in every process)")
    g.add_argument("--lab-max-inflight", type=int, default=s.max_inflight, help="cap on requests in flight")
    g.add_argument("--lab-max-lag-s", type=float, default=float(s.max_lag_s),
                   help="a send blocked longer than this past its intended time is recorded 'dropped'")  # fmt: skip
    g.add_argument("--lab-max-rate-rps", type=float, default=float(s.max_rate_rps), help="safety cap on the peak")
    g.add_argument("--lab-max-duration-s", type=float, default=float(s.max_duration_s), help="safety cap")
    g.add_argument("--lab-yes-remote", action="store_true", default=False, help="allow a non-loopback host")
    g.add_argument("--lab-target", default="local-faas",
                   help="local-faas / local-server: the local cloud; other names (lambda, ec2): the Host")  # fmt: skip
    g.add_argument("--lab-scenario", default="load", help="scenario name recorded in each record")
    g.add_argument("--lab-predict-path", default="/predict", help="path of the predict endpoint")
    g.add_argument("--lab-images", default=s.images, help="folder of JPEG/PNG files (default: generated)")
    hidden = {"include_in_web_ui": False}
    g.add_argument("--lab-run-dir", default="", help="run dir to write records into (default: a new one)", **hidden)
    g.add_argument("--lab-runs-root", default=s.runs_dir, help="where new run dirs are made", **hidden)
    g.add_argument("--lab-network-timeout-s", type=float, default=float(s.network_timeout_s),
                   help="request timeout, s", **hidden)  # fmt: skip
    g.add_argument("--lab-local-cloud", action="store_true", default=False,
                   help="start the local cloud at init when no --host is given", **hidden)  # fmt: skip
    g.add_argument("--lab-model", default="", help="local cloud model (default: config/localcloud.yaml)", **hidden)
    g.add_argument("--lab-plan", default="", help="plan.json of a run: the workload's plan (wins over --lab-*)",
                   **hidden)  # fmt: skip
    g.add_argument("--lab-workload", default="", help="with --lab-plan: the http workload to run", **hidden)
    g.add_argument("--lab-tag", default="", help="with --lab-plan: the records' scenario (a sweep's sub-run)",
                   **hidden)  # fmt: skip
    g.add_argument("--lab-sync-dir", default="", help="a run's start-sync folder (labkit.startsync)", **hidden)
    g.add_argument("--lab-start-unix-s", type=float, default=0.0,
                   help="common schedule start (unix s) shared with the plan's other workloads", **hidden)  # fmt: skip


def _optional_float(text: Any, name: str) -> float | None:
    if text in ("", None):
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ConfigError(f"--{name}: expected a number, got {text!r}") from None


def plan_from_workload(plan_json: str, workload_name: str, tag: str = "") -> LabPlan:
    """The LabPlan of one http workload of a run's plan.json (how the experiment runner and
    `python -m locustfiles` hand a plan to Locust: the file, not flags)."""
    from experiments.plan import HttpWorkload, record_target
    from experiments.planfile import read_plan_json

    plan = read_plan_json(Path(plan_json))
    try:
        workload = plan.workload(workload_name)
    except KeyError:
        raise ConfigError(f"{plan_json}: no workload named {workload_name!r}") from None
    if not isinstance(workload, HttpWorkload):
        raise ConfigError(f"{plan_json}: workload {workload_name!r} is {workload.kind}, not http")
    spec = workload.shape_spec()
    return LabPlan(spec=spec, target=record_target(plan, workload), scenario=tag or workload.name,
                   predict_path=workload.predict_path, images=workload.images, max_inflight=workload.max_inflight,
                   max_lag_s=workload.max_lag_s, max_rate_rps=plan.safety.max_rate_rps,
                   max_duration_s=plan.safety.max_duration_s, network_timeout_s=workload.network_timeout_s,
                   yes_remote=plan.safety.allow_remote, start_offset_s=workload.start_s)  # fmt: skip


def plan_from_options(opts: Any) -> LabPlan:
    """The plan Locust's parsed options describe (ConfigError naming the option when one is bad)."""
    if getattr(opts, "lab_plan", ""):
        return plan_from_workload(opts.lab_plan, opts.lab_workload, getattr(opts, "lab_tag", ""))
    spec = ShapeSpec(
        name=opts.lab_shape,
        rate_rps=float(opts.lab_rate_rps),
        duration_s=float(opts.lab_duration_s),
        step_count=int(opts.lab_step_count),
        base_rps=_optional_float(opts.lab_base_rps, "lab-base-rps"),
        spike_at_s=_optional_float(opts.lab_spike_at_s, "lab-spike-at-s"),
        spike_s=_optional_float(opts.lab_spike_s, "lab-spike-s"),
        trace_path=opts.lab_trace,
        trace_start=opts.lab_trace_start,
        trace_end=opts.lab_trace_end,
        trace_process=opts.lab_trace_process,
        seed=int(opts.lab_seed),
    )
    if int(opts.lab_max_inflight) < 1:
        raise ConfigError(f"--lab-max-inflight: must be >= 1, got {opts.lab_max_inflight}")
    if float(opts.lab_max_lag_s) < 0:
        raise ConfigError(f"--lab-max-lag-s: must be >= 0, got {opts.lab_max_lag_s}")
    return LabPlan(spec=spec, target=opts.lab_target, scenario=opts.lab_scenario,
                   predict_path=opts.lab_predict_path, images=opts.lab_images,
                   max_inflight=int(opts.lab_max_inflight), max_lag_s=float(opts.lab_max_lag_s),
                   max_rate_rps=float(opts.lab_max_rate_rps), max_duration_s=float(opts.lab_max_duration_s),
                   network_timeout_s=float(opts.lab_network_timeout_s),
                   yes_remote=bool(opts.lab_yes_remote))  # fmt: skip


def check_plan(plan: LabPlan, url: str) -> AnyShape:
    """Build the plan's shape and apply the safety rules; the shape on success, ConfigError otherwise."""
    shape = build_shape(plan.spec)
    check_rate(shape.peak_rps, plan.max_rate_rps)
    check_duration(shape.duration_s, plan.max_duration_s)
    if not url:
        raise ConfigError("no host to send to: give --host (or a URL in the web UI's Host field)")
    check_host(url, plan.yes_remote)
    return shape
