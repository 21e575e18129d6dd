"""The replay's uploads as Locust users (`python -m replay TRACE --engine locust`; replay.locustengine).

One dispatcher user per Locust process takes its share of the upload schedule (arrival i goes to process
i mod N) and sends each upload at its intended time through locustfiles.pacing (open model: a greenlet per
send, up to the per-process in-flight cap; too late -> recorded "dropped"), as one SigV4-signed PUT
(replay.signedput) on a pooled keep-alive connection (locustfiles.sender); retryable failures are retried with
replay.retry's backoff, every attempt recorded. Records: records/<prefix>replay-p<slot>of<N>-<host>-<pid>.csv.

Run by replay.locustengine.run_uploads (headless, `--upload-spec FILE`: the master reads it and sends it on to
its workers, which need only the repo and the same trace file). Workers on other machines (`python -m replay
... --engine locust --remote-workers K --master-bind-host ADDR` prints their command) run in locustfiles/, away
from the root's locust.conf (the HTTP load's options):
    cd locustfiles && PYTHONPATH=.. ../.venv/bin/locust -f uploads.py --worker --processes P \
        --master-host ADDR --master-port PORT
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import os
import random
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import numpy as np
from gevent import GreenletExit
from gevent import sleep as gevent_sleep
from locust import LoadTestShape, User, events, task
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from labkit.errors import LabError
from labkit.images import PayloadImage
from labkit.records import RequestRecord
from labkit.startsync import await_start, mark_ready
from localcloud.s3.moto_server import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY
from locustfiles.dispatchshape import dispatcher_tick
from locustfiles.pacing import SenderPool, run_schedule
from locustfiles.process import ProcessState, worker_side_run
from locustfiles.sender import Sender
from locustfiles.shapes import partition
from replay.locustengine import TAG, UPLOADS_PRODUCER, UploadSpec
from replay.retry import RETRYABLE_KINDS, RetryPolicy, attempt_record
from replay.signedput import Credentials, PutMaker, SigV4, put_record, s3_place

log = logging.getLogger("loadlab")
LEAD_S = 2.0  # a master sets the common start at least this far ahead (spawn messages, the workers' set-up)
SYNC_TIMEOUT_S = 180.0
STOP_GRACE_S = 15.0


@dataclass
class UploadState(ProcessState):
    """locustfiles.process.ProcessState (writer, slot, refusal...) with what an upload process needs."""

    spec: UploadSpec | None = None
    offsets_s: np.ndarray | None = None
    images: list[PayloadImage] = field(default_factory=list)
    maker: PutMaker | None = None
    sender: Sender | None = None
    duration_s: float = 0.0
    anchor_unix_s: float = 0.0  # the records' clock: wall-clock time at anchor_mono_s, then monotonic time on
    anchor_mono_s: float = 0.0  # (as the pacing's), so a wall clock being slewed meanwhile skews no duration

    def now_unix_s(self) -> float:
        return self.anchor_unix_s + (time.monotonic() - self.anchor_mono_s)

    def reset(self) -> None:
        """Back to a fresh state (at each test start), closing the previous test's writer and connections."""
        self.close_writer()
        if self.sender is not None:
            self.sender.close()
        fresh = UploadState()
        for item in dataclasses.fields(self):
            setattr(self, item.name, getattr(fresh, item.name))


STATE = UploadState()


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    parser.add_argument("--upload-spec", default="", include_in_web_ui=False,
                        help="the replay's upload spec (JSON file written by replay.locustengine)")  # fmt: skip
    for name in ("--upload-spec-json", "--upload-slots", "--upload-count", "--upload-start"):
        parser.add_argument(name, default=None, include_in_web_ui=False, help=argparse.SUPPRESS)


def _credentials(spec: UploadSpec) -> Credentials:
    if spec.credentials == "dummy":
        return DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, ""
    found = boto3.session.Session().get_credentials()
    if found is None:
        raise LabError("no AWS credentials found in this process (AWS_PROFILE, AWS_ACCESS_KEY_ID...)")
    frozen = found.get_frozen_credentials()
    return frozen.access_key, frozen.secret_key, frozen.token or ""


def _decide(opts: Any, runner: Any) -> UploadSpec:
    """Master or single process: the spec (sent on to the workers), the split among processes, the start."""
    path = Path(opts.upload_spec or "")
    try:
        opts.upload_spec_json = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LabError(f"--upload-spec {path}: cannot read it ({exc.strerror or exc})") from None
    spec = UploadSpec.from_json(opts.upload_spec_json)
    if isinstance(runner, MasterRunner):
        ids = sorted(n.id for n in runner.clients.ready + runner.clients.running + runner.clients.spawning)
        opts.upload_slots, opts.upload_count = {worker_id: slot for slot, worker_id in enumerate(ids)}, len(ids)
    else:
        opts.upload_slots, opts.upload_count = {}, 1
    opts.upload_start = spec.start_unix_s
    return spec


def _synchronise(opts: Any, spec: UploadSpec, runner: Any) -> None:
    """Say this process is ready and take the runner's common start (a master passes it on to its workers)."""
    start_s = float(opts.upload_start or 0.0)
    if spec.sync_dir and not start_s:
        mark_ready(Path(spec.sync_dir), TAG)
        start_s = await_start(Path(spec.sync_dir), SYNC_TIMEOUT_S, sleep=gevent_sleep)
    if isinstance(runner, MasterRunner):
        start_s = max(start_s, time.time() + LEAD_S)
    opts.upload_start = STATE.start_unix_s = start_s or time.time() + 0.5


def _prepare(spec: UploadSpec) -> None:
    """In a process with a user: its share of the schedule, the images, the signer, the connections, the writer."""
    STATE.offsets_s = offsets_s = spec.offsets_s()
    STATE.duration_s = float(offsets_s[-1]) if offsets_s.size else 0.0
    STATE.images = spec.image_set()
    place = s3_place(spec.endpoint_url, spec.bucket, spec.region)
    signer = SigV4(lambda: _credentials(spec), spec.region)
    STATE.maker = PutMaker(place, signer, [(image.data, image.content_type) for image in STATE.images])
    STATE.sender = Sender(place.base_url, "/", [], "", spec.connect_timeout_s, spec.network_timeout_s,
                          verify_tls=spec.verify_tls)  # fmt: skip
    STATE.run = run = worker_side_run(Path(spec.run_dir))
    name = (f"{spec.records_prefix}{UPLOADS_PRODUCER}-p{STATE.slot}of{STATE.process_count}-{socket.gethostname()}-"
            f"{os.getpid()}")  # fmt: skip
    STATE.start_writer(run, name)
    STATE.identity = {"run_id": spec.run_id, "scenario": spec.scenario, "target": spec.target, "worker": name}


@events.test_start.add_listener
def _on_test_start(environment: Any, **_kwargs: Any) -> None:
    STATE.reset()
    opts, runner = environment.parsed_options, environment.runner
    try:
        if isinstance(runner, WorkerRunner):
            spec = UploadSpec.from_json(opts.upload_spec_json or "")
            slot = (opts.upload_slots or {}).get(runner.client_id)
            if slot is None:
                raise LabError(f"worker {runner.client_id} joined after the test started; it sends nothing")
            STATE.slot, STATE.process_count = int(slot), int(opts.upload_count)
            STATE.start_unix_s = float(opts.upload_start)
        else:
            spec = _decide(opts, runner)
            STATE.process_count = int(opts.upload_count)
        STATE.spec = spec
        if not isinstance(runner, MasterRunner):
            _prepare(spec)
        if not isinstance(runner, WorkerRunner):
            _synchronise(opts, spec, runner)
    except Exception as exc:  # a LabError or a bug: the test must stop, not run with nothing to send
        STATE.refused = str(exc) if isinstance(exc, LabError) else f"{type(exc).__name__}: {exc}"
        log.error("load refused: %s", STATE.refused)


@events.test_stop.add_listener
def _on_test_stop(**_kwargs: Any) -> None:
    STATE.close_writer()
    if STATE.sender is not None:
        STATE.sender.close()


@events.quitting.add_listener
def _on_quitting(**_kwargs: Any) -> None:
    _on_test_stop()


class UploadUser(User):
    """The dispatcher: one per Locust process; each upload runs in a greenlet of the pool (locustfiles.pacing)."""

    @task
    def drive(self) -> None:
        spec, offsets_s = STATE.spec, STATE.offsets_s
        if STATE.dispatched or STATE.refused or spec is None or offsets_s is None:
            raise StopUser()
        STATE.dispatched = True
        mine_s = partition(offsets_s, STATE.slot, STATE.process_count)
        indexes = partition(np.arange(offsets_s.size), STATE.slot, STATE.process_count)
        pool = SenderPool(spec.per_process_cap(STATE.process_count))
        self._policy, self._rng = RetryPolicy(max_attempts=spec.max_attempts), random.Random()
        gc.freeze()  # what exists now (imports, the schedule) is never garbage: collections skip it
        STATE.anchor_unix_s, STATE.anchor_mono_s = time.time(), time.monotonic()
        try:
            stats = run_schedule(mine_s, indexes, STATE.start_unix_s, pool, self._send, self._drop, spec.max_lag_s)
            pool.join(timeout=spec.max_attempts * (spec.network_timeout_s + spec.connect_timeout_s + 5.0))
        finally:
            pool.kill(block=True, timeout=5)
            gc.unfreeze()
        log.info("uploads p%d/%d: %d sent, %d dropped (cap %d, late %d), max send lag %.3f s", STATE.slot,
                 STATE.process_count, stats.sent, stats.dropped, stats.dropped_cap, stats.dropped_late,
                 stats.max_send_lag_s)  # fmt: skip
        raise StopUser()

    def _drop(self, index: int, intended_unix_s: float, reason: str) -> None:
        STATE.write(RequestRecord(request_id=f"{STATE.identity['run_id']}-{index:08d}", source="replay",
                                  operation="s3-put", intended_send_unix_s=intended_unix_s, ok=False,
                                  error_kind="dropped", error_message=reason,
                                  object_key=STATE.spec.key(index, STATE.images) if STATE.spec else "",
                                  **STATE.identity))  # fmt: skip

    def _send(self, index: int, intended_unix_s: float) -> None:
        """Upload arrival `index`, retrying retryable failures (replay.retry's policy), every attempt recorded."""
        assert STATE.spec is not None and STATE.maker is not None and STATE.sender is not None
        image_index = index % len(STATE.images)
        key = STATE.spec.key(index, STATE.images)
        for attempt in range(1, self._policy.max_attempts + 1):
            record = self._attempt(index, key, image_index, intended_unix_s)
            record = attempt_record(record, attempt, self._policy)
            STATE.write(record)
            self._report(record)
            if record.ok or record.error_kind not in RETRYABLE_KINDS or attempt >= self._policy.max_attempts:
                return
            gevent_sleep(self._policy.delay_s(attempt, self._rng))

    def _attempt(self, index: int, key: str, image_index: int, intended_unix_s: float) -> RequestRecord:
        assert STATE.maker is not None and STATE.sender is not None
        actual_unix_s = STATE.now_unix_s()
        request = STATE.maker.request(key, image_index, time.time())  # signed with the real wall-clock time
        try:
            reply = STATE.sender.exchange(request)
        except GreenletExit:
            STATE.write(RequestRecord(request_id=f"{STATE.identity['run_id']}-{index:08d}", source="replay",
                                      operation="s3-put", intended_send_unix_s=intended_unix_s,
                                      actual_send_unix_s=actual_unix_s, ok=False, error_kind="interrupted",
                                      error_message="abandoned in flight: the load generator stopped",
                                      object_key=key, **STATE.identity))  # fmt: skip
            raise
        return put_record(index=index, key=key, request_bytes=len(STATE.maker.payloads[image_index].data),
                          intended_unix_s=intended_unix_s, actual_unix_s=actual_unix_s,
                          completion_unix_s=STATE.now_unix_s(), status_code=reply.status_code, body=reply.body,
                          transport_error=reply.error, **STATE.identity)  # fmt: skip

    def _report(self, record: RequestRecord) -> None:
        """Locust's own statistics (its --csv, the console summary)."""
        failure = None if record.ok else Exception(f"{record.error_kind}: {record.error_message[:80]}")
        self.environment.events.request.fire(request_type="PUT", name="s3 upload", context={}, exception=failure,
                                             response_time=record.service_latency_ms or 0.0,
                                             response_length=record.response_bytes or 0)  # fmt: skip


class UploadShape(LoadTestShape):
    """One dispatcher user per process; the test ends when every dispatcher has finished, or at the latest
    STOP_GRACE_S past the schedule plus every attempt's timeouts."""

    use_common_options = False
    _seen_users = False

    def tick(self) -> tuple[int, float] | None:
        spec, bound_s = STATE.spec, None
        if spec is not None and STATE.start_unix_s:
            per_attempt_s = spec.network_timeout_s + spec.connect_timeout_s + 5.0
            bound_s = STATE.duration_s + LEAD_S + spec.max_attempts * per_attempt_s + STOP_GRACE_S
        return dispatcher_tick(self, STATE, bound_s, STATE.start_unix_s, "the uploads")


__all__ = ["UploadShape", "UploadUser"]
