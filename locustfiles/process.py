"""Per-process state of a load test: the plan, this process's share of the schedule and its record writer.

One `ProcessState` lives in each Locust process (local runner, master or worker) and is reset at every
test start. Records go to `runs/<id>/records/locust-<target>-p<slot>of<count>-<host>-<pid>.csv`, one file
per process, buffered and flushed every FLUSH_INTERVAL_S (by a greenlet when idle) and on close: Ctrl-C and
SIGTERM go through Locust's stop, which closes the writer; a kill -9 loses what RecordWriter says.
Request ids are `<arrival index>-<12 hex chars drawn once per process and test>`: unique in a run and across
runs, at the cost of one format per request (not a uuid4 each).
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent

from labkit.records import SCHEMA_VERSION, RequestRecord
from labkit.recordwriter import RecordWriter
from labkit.rundir import MANIFEST, RunDir
from locustfiles.options import LabPlan
from locustfiles.recording import Exchange, exchange_to_record
from locustfiles.shapes import AnyShape

FLUSH_INTERVAL_S = 0.1  # records reach the file at least this often (RecordWriter.flush_interval_s)


@dataclass
class ProcessState:
    plan: LabPlan | None = None
    shape: AnyShape | None = None
    url: str = ""
    refused: str = ""  # why this test's plan was refused (then nothing is sent); cleared when the test stops
    last_refusal: str = ""  # the refusal of the test that just stopped (shown by the web UI until the next one)
    run: RunDir | None = None
    owns_run: bool = False  # made by the locustfile (web UI): it finishes the run and writes the report
    ctx: Any = None  # the run context of a run the locustfile made (labkit.runctx.RunContext)
    writer: RecordWriter | None = None
    identity: dict[str, str] = field(default_factory=dict)
    slot: int = 0
    process_count: int = 1
    start_unix_s: float = 0.0  # common schedule start (distributed), 0: when the dispatcher starts
    dispatched: bool = False  # one dispatcher per process per test: a second one exits at once
    completed: bool = False  # the shape ended because every dispatcher finished
    id_suffix: str = ""  # the second part of every request id of this process and test
    flusher: Any = None  # the greenlet flushing the writer while requests are few

    def open_writer(self, run: RunDir, target: str, scenario: str) -> None:
        producer = f"locust-{target}-p{self.slot}of{self.process_count}-{socket.gethostname()}-{os.getpid()}"
        self.start_writer(run, producer)
        self.id_suffix = uuid.uuid4().hex[:12]
        self.identity = {"run_id": run.run_id, "source": "locust", "scenario": scenario, "target": target,
                         "worker": producer}  # fmt: skip

    def start_writer(self, run: RunDir, producer: str) -> None:
        """This process's records file (`producer`.csv), flushed every FLUSH_INTERVAL_S: by its writes when they
        are due, and by a greenlet over a quiet spell. Closes the writer of an earlier test first."""
        self.close_writer()
        self.writer = writer = run.writer(producer)
        writer.flush_interval_s = FLUSH_INTERVAL_S
        self.flusher = gevent.spawn(_flush_every, writer, FLUSH_INTERVAL_S)

    def request_id(self, index: int) -> str:
        return f"{index:07d}-{self.id_suffix}"

    def write(self, record: RequestRecord) -> None:
        if self.writer is not None:
            self.writer.write(record)

    def write_exchange(self, exchange: Exchange) -> None:
        """Record one exchange. A response that cannot be turned into a record is itself recorded."""
        try:
            record = exchange_to_record(exchange, **self.identity)
        except (TypeError, ValueError) as exc:
            bare = exchange_to_record(dataclasses.replace(exchange, body=b"", headers={}), **self.identity)
            record = dataclasses.replace(bare, ok=False, error_kind="bad_response",
                                         error_message=f"unreadable response: {exc}")  # fmt: skip
        self.write(record)

    def close_writer(self) -> None:
        if self.flusher is not None:
            self.flusher.kill(block=False)
            self.flusher = None
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def reset(self) -> None:
        """Back to a fresh state (at each test start), closing the writer of the previous test."""
        self.close_writer()
        fresh = ProcessState()
        for item in dataclasses.fields(self):
            setattr(self, item.name, getattr(fresh, item.name))


def _flush_every(writer: RecordWriter, interval_s: float) -> None:
    """Flush `writer` every `interval_s` (writes flush it too when due; this covers a quiet spell)."""
    while not writer.closed:
        gevent.sleep(interval_s)
        writer.flush()


def worker_side_run(path: Path) -> RunDir:
    """The run dir at `path`, made here when missing (a worker on another machine than the master writes
    its records into a run dir of the same name; copy its records/ next to the master's afterwards)."""
    if (path / MANIFEST).is_file():
        return RunDir.open(path)
    (path / "records").mkdir(parents=True, exist_ok=True)
    (path / "logs").mkdir(exist_ok=True)
    manifest = {"run_id": path.name, "scenario": "load", "record_schema_version": SCHEMA_VERSION,
                "status": "worker-part", "started_unix_s": time.time(), "ended_unix_s": None,
                "note": f"records of workers on {socket.gethostname()}: merge into the master's run"}  # fmt: skip
    tmp = path / f"{MANIFEST}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if not (path / MANIFEST).exists():
        tmp.replace(path / MANIFEST)
    tmp.unlink(missing_ok=True)
    return RunDir(path)


def plan_of(lab: LabPlan, url: str) -> Any:
    """The experiments.plan.Plan of a test the web UI started: one http workload (written to plan.json, so
    the run dir holds the same typed plan as every other run)."""
    from experiments.plan import FUNCTION_TARGET, SERVER_TARGET, HttpWorkload, Plan, Safety, Shape, TraceSource

    spec = lab.spec
    target = {"local-faas": FUNCTION_TARGET, "local-server": SERVER_TARGET, "lambda": FUNCTION_TARGET,
              "ec2": SERVER_TARGET}.get(lab.target, url)  # fmt: skip
    trace = TraceSource(path=spec.trace_path or "traces/fifa98.csv", start=spec.trace_start, end=spec.trace_end,
                        process=spec.trace_process, seed=spec.seed)  # fmt: skip
    shape = Shape(kind=spec.name, peak_rps=spec.rate_rps, duration_s=spec.duration_s, step_count=spec.step_count,
                  base_rps=spec.base_rps, spike_at_s=spec.spike_at_s, spike_s=spec.spike_s, trace=trace)  # fmt: skip
    workload = HttpWorkload(name=lab.scenario, target=target, shape=shape, predict_path=lab.predict_path,
                            images=lab.images, max_inflight=lab.max_inflight, max_lag_s=lab.max_lag_s,
                            network_timeout_s=lab.network_timeout_s)  # fmt: skip
    safety = Safety(max_rate_rps=lab.max_rate_rps, max_duration_s=lab.max_duration_s, allow_remote=lab.yes_remote)
    return Plan(name=lab.scenario, target="local" if lab.target.startswith("local-") else "aws",
                description="started from the Locust web UI", workloads=[workload], safety=safety)  # fmt: skip


def plan_snapshot(plan: LabPlan, shape: AnyShape, url: str, process_count: int) -> dict[str, Any]:
    """What the manifest says about a load test the locustfile itself started (web UI)."""
    return {"load": {**dataclasses.asdict(plan), "shape": shape.metadata(), "url": url,
                     "processes": process_count, "arrivals": int(shape.arrival_offsets_s().size)}}  # fmt: skip
