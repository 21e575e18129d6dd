"""One replay segment: a new run, or the rest of an interrupted one (`--resume`), from schedule to join.

1. build the schedule (traces.build_schedule), make or open the run dir, lock it;
2. work out the pending slots (resume: every index without an ok upload record) and their send times
   (re-based on a resume: see replay.resume);
3. open the target (the local cloud is started here and stopped at the end), start the result
   collector and the progress line, and send open loop (replay.scheduler) with retries (replay.retry),
   every attempt written to records/replay.csv as it completes;
4. wait for the remaining results (up to result_timeout_s after the last upload), copy the platform
   log's REPORT lines to logs/platform.log, and rewrite records/s3-results.csv: one s3-infer record per
   upload, joined with its result and REPORT line (or missing_result);
5. record the segment in the manifest; status complete, interrupted (Ctrl-C) or failed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.compactor import Compactor
from experiments.planfile import write_plan_json
from labkit.config import LabConfig
from labkit.errors import ConfigError, InputError, Interrupted, TargetError
from labkit.images import PayloadImage, image_set
from labkit.records import RequestRecord
from labkit.recordwriter import RecordWriter
from labkit.runctx import RunContext
from labkit.rundir import RunDir
from replay.asplan import replay_plan
from replay.collect import (
    RESULTS_LOG,
    ResultCollector,
    final_join,
    final_uploads,
    read_result_docs,
    repair_tail,
    report_lines,
    write_records_atomically,
)
from replay.locustengine import send_segment, upload_record_files, upload_records
from replay.options import ReplayOptions, build_trace_schedule
from replay.progress import ProgressLine, ReplayStats, lag_percentiles_ms
from replay.resume import done_indexes, lock_run, pending_indexes, rebased_times, resumed_options
from replay.retry import RetryPolicy, upload_with_retry
from replay.scheduler import run_open_loop, workers_for_rate
from replay.targets import S3Target, open_target
from replay.uploads import UploadJob, object_key
from traces import Schedule

UPLOADS_PRODUCER = "replay"
RESULTS_PRODUCER = "s3-results"
PLATFORM_LOG = "platform.log"
START_LEAD_S = 1.0  # the first send is this far after the workers start
IN_FLIGHT_JOIN_S = 30.0  # how long Ctrl-C waits for uploads in flight
LOCUST_MAX_INFLIGHT = 8192  # the Locust engine's default in-flight cap (over all processes), sized to the peak

Say = Callable[[str], None]


@dataclass
class Outcome:
    """What a segment did, for the CLI's summary."""

    run: RunDir
    status: str
    total: int
    already_done: int = 0
    sent: int = 0
    ok: int = 0
    failed: int = 0
    retries: int = 0
    lag_ms: tuple[float | None, float | None, float | None] = (None, None, None)
    joined: int = 0
    missing: int = 0
    results_expected: bool = False
    e2e_latency_ms: tuple[float | None, float | None, float | None] = (None, None, None)  # p50, p99, max
    cold_starts: int = 0
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why a finished segment is not `complete`


class LockedWriter:
    """A record writer shared by the sender threads; writes after close are counted, not raised."""

    def __init__(self, writer: RecordWriter) -> None:
        self._writer, self._lock, self.late = writer, threading.Lock(), 0

    def write(self, record: RequestRecord) -> None:
        with self._lock:
            if self._writer is None:
                self.late += 1
                return
            self._writer.write(record)

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None


@dataclass
class Segment:
    options: ReplayOptions
    run: RunDir
    schedule: Schedule
    images: list[PayloadImage]
    keys: list[str]
    pending: list[int]
    number: int
    stats: ReplayStats
    stop: threading.Event = field(default_factory=threading.Event)
    collector: ResultCollector | None = None
    writer: LockedWriter | None = None
    base: dict[str, float] = field(default_factory=dict)  # the re-basing of this segment's send times
    ctx: RunContext | None = None  # the run's context (the Locust engine's processes are its children)
    say: Say = print


def scenario_name(options: ReplayOptions) -> str:
    """The records' scenario: replay-<trace>, or an experiment workload's own name (its records prefix)."""
    if options.records_prefix:
        return options.records_prefix.rstrip("-")
    return f"replay-{Path(options.schedule.trace).stem}"


def open_run(options: ReplayOptions, explicit: set[str]) -> tuple[ReplayOptions, RunDir, Schedule]:
    """The run dir (new, or the one to resume) with its options and schedule."""
    if options.resume is None:
        schedule = build_trace_schedule(options.schedule)
        config = {"replay": options.as_dict(), "schedule": schedule.metadata()}
        run = RunDir.create(options.runs_root, scenario_name(options), config)
        write_plan_json(run.path, replay_plan(options, scenario_name(options), float(schedule.duration_s)))
        return options, run, schedule
    run = RunDir.open(options.resume)
    options = resumed_options(options, explicit, run)
    schedule = build_trace_schedule(options.schedule)
    expected = ((run.read_manifest().get("config") or {}).get("schedule") or {}).get("arrivals")
    if expected is not None and expected != len(schedule):
        raise InputError(f"{run.path}: the rebuilt schedule has {len(schedule)} uploads, the run had {expected}")
    return options, run, schedule


def check_confirmation(options: ReplayOptions) -> None:
    if options.target == "aws" and not options.bucket:
        raise ConfigError("--target aws needs --bucket (an existing S3 bucket you may write to)")
    if options.target == "aws" and not options.yes:
        raise ConfigError("--target aws uploads to real S3 (and triggers whatever is subscribed to it), which "
                          "costs money: add --yes to confirm")  # fmt: skip


def replay(options: ReplayOptions, explicit: set[str], config: LabConfig, say: Say) -> Outcome:
    """Run one segment (see the module docstring)."""
    check_confirmation(options)  # before a run dir is made (and again for the options a resume re-reads)
    options, run, schedule = open_run(options, explicit)
    check_confirmation(options)
    lock = lock_run(run)
    try:
        ctx = RunContext(run)
        # ctx owns the run's processes (the local cloud) and its final status; the compactor writes the records'
        # columnar copy as they come (analysis.compactor), so the report parses little CSV
        with ctx, Compactor(run.records_dir):
            outcome = _replay_locked(options, run, schedule, config, say, ctx)
            ctx.problems.extend(outcome.problems)
            if outcome.status == "interrupted":
                ctx.mark_interrupted()
        outcome.status = ctx.status
        return outcome
    finally:
        lock.close()


def key_scope(options: ReplayOptions, run: RunDir) -> str:
    """Object keys are uploads/<scope>/...: an experiment's workload (several per run in a sweep) gets keys of its
    own (uploads/<run>/<workload>/...)."""
    return f"{run.run_id}/{options.records_prefix.rstrip('-')}" if options.records_prefix else run.run_id


def _plan(options: ReplayOptions, run: RunDir, schedule: Schedule) -> Segment:
    images = image_set(options.images or None, options.image_count)
    scope = key_scope(options, run)
    keys = [object_key(scope, i, images[i % len(images)].name) for i in range(len(schedule))]
    for path in upload_record_files(run.records_dir, options.records_prefix):  # replay.csv, or Locust's per process
        repair_tail(path)
    existing = list(upload_records(run.records_dir, options.records_prefix))
    done = done_indexes(existing, keys)
    number = int(run.read_manifest().get("segments_started") or 0)  # a killed segment counts too
    stats = ReplayStats(len(keys), already_done=len(done))
    return Segment(options, run, schedule, images, keys, pending_indexes(len(keys), done), number, stats)


def _replay_locked(options: ReplayOptions, run: RunDir, schedule: Schedule, config: LabConfig, say: Say,
                   ctx: RunContext | None = None) -> Outcome:  # fmt: skip
    seg = _plan(options, run, schedule)
    seg.ctx, seg.say = ctx, say
    run.update_manifest(status="running", segments_started=seg.number + 1)
    say(f"run dir {run.path} ({'resume, segment ' + str(seg.number) if seg.number else 'new run'})")
    if not seg.pending:
        say("every upload of this run is already recorded ok; nothing to upload")
        return _finish(seg, None, interrupted=False, say=say, started_unix_s=time.time())
    locust = options.engine == "locust"  # workers: uploads in flight at most (over all Locust processes)
    sized = workers_for_rate(schedule.peak_rps, cap=LOCUST_MAX_INFLIGHT) if locust else 0
    workers = options.workers or (max(32 * options.processes, sized) if locust else workers_for_rate(schedule.peak_rps))
    meta, engine = schedule.metadata(), "Locust engine" if locust else f"{workers} sender threads"
    say(f"schedule: {len(seg.pending)} of {len(seg.keys)} uploads over {meta['duration_s']:.0f} s "
        f"(peak {meta['peak_rps']:.1f}/s, mean {meta['mean_rps']:.1f}/s, {meta['window_start_utc']} to "
        f"{meta['window_end_utc']} x{meta['speedup']:g}); {engine}")  # fmt: skip
    if options.target == "local" and not options.s3_endpoint:
        say("starting the local cloud (S3 + function platform; the first use builds the model)")
    started_unix_s = time.time()
    try:
        target = open_target(options.target, config=config.localcloud, bucket=options.bucket,
                             work_dir=run.logs_dir / f"localcloud-{seg.number}", results_bucket=options.results_bucket,
                             s3_endpoint=options.s3_endpoint, model=options.model, pool=workers + 2)  # fmt: skip
    except KeyboardInterrupt:
        run.finish(status="interrupted")
        raise Interrupted(f"interrupted while starting the target; resume with --resume {run.path}") from None
    except (TargetError, ConfigError):
        run.finish(status="failed")
        raise
    with target:
        say(f"target: {target.description}")
        interrupted = _send_and_collect(seg, target, workers)
        return _finish(seg, target, interrupted=interrupted, say=say, started_unix_s=started_unix_s)


def _send_and_collect(seg: Segment, target: S3Target, workers: int) -> bool:
    """Send every pending slot, then wait for results; True when interrupted (Ctrl-C)."""
    opts = seg.options
    if target.results_s3 is not None:
        seg.collector = ResultCollector(target.results_s3, target.results_bucket, results_log(seg),
                                        on_found=seg.stats.results_found)  # fmt: skip
        if target.cloud is None:  # results of earlier segments persist only outside a local cloud started here
            seg.collector.want(seg.keys[i] for i in sorted(set(range(len(seg.keys))) - set(seg.pending)))
        seg.stats.results_found(len(seg.collector.docs))
        seg.collector.start()
    if opts.engine == "locust":
        if seg.ctx is None:
            raise ConfigError("the Locust engine runs inside a run context (python -m replay)")
        interrupted = send_segment(seg, target, seg.ctx, workers, seg.say)
        return _drain(seg, interrupted)
    seg.writer = LockedWriter(seg.run.writer(f"{opts.records_prefix}{UPLOADS_PRODUCER}"))
    progress = ProgressLine(seg.stats, results_expected=seg.collector is not None).start()
    if opts.start_at_unix_s:  # an experiment's clock: slot i at start + its own schedule offset
        intended, base_s = opts.start_at_unix_s + seg.schedule.offsets_s[seg.pending], 0.0
    else:
        intended, base_s = rebased_times(seg.schedule.offsets_s, seg.pending, time.time() + START_LEAD_S)
    seg.base = {"schedule_offset_s": base_s, "start_unix_s": float(intended[0])}
    interrupted = False
    try:
        run_open_loop(seg.pending, intended, _sender(seg, target), workers, seg.stop, join_s=IN_FLIGHT_JOIN_S)
    except KeyboardInterrupt:
        interrupted = True
    seg.writer.close()
    return _drain(seg, interrupted, progress)


def _drain(seg: Segment, interrupted: bool, progress: ProgressLine | None = None) -> bool:
    """Wait for the remaining results (none when interrupted); True when interrupted (before or now)."""
    try:
        if seg.collector is not None:
            seg.collector.drain(0.0 if interrupted else seg.options.result_timeout_s)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if progress is not None:
            progress.close()
        if seg.collector is not None:
            seg.collector.close()
    return interrupted


def _sender(seg: Segment, target: S3Target) -> Callable[[int, float], None]:
    policy = RetryPolicy(max_attempts=seg.options.max_attempts)
    labels = {"run_id": seg.run.run_id, "scenario": scenario_name(seg.options), "target": target.label}

    def on_record(record: RequestRecord, attempt: int) -> None:
        assert seg.writer is not None
        seg.writer.write(record)
        seg.stats.attempt_done(record, attempt)

    def send(index: int, intended_unix_s: float) -> None:
        image = seg.images[index % len(seg.images)]
        job = UploadJob(index, seg.keys[index], image.data, image.content_type, intended_unix_s)
        last = upload_with_retry(target.s3, target.bucket, job, policy=policy, stop=seg.stop, on_record=on_record,
                                 **labels)  # fmt: skip
        if not last.ok:
            seg.stats.slot_failed()
        elif seg.collector is not None:
            seg.collector.want([last.object_key])

    return send


def _copy_platform_logs(run: RunDir) -> Path | None:
    """logs/platform.log: every segment's platform log (START/END/REPORT lines), in segment order."""
    cloud_dirs = [d for d in run.logs_dir.glob("localcloud-*") if d.name.split("-", 1)[1].isdigit()]
    cloud_dirs.sort(key=lambda d: int(d.name.split("-", 1)[1]))
    sources = [log for d in cloud_dirs for log in sorted(d.rglob(PLATFORM_LOG))]
    if not sources:
        return None
    out = run.logs_dir / PLATFORM_LOG
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for source in sources:
            handle.write(source.read_text(encoding="utf-8", errors="replace"))
    tmp.replace(out)
    return out


def _missing_note(seg: Segment, status: str) -> Callable[[str], str]:
    """Why an upload has no result: timeout, interruption, or lost with an earlier segment's local cloud."""
    this_segment = {seg.keys[i] for i in seg.pending}
    local_cloud = seg.options.target == "local" and not seg.options.s3_endpoint

    def note(key: str) -> str:
        if local_cloud and key not in this_segment:
            return "no result collected before an earlier segment was interrupted; that local cloud is gone"
        if status != "complete":
            return "no result object before the replay was interrupted"
        return f"no result object within {seg.options.result_timeout_s:g} s after the last upload"

    return note


def results_log(seg: Segment) -> Path:
    """logs/s3-results.jsonl, or logs/<prefix>s3-results.jsonl for an experiment's workload: each (sub-run's)
    workload its own, so a sweep's sub-runs (same object keys, a fresh cloud each) never share result documents."""
    return seg.run.logs_dir / f"{seg.options.records_prefix}{RESULTS_LOG}"


def _join(seg: Segment, outcome: Outcome) -> None:
    docs = read_result_docs(results_log(seg))
    outcome.results_expected = seg.collector is not None or bool(docs)
    if not outcome.results_expected:
        return
    platform_log = _copy_platform_logs(seg.run)
    log_paths = ([platform_log] if platform_log else []) + [Path(p) for p in seg.options.report_logs]
    prefix = seg.options.records_prefix
    uploads = final_uploads(upload_records(seg.run.records_dir, prefix))
    joined = final_join(uploads, docs, report_lines(log_paths), _missing_note(seg, outcome.status))
    write_records_atomically(seg.run.records_dir / f"{prefix}{RESULTS_PRODUCER}.csv", joined)
    outcome.missing = sum(r.error_kind == "missing_result" for r in joined)
    outcome.joined = len(joined) - outcome.missing
    ok = [r for r in joined if r.ok and r.latency_ms is not None]
    outcome.e2e_latency_ms = lag_percentiles_ms([r.latency_ms for r in ok if r.latency_ms is not None])
    outcome.cold_starts = sum(bool(r.cold_start) for r in ok)


def _problems(seg: Segment, outcome: Outcome) -> list[str]:
    """Why the segment did not do all it was asked: permanently failed uploads, uploads without a result."""
    out = []
    if outcome.failed and outcome.status != "interrupted":
        resume = f"python -m replay --resume {seg.run.path}"
        out.append(f"{outcome.failed} of {outcome.total} uploads failed after {seg.options.max_attempts} attempts "
                   f"(see records, error_message); upload them again with: {resume}")  # fmt: skip
    if outcome.results_expected and outcome.missing and outcome.status != "interrupted":
        out.append(f"{outcome.missing} uploads have no inference result (records error_kind missing_result)")
    return out


def _finish(seg: Segment, target: S3Target | None, *, interrupted: bool, say: Say, started_unix_s: float) -> Outcome:
    snap = seg.stats.snapshot()
    status = "interrupted" if interrupted else "complete"
    if (not interrupted and snap.sent and not snap.ok) or (not interrupted and snap.failed):
        status = "failed"
    outcome = Outcome(seg.run, status, snap.total, snap.already_done, snap.sent, snap.ok, snap.failed,
                      snap.retries, lag_percentiles_ms(seg.stats.all_lags_ms))  # fmt: skip
    if seg.writer is not None and seg.writer.late:
        outcome.notes.append(f"{seg.writer.late} upload records came after the in-flight bound and were not kept")
    _join(seg, outcome)
    outcome.problems = _problems(seg, outcome)
    if outcome.problems and status == "complete":
        status = outcome.status = "failed"
    entry: dict[str, Any] = {
        "segment": seg.number,
        "started_unix_s": started_unix_s,
        "ended_unix_s": time.time(),
        "status": status,
        "pending_at_start": len(seg.pending),
        **{k: getattr(outcome, k) for k in ("sent", "ok", "failed", "retries", "joined", "missing")},
        "lag_p50_ms": outcome.lag_ms[0],
        "lag_p99_ms": outcome.lag_ms[1],
        "lag_max_ms": outcome.lag_ms[2],
        "rebase": seg.base,
        "target": target.description if target else None,
    }
    segments = [*(seg.run.read_manifest().get("segments") or []), entry]
    uploaded_ok = snap.already_done + snap.ok
    seg.run.finish(status=status, segments=segments, uploads_total=snap.total, uploads_ok=uploaded_ok)
    if status == "failed" and snap.sent and not snap.ok:
        uploads_csv = seg.run.records_dir / f"{seg.options.records_prefix}{UPLOADS_PRODUCER}.csv"
        raise TargetError(f"every upload failed (see {uploads_csv}, error_message)")
    return outcome
