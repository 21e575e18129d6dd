"""The one typed plan model: what an experiment asks for, validated once, written to `runs/<id>/plan.json`.

Every producer builds a `Plan` (experiments/*.yaml through `load_plan`, `python -m locustfiles`, the
`locust` web UI, `python -m replay`); Locust processes and the analysis read it back from plan.json
(`read_plan_json`), never from re-encoded flags. A plan holds:
- `workloads`: http (open-model Locust shape against the function front, the server or a URL),
  s3-replay (a trace replayed as S3 uploads), burst (N simultaneous invokes, repeated) and cold-probe
  (invokes spaced so that each one meets no warm environment); each with its own `start_s` offset, all
  running at the same time;
- `sweep`: one sub-run per value of a function parameter (memory_mb, concurrency_limit, model, ...);
- `cloud`: the local cloud's settings for the plan (model, keep-alive, server workers, function settings);
- `safety`: the rate, duration and process caps and the consent to send off this machine, enforced as
  validators, so a bad plan fails before anything starts.
Units are in the field names; every default is here and only here.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from labkit.config import MODEL_NAMES, MODEL_SOURCES, REPO_ROOT

SHAPE_KINDS = ("ramp", "constant", "steps", "spike", "trace")
FUNCTION_TARGET = "function"  # the function front (API Gateway on AWS, the local platform's front locally)
SERVER_TARGET = "server"  # the EC2-like server (gunicorn locally)
SWEEP_PARAMETERS = ("memory_mb", "concurrency_limit", "timeout_s", "model", "model_source", "runtime", "s3_trigger")
RUNTIMES = ("onnxruntime", "opencv", "openvino")
PLAN_TARGETS = ("local", "aws")
DEFAULT_MAX_PROCESSES = max(2, 2 * (os.cpu_count() or 1))


class Strict(BaseModel):
    """Base of every plan model: unknown keys are errors, values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class TraceSource(Strict):
    path: str = "traces/fifa98.csv"
    start: str = ""  # window start, ISO date/time (GMT) or HH:MM on the trace's first day; "" = its start
    end: str = ""
    process: Literal["uniform", "poisson"] = "uniform"
    seed: int = 1998

    def resolved_path(self) -> Path:
        path = Path(self.path)
        return path if path.is_absolute() else REPO_ROOT / path


class Shape(Strict):
    """An open-model rate shape: requests per second over time (not a user count)."""

    kind: Literal["ramp", "constant", "steps", "spike", "trace"] = "ramp"
    peak_rps: float = Field(100.0, gt=0, le=1e6)  # constant: the rate; ramp/steps/spike/trace: the peak
    duration_s: float = Field(60.0, gt=0, le=30 * 86400)
    step_count: int = Field(5, ge=1, le=1000)  # steps
    base_rps: float | None = Field(None, ge=0)  # spike: default a tenth of the peak
    spike_at_s: float | None = Field(None, ge=0)  # spike: default half-way
    spike_s: float | None = Field(None, gt=0)  # spike: default a tenth of the duration
    trace: TraceSource = Field(default_factory=TraceSource)  # trace: compressed into duration_s

    def expected_requests(self) -> float:
        """The area under the rate (requests the schedule holds), without building it."""
        if self.kind == "constant":
            return self.peak_rps * self.duration_s
        if self.kind == "ramp":
            return self.peak_rps / 2 * self.duration_s
        return self.peak_rps * self.duration_s  # an upper bound for steps, spike, trace


class HttpWorkload(Strict):
    """Open-model Locust load against the function front, the server, or any URL."""

    kind: Literal["http"] = "http"
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    target: str = FUNCTION_TARGET  # function | server | http(s)://URL
    start_s: float = Field(0.0, ge=0)
    shape: Shape = Field(default_factory=Shape)
    predict_path: str = Field("/predict", pattern=r"^/")
    images: str = ""  # folder of JPEG/PNG payloads; "" = generated images
    max_inflight: int = Field(200, ge=1, le=100_000)  # over all processes
    max_lag_s: float = Field(1.0, ge=0)  # a send that cannot start this late is recorded "dropped"
    processes: int = Field(1, ge=1)  # Locust processes on this machine (master + workers when > 1)
    network_timeout_s: float = Field(60.0, gt=0, le=3600)

    def end_s(self) -> float:
        return self.start_s + self.shape.duration_s

    def shape_spec(self) -> Any:
        """The locustfiles.shapes.ShapeSpec of this workload's shape (the one place the two meet)."""
        from locustfiles.shapes import ShapeSpec

        shape, trace = self.shape, self.shape.trace
        return ShapeSpec(name=shape.kind, rate_rps=shape.peak_rps, duration_s=shape.duration_s,
                         step_count=shape.step_count, base_rps=shape.base_rps, spike_at_s=shape.spike_at_s,
                         spike_s=shape.spike_s, trace_path=str(trace.resolved_path()), trace_start=trace.start,
                         trace_end=trace.end, trace_process=trace.process, seed=trace.seed)  # fmt: skip


class S3ReplayWorkload(Strict):
    """A trace replayed as S3 uploads, open loop, each joined with the function's result."""

    kind: Literal["s3-replay"] = "s3-replay"
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    start_s: float = Field(0.0, ge=0)
    trace: str = "traces/fifa98.csv"
    window: str = "19:00,23:00"  # START,END times of day on the trace's first day, ISO, or 'all'
    speedup: float = Field(160.0, gt=0, le=1e7)  # time compression
    peak_rps: float | None = Field(10.0, gt=0, le=1e6)  # busiest bin's upload rate
    mean_rps: float | None = Field(None, gt=0, le=1e6)  # or: the mean upload rate
    process: Literal["uniform", "poisson", "exact"] = "poisson"
    seed: int | None = 1998  # None: a fresh random seed (recorded in the run's schedule)
    max_uploads: int = Field(100_000, ge=1, le=100_000_000)
    image_count: int = Field(8, ge=1, le=10_000)
    images: str = ""
    max_attempts: int = Field(5, ge=1, le=100)
    result_timeout_s: float = Field(120.0, ge=0, le=3600)
    window_duration_s: float | None = Field(None, gt=0)  # filled in by `resolve_windows` (trace window / speedup)

    def resolved_trace(self) -> Path:
        path = Path(self.trace)
        return path if path.is_absolute() else REPO_ROOT / path

    def schedule_spec(self) -> Any:
        """The replay.options.ScheduleSpec of this workload (the one place the two meet; reads the trace's sha256)."""
        from replay.options import ScheduleSpec, file_sha256

        trace = self.resolved_trace()
        return ScheduleSpec(trace=str(trace), trace_sha256=file_sha256(trace), window=self.window,
                            speedup=self.speedup, peak_rps=self.peak_rps, mean_rps=self.mean_rps,
                            process=self.process, seed=self.seed, max_uploads=self.max_uploads)  # fmt: skip

    def schedule(self) -> Any:
        """The replay's traces.Schedule (built from the trace file)."""
        from replay.options import build_trace_schedule

        return build_trace_schedule(self.schedule_spec())

    def end_s(self) -> float:
        return self.start_s + (self.window_duration_s or 0.0)


class BurstWorkload(Strict):
    """`size` simultaneous direct invokes of a function, `repeats` times, `interval_s` apart."""

    kind: Literal["burst"] = "burst"
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    function: str = "inference-api"
    start_s: float = Field(0.0, ge=0)
    size: int = Field(10, ge=1, le=1000)
    repeats: int = Field(1, ge=1, le=1000)
    interval_s: float = Field(10.0, ge=0)
    cold: bool = True  # force new environments before each burst (a configuration change)
    timeout_s: float = Field(120.0, gt=0)

    def end_s(self) -> float:
        return self.start_s + self.repeats * self.interval_s


class ColdProbeWorkload(Strict):
    """One invoke every `interval_s`, each after the environment is known to be gone."""

    kind: Literal["cold-probe"] = "cold-probe"
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    function: str = "inference-api"
    start_s: float = Field(0.0, ge=0)
    count: int = Field(5, ge=1, le=10_000)
    interval_s: float = Field(10.0, gt=0)
    force: Literal["config-change", "keepalive-expiry"] = "config-change"
    warm_after: int = Field(1, ge=0, le=100)  # warm invokes right after each cold one (the penalty's baseline)
    timeout_s: float = Field(120.0, gt=0)

    def end_s(self) -> float:
        return self.start_s + self.count * self.interval_s


Workload = Annotated[HttpWorkload | S3ReplayWorkload | BurstWorkload | ColdProbeWorkload, Field(discriminator="kind")]


class FunctionSettings(Strict):
    memory_mb: int | None = Field(None, ge=128, le=10240)
    concurrency_limit: int | None = Field(None, ge=0, le=10_000)
    timeout_s: float | None = Field(None, gt=0, le=900)
    keepalive_s: float | None = Field(None, gt=0)
    cpu_quota: bool | None = None  # local cloud: hold a memory size below 1,769 MB to its CPU share (faas.cpushare)


class CloudSettings(Strict):
    """The local cloud for the whole plan (ignored with --target aws, where the deployed stack is used)."""

    model: str = ""  # built-in model name; "" = config/localcloud.yaml
    model_source: Literal["", "builtin", "path", "s3", "dir"] = ""
    model_path: str = ""
    runtime: Literal["", "onnxruntime", "opencv", "openvino"] = ""  # "" = config/localcloud.yaml
    keepalive_s: float | None = Field(None, gt=0)
    server_workers: int | None = Field(None, ge=1, le=64)
    functions: dict[str, FunctionSettings] = Field(default_factory=dict)
    # the function uploads to the input bucket drive (e.g. inference-s3-forward); "" = config/localcloud.yaml's
    s3_trigger: str = Field("", pattern=r"^$|^[A-Za-z0-9_-]{1,64}$")

    @model_validator(mode="after")
    def _known_model(self) -> CloudSettings:
        if self.model and (self.model_source in ("", "builtin")) and self.model not in MODEL_NAMES:
            raise ValueError(f"model {self.model!r} is not one of {', '.join(MODEL_NAMES)}")
        return self


class Sweep(Strict):
    """One sub-run per value; every workload runs in each sub-run, one after the other."""

    parameter: Literal["memory_mb", "concurrency_limit", "timeout_s", "model", "model_source", "runtime", "s3_trigger"]
    values: list[int | float | str] = Field(min_length=1, max_length=100)
    functions: list[str] = Field(default_factory=lambda: ["inference-api"])  # memory/concurrency/timeout

    @model_validator(mode="after")
    def _typed_values(self) -> Sweep:
        numeric = self.parameter in ("memory_mb", "concurrency_limit", "timeout_s")
        for value in self.values:
            if numeric and isinstance(value, str | bool):
                raise ValueError(f"{self.parameter} values must be numbers, got {value!r}")
            if self.parameter == "memory_mb" and not 128 <= float(value) <= 10240:
                raise ValueError(f"memory_mb values must be within 128..10240, got {value!r}")
            if self.parameter == "model" and value not in MODEL_NAMES:
                raise ValueError(f"model values must be among {', '.join(MODEL_NAMES)}, got {value!r}")
            if self.parameter == "runtime" and value not in RUNTIMES:
                raise ValueError(f"runtime values must be among {', '.join(RUNTIMES)}, got {value!r}")
            if self.parameter == "s3_trigger" and not (isinstance(value, str) and value):
                raise ValueError(f"s3_trigger values must be function names, got {value!r}")
            if self.parameter == "model_source" and value not in MODEL_SOURCES:
                raise ValueError(f"model_source values must be among {', '.join(MODEL_SOURCES)}, got {value!r}")
        return self


HERE_KINDS = ("warm_p50_by_memory", "cheapest_by_memory", "cold_vs_warm", "function_vs_server", "cold_by_workload",
              "cold_by_burst_size", "rank_by_p50", "break_even", "response_vs_execution",
              "cost_per_million")  # fmt: skip


class PublishedClaim(Strict):
    """A published study's claim and which figure of this run stands beside it in the report (analysis.published)."""

    claim: str = Field(min_length=1)
    here: Literal[HERE_KINDS]  # type: ignore[valid-type]
    labels: dict[str, str] = Field(default_factory=dict)  # record scenario -> the study's name (rank_by_p50)
    instance_type: str = ""  # break_even: the instance priced against (pricing.yaml; default its first)


class Safety(Strict):
    max_rate_rps: float = Field(1000.0, gt=0)  # per workload: its peak
    max_duration_s: float = Field(3600.0, gt=0)  # the whole plan, sweeps included
    max_processes: int = Field(DEFAULT_MAX_PROCESSES, ge=1, le=256)  # Locust processes over all workloads
    allow_remote: bool = False  # send to hosts that are not this machine (--yes / --yes-remote)


class Plan(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    description: str = ""
    target: Literal["local", "aws"] = "local"
    cloud: CloudSettings = Field(default_factory=CloudSettings)
    workloads: list[Workload] = Field(min_length=1, max_length=32)
    sweep: Sweep | list[Sweep] | None = None  # several: one sub-run per combination of their values
    safety: Safety = Field(default_factory=Safety)
    quick: bool = False  # compressed by --quick
    published: list[str | PublishedClaim] = Field(default_factory=list)  # a published study's claims

    @model_validator(mode="after")
    def _check(self) -> Plan:
        names = [w.name for w in self.workloads]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"workload names must be unique; repeated: {', '.join(duplicates)}")
        parameters = [s.parameter for s in self.sweeps()]
        if len(set(parameters)) != len(parameters):
            raise ValueError(f"sweep parameters must differ; got {', '.join(parameters)}")
        if self.sub_run_count() > 200:
            raise ValueError(f"the sweeps make {self.sub_run_count()} sub-runs; at most 200")
        _check_safety(self)
        return self

    def workload(self, name: str) -> Workload:
        for workload in self.workloads:
            if workload.name == name:
                return workload
        raise KeyError(name)

    def http_workloads(self) -> list[HttpWorkload]:
        return [w for w in self.workloads if isinstance(w, HttpWorkload)]

    def span_s(self) -> float:
        """Seconds of traffic in one sub-run: the latest workload end."""
        return max(w.end_s() for w in self.workloads)

    def sweeps(self) -> list[Sweep]:
        if self.sweep is None:
            return []
        return self.sweep if isinstance(self.sweep, list) else [self.sweep]

    def sub_run_count(self) -> int:
        return math.prod(len(s.values) for s in self.sweeps())


def _check_safety(plan: Plan) -> None:
    safety = plan.safety
    for w in plan.workloads:
        if isinstance(w, HttpWorkload):
            if w.shape.peak_rps > safety.max_rate_rps:
                raise ValueError(
                    f"workload {w.name!r} peaks at {w.shape.peak_rps:g} req/s, above safety.max_rate_rps "
                    f"{safety.max_rate_rps:g}; raise it in the plan (or --max-rate-rps) if you mean it"
                )
            if w.shape.expected_requests() > 50_000_000:
                raise ValueError(f"workload {w.name!r} would send ~{w.shape.expected_requests():.3g} requests; "
                                 "the limit is 50,000,000 per workload")  # fmt: skip
            if not (w.target in (FUNCTION_TARGET, SERVER_TARGET) or w.target.startswith(("http://", "https://"))):
                raise ValueError(f"workload {w.name!r}: target {w.target!r} is not function, server or an "
                                 "http(s):// URL")  # fmt: skip
        if isinstance(w, S3ReplayWorkload) and (w.peak_rps is None) == (w.mean_rps is None):
            raise ValueError(f"workload {w.name!r}: give exactly one of peak_rps and mean_rps")
    processes = sum(w.processes for w in plan.http_workloads())
    if processes > safety.max_processes:
        raise ValueError(f"the plan's http workloads ask for {processes} Locust processes, above safety."
                         f"max_processes {safety.max_processes} (a multiple of this machine's {os.cpu_count()} "
                         "cores); raise it in the plan (or --max-processes) if you mean it")  # fmt: skip
    longest = max((w.end_s() for w in plan.workloads), default=0.0) * plan.sub_run_count()
    if math.isfinite(longest) and longest > safety.max_duration_s:
        raise ValueError(f"the plan lasts {longest:g} s of traffic, above safety.max_duration_s "
                         f"{safety.max_duration_s:g}; raise it in the plan (or --max-duration-s) if you "
                         "mean it")  # fmt: skip


def record_target(plan: Plan, workload: HttpWorkload) -> str:
    """The `target` recorded for an http workload: local-faas / local-server, lambda / ec2, or url."""
    if workload.target == FUNCTION_TARGET:
        return "local-faas" if plan.target == "local" else "lambda"
    if workload.target == SERVER_TARGET:
        return "local-server" if plan.target == "local" else "ec2"
    return "url"


def plan_json_schema() -> dict[str, Any]:
    return Plan.model_json_schema()
