"""What a replay is asked to do: the schedule (fixed for the life of a run, resumes included) and the rest.

`ScheduleSpec` is stored in the run's manifest and re-read by `--resume`, so a resumed run rebuilds
exactly the same schedule (the trace file's sha256 is checked). `build_trace_schedule` turns it into a
`traces.Schedule`. Window times of day ("19:00,23:00") are taken on the trace's first (GMT) day.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from labkit.errors import ConfigError, InputError
from labkit.net import loopback_problem
from traces import CountSeries, OptionNames, Schedule, Timestamps, WindowError, build_schedule, load_trace

DEFAULT_WINDOW = "19:00,23:00"  # FIFA'98 1998-06-30 evening: England v Argentina, peak minute 21:42 GMT
DEFAULT_SPEEDUP = 160.0  # 4 h in 90 s
DEFAULT_PEAK_RPS = 10.0
DEFAULT_PROCESS = "poisson"
DEFAULT_SEED = 1998
DEFAULT_MAX_UPLOADS = 100_000
MAX_UPLOADS_CEILING = 100_000_000  # every upload's key and record are held in memory (as a plan's max_uploads)
CLI_NAMES = OptionNames(speedup="--speedup", scale="--peak-rps/--mean-rps", peak_rps="--peak-rps",
                        mean_rps="--mean-rps", max_count="--max-uploads", window="--window")  # fmt: skip
TARGETS = ("local", "aws")
ENGINES = ("threads", "locust")
_TIME_OF_DAY = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


@dataclass(frozen=True)
class ScheduleSpec:
    """Everything that decides the schedule (and so the object keys) of a run."""

    trace: str  # absolute path
    trace_sha256: str
    window: str = DEFAULT_WINDOW
    speedup: float = DEFAULT_SPEEDUP
    peak_rps: float | None = DEFAULT_PEAK_RPS
    mean_rps: float | None = None
    process: str = DEFAULT_PROCESS
    seed: int | None = DEFAULT_SEED
    max_uploads: int = DEFAULT_MAX_UPLOADS

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> ScheduleSpec:
        names = {f.name for f in dataclasses.fields(cls)}
        missing = {"trace", "trace_sha256"} - set(data)
        if missing:
            raise InputError(f"{where}: the replay schedule lacks {sorted(missing)}; is this a replay run?")
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class ReplayOptions:
    schedule: ScheduleSpec
    target: str = "local"  # local | aws
    bucket: str = ""  # default: the local cloud's input bucket
    results_bucket: str = ""  # default: the local cloud's output bucket; none for --s3-endpoint/aws unless given
    s3_endpoint: str = ""  # an S3 API already running (instead of starting the local cloud)
    images: str = ""  # folder of JPEG/PNG files; default generated images
    image_count: int = 8
    model: str = ""  # local cloud model override
    workers: int | None = None  # default: sized to the peak rate
    max_attempts: int = 5
    result_timeout_s: float = 120.0
    report_logs: tuple[str, ...] = ()
    runs_root: Path = Path("runs")
    resume: Path | None = None
    yes: bool = False
    write_report: bool = True
    start_at_unix_s: float | None = None  # an experiment's common clock: the schedule's first instant
    records_prefix: str = ""  # an experiment's workload: records/<prefix>replay.csv, <prefix>s3-results.csv
    engine: str = "threads"  # threads (boto3, this process) | locust (Locust users: replay.locustengine)
    processes: int = 1  # the Locust engine's processes on this machine (a master and N workers when > 1)
    remote_workers: int = 0  # the Locust engine's workers on other machines (the master waits for them)
    master_bind_host: str = ""  # where the Locust master listens (default 127.0.0.1; remote workers need another)

    def __post_init__(self) -> None:
        check_s3_endpoint(self.s3_endpoint, self.yes)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON for the manifest; `FIXED_ON_RESUME` of it is what `--resume` re-reads."""
        out = dataclasses.asdict(self)
        out["runs_root"] = str(self.runs_root)
        out["resume"] = str(self.resume) if self.resume else None
        out["report_logs"] = list(self.report_logs)
        return out


def check_s3_endpoint(endpoint: str, yes: bool) -> None:
    """Refuse uploads to an --s3-endpoint off this machine (by the addresses its host resolves to) without --yes."""
    if not endpoint or yes:
        return
    try:
        parts = urlsplit(endpoint)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--s3-endpoint {endpoint!r} is not an http:// or https:// URL with a host")
    problem = loopback_problem(parts.hostname)
    if problem:
        raise ConfigError(f"--s3-endpoint {endpoint} is not on this machine ({problem}); uploads there may cost "
                          "money and trigger someone else's functions: add --yes to confirm")  # fmt: skip


# what a resume takes from the manifest (the schedule, and what and where is uploaded: keys depend on them)
FIXED_ON_RESUME = ("schedule", "target", "bucket", "results_bucket", "images", "image_count")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(f"{path}: cannot read trace file ({exc.strerror})") from None
    return digest.hexdigest()


def _first_day(trace: CountSeries | Timestamps) -> datetime:
    first_s = float(trace.start_unix_s[0]) if isinstance(trace, CountSeries) else float(trace.times_s[0])
    moment = datetime.fromtimestamp(first_s, UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _bound(text: str, day: datetime) -> str:
    match = _TIME_OF_DAY.match(text.strip())
    if not match:
        return text.strip()
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    if hours > 24 or minutes > 59 or seconds > 59:
        raise ConfigError(f"--window: {text!r} is not a time of day (HH:MM, up to 24:00)")
    return (day + timedelta(hours=hours, minutes=minutes, seconds=seconds)).isoformat()


def parse_window(window: str, trace: CountSeries | Timestamps) -> tuple[str | None, str | None]:
    """'all' -> whole trace; 'START,END' with times of day (on the trace's first day) or ISO date/times."""
    if window.strip().lower() == "all":
        return None, None
    parts = window.split(",")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise ConfigError(
            f"--window: expected START,END (e.g. 19:00,23:00 or 1998-06-30T19:00,...) or 'all', got {window!r}"
        )
    if not len(trace):
        raise InputError(f"{trace.source}: the trace holds no data")
    day = _first_day(trace)
    return _bound(parts[0], day), _bound(parts[1], day)


def build_trace_schedule(spec: ScheduleSpec) -> Schedule:
    """Load the trace (checking it is the file the spec was made from) and build its schedule."""
    path = Path(spec.trace)
    if not path.is_file():
        raise InputError(f"{path}: no such trace file")
    actual = file_sha256(path)
    if actual != spec.trace_sha256:
        raise InputError(f"{path}: the trace changed since the run started (sha256 {actual[:12]}..., "
                         f"expected {spec.trace_sha256[:12]}...); restore it to resume")  # fmt: skip
    if not 1 <= spec.max_uploads <= MAX_UPLOADS_CEILING:
        raise ConfigError(f"--max-uploads {spec.max_uploads}: give 1 to {MAX_UPLOADS_CEILING:,} (every upload's "
                          "key and record are held in memory)")  # fmt: skip
    trace = load_trace(path)
    start, end = parse_window(spec.window, trace)
    try:
        schedule = build_schedule(trace, start=start, end=end, speedup=spec.speedup, peak_rps=spec.peak_rps,
                                  mean_rps=spec.mean_rps, process=spec.process, seed=spec.seed,
                                  max_count=spec.max_uploads, names=CLI_NAMES)  # fmt: skip
    except WindowError as exc:
        if start is None and end is None:
            raise
        raise ConfigError(f"--window {spec.window}: {exc}; give a window inside the trace, or --window all") from None
    if not len(schedule):
        rate = "--mean-rps" if spec.mean_rps is not None else "--peak-rps"
        raise ConfigError(f"the schedule of {path.name} in window {spec.window} holds no uploads; widen the "
                          f"window or raise {rate}")  # fmt: skip
    return schedule
