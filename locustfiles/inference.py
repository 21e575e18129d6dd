"""Open-model inference load: requests are issued on a schedule of intended send times, not after replies.

Run it through `python -m locustfiles` (headless, one run dir, report) or `locust` in the repo root (web UI,
locust.conf). Directly:
    locust -f locustfile.py --headless --host http://127.0.0.1:PORT --lab-shape ramp --lab-rate-rps 100 \
        --lab-duration-s 60 --lab-run-dir runs/<id> --lab-target local-faas [--processes 2]

`OpenModelShape` runs exactly one dispatcher user per Locust process and ends the test when they have all
finished. Each dispatcher takes its share of the arrival schedule (arrival i goes to process i mod N), sends
each request at its intended time in a greenlet of its own (up to the in-flight cap; policy in
locustfiles.pacing: too late -> recorded "dropped") and records every request (labkit.records), latency
counted from the intended send time.
"""

from __future__ import annotations

import base64
import gc
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import gevent
import numpy as np
from gevent import GreenletExit
from locust import FastHttpUser, LoadTestShape, events, task
from locust.exception import CatchResponseError, StopUser
from locust.runners import MasterRunner, WorkerRunner

from analysis.report import write_report
from labkit.errors import ConfigError, LabError
from labkit.images import image_set
from labkit.runctx import RunContext
from labkit.rundir import RunDir
from labkit.startsync import await_start, mark_ready
from locustfiles import labcloud
from locustfiles.dispatchshape import dispatcher_tick
from locustfiles.options import LabPlan, add_lab_arguments, check_plan, plan_from_options
from locustfiles.pacing import SenderPool, run_schedule
from locustfiles.process import ProcessState, plan_of, plan_snapshot, worker_side_run
from locustfiles.recording import Exchange, unanswered_record
from locustfiles.sender import Sender
from locustfiles.settings import load_settings
from locustfiles.shapes import partition

log = logging.getLogger("loadlab")
DISTRIBUTED_LEAD_S = 2.0  # the master sets the common schedule start this far ahead, for spawn messages
REQUEST_ID_HEADER = "x-loadlab-client-request-id"  # the server side can log it: one id per request
STOP_GRACE_S = 15.0  # past schedule + network timeout, the shape ends the test whatever happens
SYNC_TIMEOUT_S = 180.0  # how long a process waits for the runner's common start
STATE = ProcessState()
_payloads: list[bytes] = []
_OWN_RUN_DIR: list[str] = []  # a worker's own --lab-run-dir (from its command line)


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    add_lab_arguments(parser, load_settings())


@events.init.add_listener
def _on_init(environment: Any, **_kwargs: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) and environment.parsed_options is not None:
        _OWN_RUN_DIR[:] = [environment.parsed_options.lab_run_dir or ""]  # before a master's options replace it
    if labcloud.wanted(environment):
        try:
            labcloud.start(environment)
        except LabError as exc:
            raise SystemExit(f"error: the local cloud did not start: {exc}") from None


def _active_worker_ids(runner: MasterRunner) -> list[str]:
    return sorted(node.id for node in runner.clients.ready + runner.clients.running + runner.clients.spawning)


def _decide(environment: Any) -> None:
    """Master or single process: the URL, the split among processes, the common start (sent to workers)."""
    opts, runner = environment.parsed_options, environment.runner
    opts.lab_url = labcloud.url_for(opts.lab_target) or environment.host or ""
    given_start_s = float(getattr(opts, "lab_start_unix_s", 0.0) or 0.0)  # a plan's common start
    if isinstance(runner, MasterRunner):
        ids = _active_worker_ids(runner)
        opts.lab_slots = {worker_id: slot for slot, worker_id in enumerate(ids)}
        opts.lab_process_count = len(ids)
        opts.lab_start_unix_s = max(given_start_s, time.time() + DISTRIBUTED_LEAD_S)
    else:
        opts.lab_slots, opts.lab_process_count = {}, 1
        opts.lab_start_unix_s = given_start_s


def _prepare(environment: Any) -> None:
    """Build and check the plan; open the run dir and, in a process with users, the record writer."""
    opts, runner = environment.parsed_options, environment.runner
    STATE.plan = plan = plan_from_options(opts)
    STATE.url = opts.lab_url
    STATE.shape = check_plan(plan, STATE.url)
    STATE.process_count = int(opts.lab_process_count)
    STATE.start_unix_s = float(opts.lab_start_unix_s)
    if isinstance(runner, WorkerRunner):
        _check_same_run(opts.lab_run_dir)
        slot = opts.lab_slots.get(runner.client_id)
        if slot is None:
            raise LabError(f"worker {runner.client_id} joined after the test started; it sends nothing")
        STATE.slot = int(slot)
    if opts.lab_run_dir:
        STATE.run = worker_side_run(Path(opts.lab_run_dir))
    else:
        config = plan_snapshot(plan, STATE.shape, STATE.url, STATE.process_count)
        STATE.run = RunDir.create(Path(opts.lab_runs_root), plan.scenario, config=config)
        # Locust keeps its own signal handling, and the local cloud's environments outlive each test
        STATE.ctx = RunContext(STATE.run, handle_signals=False, tag_processes=False).__enter__()
        # the records' columnar copy as they come, parsed in a process of its own (not in this gevent loop)
        STATE.ctx.spawn([sys.executable, "-m", "analysis.compactor", str(STATE.run.records_dir.resolve())],
                        name="records compactor", log_path=STATE.run.logs_dir / "compactor.log")  # fmt: skip
        _write_plan(STATE.run, plan, STATE.url, STATE.start_unix_s or time.time(), STATE.shape.duration_s)
        STATE.owns_run = True
        opts.lab_run_dir = str(STATE.run.path.resolve())
        log.warning("run dir %s", STATE.run.path)
    if not isinstance(runner, MasterRunner):
        _payloads[:] = [_encode(img.data) for img in image_set(plan.images or None)]
        STATE.open_writer(STATE.run, plan.target, plan.scenario)


def _synchronise(opts: Any) -> None:
    """With a run's sync dir (experiments): say this process is ready, then take the runner's common start (the
    master passes it on to its workers in the spawn message, which Locust sends after test_start)."""
    sync_dir = getattr(opts, "lab_sync_dir", "")
    if not sync_dir or STATE.plan is None:
        return
    mark_ready(Path(sync_dir), STATE.plan.scenario)
    start_unix_s = await_start(Path(sync_dir), SYNC_TIMEOUT_S, sleep=gevent.sleep) + STATE.plan.start_offset_s
    opts.lab_start_unix_s = STATE.start_unix_s = start_unix_s


def _write_plan(run: RunDir, lab: LabPlan, url: str, start_unix_s: float, duration_s: float) -> None:
    """plan.json and the one sub-run of a test the web UI started (the same typed plan as every run)."""
    from pydantic import ValidationError

    from experiments.planfile import write_plan_json

    try:
        write_plan_json(run.path, plan_of(lab, url))
    except ValidationError as exc:
        raise ConfigError(f"the web UI's parameters do not make a valid plan: {exc}") from None
    workload = {"workload": lab.scenario, "kind": "http", "start_unix_s": start_unix_s,
                "planned_end_unix_s": start_unix_s + duration_s}  # fmt: skip
    run.update_manifest(sub_runs=[{"index": 0, "sweep": {}, "start_unix_s": start_unix_s,
                                   "workloads": {lab.scenario: workload}}])  # fmt: skip


def _check_same_run(master_run_dir: str) -> None:
    """A worker started for one run refuses the plan of a master of another run (a foreign Locust that
    holds the port this worker was told to join)."""
    own = _OWN_RUN_DIR[0] if _OWN_RUN_DIR else ""
    if own and Path(own).resolve() != Path(master_run_dir or ".").resolve():
        raise LabError(f"this worker belongs to run {own} but joined a master of another run "
                       f"({master_run_dir or 'no run dir'}); it sends nothing")  # fmt: skip


@events.test_start.add_listener
def _on_test_start(environment: Any, **_kwargs: Any) -> None:
    STATE.reset()
    try:
        if not isinstance(environment.runner, WorkerRunner):
            _decide(environment)
        _prepare(environment)
        if not isinstance(environment.runner, WorkerRunner):
            _synchronise(environment.parsed_options)
    except LabError as exc:
        STATE.refused = str(exc)
        log.error("load refused: %s", exc)
    except Exception as exc:  # a bug must stop the test, not leave it running with nothing to send
        STATE.refused = f"{type(exc).__name__}: {exc}"
        log.exception("load refused: %s", STATE.refused)


@events.test_stop.add_listener
def _on_test_stop(environment: Any = None, **_kwargs: Any) -> None:
    STATE.close_writer()
    if STATE.refused:  # a refusal ends its own test only: the next test's first tick comes before its test_start
        STATE.last_refusal, STATE.refused = STATE.refused, ""
    if STATE.owns_run and STATE.run is not None:
        run, STATE.owns_run = STATE.run, False
        if environment is not None and environment.parsed_options is not None:
            environment.parsed_options.lab_run_dir = ""  # the next test from the web UI makes its own run dir
        _close_run(STATE.ctx, run, completed=STATE.completed)
        STATE.ctx = None
        try:
            files = write_report(run.path)
            log.warning("report: %s", files.markdown)
        except LabError as exc:
            log.error("no report for %s: %s", run.path, exc)


def _close_run(ctx: RunContext | None, run: RunDir, completed: bool) -> None:
    """The web UI's run: the run context sets its status (complete, or interrupted by Stop / Ctrl-C)."""
    if ctx is None:
        run.finish("complete" if completed else "interrupted")
        return
    if not completed:
        ctx.mark_interrupted()
    ctx.__exit__(None, None, None)


@events.quitting.add_listener
def _on_quitting(environment: Any = None, **_kwargs: Any) -> None:
    _on_test_stop(environment)
    labcloud.stop()


def _encode(image: bytes) -> bytes:
    return json.dumps({"image": base64.b64encode(image).decode("ascii")}).encode()


class DroppedSend(Exception):
    """A scheduled request that was not sent (shown in Locust's failure stats; recorded as "dropped")."""


class TransportError(Exception):
    """No HTTP response: connection refused or reset, timeout (shown in Locust's failure stats)."""


class InferenceUser(FastHttpUser):
    """The dispatcher: one per Locust process; each request runs in a greenlet of its own. Locust's FastHttpUser
    gives the host handling; the requests go through locustfiles.sender (a leaner client on the same library)."""

    concurrency = 64
    network_timeout = 60.0
    connection_timeout = 10.0

    def __init__(self, environment: Any) -> None:
        if STATE.url:
            self.host = STATE.url
        if STATE.plan is not None:
            self.concurrency = STATE.plan.per_process_cap(STATE.process_count)  # connection pool = cap
            self.network_timeout = STATE.plan.network_timeout_s
        super().__init__(environment)
        self._sender: Sender | None = None

    @task
    def drive(self) -> None:
        if STATE.dispatched or STATE.refused or STATE.plan is None or STATE.shape is None:
            raise StopUser()
        STATE.dispatched = True
        plan, offsets_s = STATE.plan, STATE.shape.arrival_offsets_s()
        mine_s = partition(offsets_s, STATE.slot, STATE.process_count)
        indexes = partition(np.arange(offsets_s.size), STATE.slot, STATE.process_count)
        pool = SenderPool(plan.per_process_cap(STATE.process_count))
        try:
            self._sender = sender = Sender(STATE.url, plan.predict_path, _payloads, REQUEST_ID_HEADER,
                                           self.connection_timeout, plan.network_timeout_s)  # fmt: skip
        except ValueError as exc:  # not an http(s) URL: nothing can be sent, the test ends (see the shape)
            STATE.refused = str(exc)
            log.error("load refused: %s", exc)
            raise StopUser() from None
        start_unix_s = STATE.start_unix_s or time.time()
        gc.freeze()  # what exists now (imports, the schedule) is never garbage: collections skip it from here on
        try:
            stats = run_schedule(mine_s, indexes, start_unix_s, pool, self._send, self._drop, plan.max_lag_s)
            pool.join(timeout=plan.network_timeout_s + 5)
        finally:
            pool.kill(block=True, timeout=5)
            sender.close()
            gc.unfreeze()  # the next test (web UI) freezes afresh
        log.info("dispatcher p%d/%d: %d sent, %d dropped (cap %d, late %d), max send lag %.3f s", STATE.slot,
                 STATE.process_count, stats.sent, stats.dropped, stats.dropped_cap, stats.dropped_late,
                 stats.max_send_lag_s)  # fmt: skip
        raise StopUser()

    def _drop(self, index: int, intended_unix_s: float, reason: str) -> None:
        STATE.write(unanswered_record(STATE.request_id(index), intended_unix_s, None, "dropped", reason,
                                      **STATE.identity))  # fmt: skip
        # one entry per cause in Locust's error table, not one per lateness figure (the record has the detail)
        cause = "not sent: the cap of requests in flight" if "(the cap)" in reason else "not sent: too late"
        self.environment.events.request.fire(request_type="POST", name="predict (dropped)", response_time=0.0,
                                             response_length=0, exception=DroppedSend(cause), context={})  # fmt: skip

    def _send(self, index: int, intended_unix_s: float) -> None:
        sender = self._sender
        assert sender is not None
        request_id = STATE.request_id(index)
        payload_index = index % len(_payloads)
        actual_unix_s = time.time()
        try:
            reply = sender.post(payload_index, request_id)
        except GreenletExit:
            message = "abandoned in flight: the load generator stopped before the answer came"
            STATE.write(unanswered_record(request_id, intended_unix_s, actual_unix_s, "interrupted", message,
                                          **STATE.identity))  # fmt: skip
            raise
        completion_unix_s = time.time()
        status = reply.status_code
        failure: Exception | None = None
        if reply.error:
            failure = TransportError(reply.error)
        elif not 200 <= status < 300:
            failure = CatchResponseError(f"HTTP {status}")
        self.environment.events.request.fire(request_type="POST", name="predict", context={}, exception=failure,
                                             response_time=(completion_unix_s - actual_unix_s) * 1000.0,
                                             response_length=len(reply.body), start_time=actual_unix_s)  # fmt: skip
        STATE.write_exchange(Exchange(request_id, intended_unix_s, actual_unix_s, completion_unix_s, status,
                                      reply.body, reply.headers, sender.payload_bytes[payload_index],
                                      reply.error))  # fmt: skip


class OpenModelShape(LoadTestShape):
    """One dispatcher user per process (the rate is in the schedule, not in the user count); the test ends
    when every dispatcher has finished, or at the latest STOP_GRACE_S past schedule + network timeout."""

    use_common_options = False
    _seen_users = False

    def tick(self) -> tuple[int, float] | None:
        bound_s = None
        if STATE.plan is not None and STATE.shape is not None:
            bound_s = STATE.shape.duration_s + DISTRIBUTED_LEAD_S + STATE.plan.network_timeout_s + STOP_GRACE_S
        started_unix_s = STATE.start_unix_s or time.time() - self.get_run_time()  # the common start, when known
        return dispatcher_tick(self, STATE, bound_s, started_unix_s, "the test")
