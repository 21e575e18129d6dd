"""The Locust engine of the replay (`--engine locust`): the uploads sent by Locust users, on as many processes (and
machines) as needed, with the open-model pacing of the HTTP load (locustfiles.pacing).

`UploadSpec` is everything a Locust process needs to send its share of one replay (small JSON: no keys, no
times): the schedule is rebuilt in each process from the trace (ScheduleSpec, the trace's sha256 checked) or is
a constant rate, object keys are derived (replay.uploads.object_key), images are regenerated (labkit.images).
Arrival i is sent by process i mod N (locustfiles.shapes.partition) at `start + offset_i`, as one PUT signed with
SigV4 (replay.signedput) on a pooled keep-alive connection (locustfiles.sender); failed attempts are retried
with replay.retry's backoff (in the upload's own greenlet); a send that cannot start within max lag is recorded
`dropped`. Each process writes its own `records/<prefix>replay-p<slot>of<N>-<host>-<pid>.csv` of `s3-put`
records (the fields the thread engine writes), so the join (replay.collect) reads them like records/replay.csv.

`run_uploads` runs Locust headless for a spec (`--processes N`: a master and N forked workers on a private free
port on 127.0.0.1) as a child of the run context (its own process group, dies with the run), releases the start
once Locust is ready (labkit.startsync) and waits, bounded, for the end. The Locust side is locustfiles/uploads.py
(never imported here: this module stays free of Locust and gevent).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from labkit.errors import ConfigError, TargetError
from labkit.images import PayloadImage, image_set
from labkit.net import LOOPBACK, free_port
from labkit.records import RequestRecord, iter_records
from labkit.runctx import Child, RunContext, wait_all
from labkit.startsync import ready_tags, release
from replay.options import ScheduleSpec, build_trace_schedule
from replay.targets import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, S3Target
from replay.uploads import object_key

if TYPE_CHECKING:
    from replay.runner import Segment

REPO_ROOT = Path(__file__).resolve().parent.parent
UPLOADS_LOCUSTFILE = REPO_ROOT / "locustfiles" / "uploads.py"
SPEC_FILE = "uploads-spec.json"
TAG = "uploads"
UPLOADS_PRODUCER = "replay"  # records/<prefix>replay.csv (threads) and <prefix>replay-p<i>of<n>-...csv (locust)
GRACE_S = 30.0  # past schedule + retries + network timeout: Locust's start-up, in-flight uploads and shutdown
DEFAULT_MAX_INFLIGHT = 512  # over all processes
READY_TIMEOUT_S = 120.0  # Locust's start-up (imports, schedule, payloads) until the master says it is ready
REMOTE_READY_S = 600.0  # more, for the workers on other machines to be started and connect
RELEASE_LEAD_S = 2.0  # the common start is this far ahead of the release (the master passes it on meanwhile)
Say = Callable[[str], None]


@dataclass(frozen=True)
class UploadSpec:
    """What every Locust process of one replay needs (see the module docstring); JSON in and out."""

    run_dir: str  # absolute path; a worker on another machine makes a run dir of that path (merge its records)
    run_id: str
    scenario: str
    target: str  # the records' target: local-s3 | s3
    key_scope: str  # object keys: uploads/<key_scope>/<index>-<image>
    bucket: str
    endpoint_url: str  # an S3 endpoint (path style); "" = AWS S3 in `region` (virtual-hosted, https)
    region: str
    credentials: str = "dummy"  # dummy (a local S3) | chain (boto3's usual chain, in each process)
    images: str = ""
    image_count: int = 8
    schedule: dict[str, Any] | None = None  # a ScheduleSpec (trace), or None with constant_rps / constant_s
    constant_rps: float = 0.0
    constant_s: float = 0.0
    records_prefix: str = ""
    start_unix_s: float = 0.0  # a fixed common start (an experiment's clock); 0: when every process is ready
    max_inflight: int = DEFAULT_MAX_INFLIGHT  # over all processes
    max_lag_s: float = 1.0
    max_attempts: int = 5
    connect_timeout_s: float = 5.0
    network_timeout_s: float = 30.0
    verify_tls: bool = True
    sync_dir: str = ""  # labkit.startsync folder of the runner; "" (a master started by hand): start at once

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> UploadSpec:
        try:
            data = json.loads(text)
            names = {f.name for f in dataclasses.fields(cls)}
            return cls(**{k: v for k, v in data.items() if k in names})
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"not an upload spec ({exc})") from None

    def offsets_s(self) -> np.ndarray:
        """Every arrival's offset from the start (s): the trace's schedule, or a constant rate."""
        if self.schedule is not None:
            spec = _local_trace(ScheduleSpec.from_dict(self.schedule, "upload spec"))
            return np.asarray(build_trace_schedule(spec).offsets_s)
        if not (self.constant_rps > 0 and self.constant_s > 0):
            raise ConfigError("an upload spec needs a schedule, or constant_rps and constant_s > 0")
        return np.arange(math.floor(self.constant_rps * self.constant_s)) / self.constant_rps

    def image_set(self) -> list[PayloadImage]:
        return image_set(self.images or None, self.image_count)

    def key(self, index: int, images: list[PayloadImage]) -> str:
        return object_key(self.key_scope, index, images[index % len(images)].name)

    def per_process_cap(self, processes: int) -> int:
        return max(1, math.ceil(self.max_inflight / max(1, processes)))


def _local_trace(spec: ScheduleSpec) -> ScheduleSpec:
    """On a machine where the trace is not at the spec's path: the file of that name in this repo's traces/
    (build_trace_schedule checks its sha256, so only the same file passes)."""
    if Path(spec.trace).is_file():
        return spec
    return dataclasses.replace(spec, trace=str(REPO_ROOT / "traces" / Path(spec.trace).name))


def upload_record_files(records_dir: Path, prefix: str = "") -> list[Path]:
    """records/<prefix>replay.csv (thread engine) and every records/<prefix>replay-p*.csv (Locust engine)."""
    own = records_dir / f"{prefix}{UPLOADS_PRODUCER}.csv"
    return ([own] if own.is_file() else []) + sorted(records_dir.glob(f"{prefix}{UPLOADS_PRODUCER}-p*.csv"))


def upload_records(records_dir: Path, prefix: str = "") -> Iterable[RequestRecord]:
    for path in upload_record_files(records_dir, prefix):
        yield from iter_records(path)


@dataclass(frozen=True)
class Cluster:
    """Where the Locust processes run: `processes` workers on this machine, `remote_workers` more on other machines
    (started by hand, see `remote_command`) that the master waits for, listening on `bind_host`:`port`."""

    processes: int = 1
    remote_workers: int = 0
    bind_host: str = LOOPBACK
    port: int = 0  # 0: a free one (chosen by `resolved`)

    def resolved(self) -> Cluster:
        if self.processes < 1 or self.remote_workers < 0:
            raise ConfigError(f"--processes must be >= 1 and --remote-workers >= 0, got {self.processes}, "
                              f"{self.remote_workers}")  # fmt: skip
        return self if self.port else dataclasses.replace(self, port=free_port(self.bind_host))

    def remote_command(self) -> str:
        """What to run on each other machine (from the repo root) to join this run's master (P: that machine's
        share of the remote workers). In locustfiles/, away from the root's locust.conf (the HTTP load's options)."""
        return (f"cd locustfiles && PYTHONPATH=.. ../.venv/bin/locust -f uploads.py --worker --processes P "
                f"--master-host <this machine's address> --master-port {self.port}")  # fmt: skip


def locust_argvs(spec_path: Path, out_dir: Path, cluster: Cluster) -> list[tuple[str, list[str]]]:
    """(name, argv) of the Locust processes to start here: one headless process, or a master with forked workers
    on a loopback port, or (remote workers) a master listening on bind_host plus this machine's workers."""
    base = [sys.executable, "-m", "locust", "-f", str(UPLOADS_LOCUSTFILE), "--loglevel", "INFO"]
    head = [*base, "--headless", "--only-summary", "--csv", str(out_dir / TAG), "--upload-spec", str(spec_path)]
    port = str(cluster.port)
    if cluster.remote_workers == 0:
        if cluster.processes == 1:
            return [(TAG, head)]
        return [(TAG, [*head, "--processes", str(cluster.processes), "--master-bind-host", LOOPBACK,
                       "--master-bind-port", port, "--master-host", LOOPBACK, "--master-port", port])]  # fmt: skip
    expect = str(cluster.processes + cluster.remote_workers)
    master = [*head, "--master", "--master-bind-host", cluster.bind_host, "--master-bind-port", port,
              "--expect-workers", expect]  # fmt: skip
    workers = [*base, "--worker", "--processes", str(cluster.processes), "--master-host", LOOPBACK,
               "--master-port", port]  # fmt: skip
    return [(TAG, master), (f"{TAG}-workers", workers)]


def time_bound_s(spec: UploadSpec, duration_s: float) -> float:
    """How long a run may take from its start: schedule, every attempt's timeouts and backoff, grace."""
    return duration_s + spec.max_attempts * (spec.connect_timeout_s + spec.network_timeout_s + 5.0) + GRACE_S


def _release_when_ready(sync_dir: Path, children: list[Child], timeout_s: float) -> None:
    """Wait until the Locust master (or single process) says it is ready, then release the common start."""
    deadline = time.monotonic() + timeout_s
    while TAG not in ready_tags(sync_dir):
        for child in children:
            if child.poll() is not None:
                raise TargetError(f"{child.name} exited {child.poll()} before it was ready; see {child.log_path}:\n"
                                  f"{child.log_tail(1500)}")  # fmt: skip
        if time.monotonic() > deadline:
            raise TargetError(f"locust {TAG} not ready within {timeout_s:g} s (every worker connected?); see "
                              f"{children[0].log_path}")  # fmt: skip
        time.sleep(0.05)
    release(sync_dir, RELEASE_LEAD_S)


def run_uploads(ctx: RunContext, spec: UploadSpec, cluster: Cluster, duration_s: float,
                progress: Callable[[], None] | None = None, interval_s: float = 5.0) -> Child:  # fmt: skip
    """Run Locust for `spec` to its end (see the module docstring); the master's Child (exited). TargetError when
    Locust failed, refused the spec, or overran its time bound."""
    from locustfiles.runner import check_exit

    cluster = cluster.resolved()
    out_dir = ctx.run.path / "locust"
    out_dir.mkdir(parents=True, exist_ok=True)
    sync_dir = Path(spec.sync_dir) if spec.sync_dir else ctx.run.path / "sync" / TAG
    spec = dataclasses.replace(spec, sync_dir=str(sync_dir.resolve()))
    spec_path = out_dir / SPEC_FILE
    spec_path.write_text(spec.to_json() + "\n", encoding="utf-8")
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    children = [ctx.spawn(argv, name=f"locust {name}", log_path=out_dir / f"{name}.log", env=env, cwd=out_dir)
                for name, argv in locust_argvs(spec_path, out_dir, cluster)]  # fmt: skip
    try:
        ready_s = READY_TIMEOUT_S + (REMOTE_READY_S if cluster.remote_workers else 0.0)
        _release_when_ready(sync_dir, children, ready_s)
        deadline = time.time() + time_bound_s(spec, duration_s)
        while wait_all(children[:1], min(deadline, time.time() + interval_s)):
            if time.time() >= deadline:
                raise TargetError(f"locust {TAG} overran its time bound; see {children[0].log_path}")
            if progress is not None:
                progress()
        wait_all(children, time.time() + GRACE_S)
    finally:
        for child in children:
            if child.poll() is None:
                child.stop(timeout_s=30.0)
    check_exit(children[0], TAG)
    return children[0]


class RowCounter:
    """Rows written so far to a run's upload record files, read incrementally (progress lines; bounded reads)."""

    def __init__(self, records_dir: Path, prefix: str) -> None:
        self.records_dir, self.prefix = records_dir, prefix
        self._offsets: dict[Path, int] = {}
        self.rows = 0

    def count(self) -> int:
        for path in upload_record_files(self.records_dir, self.prefix):
            start = self._offsets.get(path, 0)
            try:
                with path.open("rb") as handle:
                    handle.seek(start)
                    data = handle.read(64 << 20)
            except OSError:
                continue
            cut = data.rfind(b"\n") + 1
            self.rows += data[:cut].count(b"\n") - (1 if start == 0 and cut else 0)  # the header line
            self._offsets[path] = start + cut
        return self.rows


def send_segment(seg: Segment, target: S3Target, ctx: RunContext, max_inflight: int, say: Say) -> bool:
    """The runner's segment sent by Locust (`--engine locust`; a new run: every slot); seg.stats filled from the
    records afterwards, the result collector told the keys uploaded. True when interrupted (Ctrl-C)."""
    from replay.runner import key_scope, scenario_name

    opts = seg.options
    aws = target.label == "s3"
    spec = UploadSpec(
        run_dir=str(seg.run.path.resolve()), run_id=seg.run.run_id, scenario=scenario_name(opts), target=target.label,
        key_scope=key_scope(opts, seg.run), bucket=target.bucket,
        endpoint_url="" if aws else str(target.s3.meta.endpoint_url), region=str(target.s3.meta.region_name or ""),
        credentials="chain" if aws else "dummy", images=opts.images, image_count=opts.image_count,
        schedule=opts.schedule.as_dict(), records_prefix=opts.records_prefix, start_unix_s=opts.start_at_unix_s or 0.0,
        max_inflight=max_inflight, max_attempts=opts.max_attempts, connect_timeout_s=CONNECT_TIMEOUT_S,
        network_timeout_s=READ_TIMEOUT_S,
    )  # fmt: skip
    counter, started_s = RowCounter(seg.run.records_dir, opts.records_prefix), time.monotonic()
    cluster = Cluster(opts.processes, opts.remote_workers, opts.master_bind_host or LOOPBACK).resolved()
    if cluster.remote_workers:
        say(f"the master waits for {cluster.remote_workers} workers from other machines on "
            f"{cluster.bind_host}:{cluster.port}; on each, in the repo root: {cluster.remote_command()}")  # fmt: skip
    say(f"Locust engine: {opts.processes} process{'es' if opts.processes > 1 else ''}, up to {max_inflight} uploads "
        f"in flight; Locust's log: {seg.run.path / 'locust' / (TAG + '.log')}")  # fmt: skip

    def progress() -> None:
        say(f"{time.monotonic() - started_s:.0f} s: {counter.count()} of {len(seg.keys)} upload records written")

    interrupted = False
    try:
        run_uploads(ctx, spec, cluster, float(seg.schedule.duration_s), progress)
    except KeyboardInterrupt:
        interrupted = True
    _tally(seg)
    return interrupted


def _tally(seg: Segment) -> None:
    """seg.stats from the records the Locust processes wrote (first attempts' lag, retries, failed slots)."""
    final: dict[str, bool] = {}
    first_intended: list[float] = []
    for record in upload_records(seg.run.records_dir, seg.options.records_prefix):
        retry = record.request_id.rsplit("-", 1)[-1].startswith("a")
        seg.stats.attempt_done(record, 2 if retry else 1)
        final[record.object_key] = final.get(record.object_key, False) or record.ok
        if not retry and record.intended_send_unix_s is not None:
            first_intended.append(record.intended_send_unix_s)
    for key in seg.keys:
        if not final.get(key, False):
            seg.stats.slot_failed()  # failed for good, dropped, or never recorded
    if seg.collector is not None:
        seg.collector.want(key for key, ok in final.items() if ok)
    if first_intended:
        seg.base = {"schedule_offset_s": 0.0, "start_unix_s": min(first_intended)}
