"""Open-model inference load: requests are issued on a schedule of intended send times, not after replies.

Run (headless):
    locust -f locustfiles/inference.py --headless -u 1 -r 1 --host http://127.0.0.1:PORT \
        --lab-shape constant --lab-rate-rps 5 --lab-duration-s 20 --lab-run-dir runs/<id> --lab-target local-faas

One Locust user per process acts as the dispatcher: it sleeps until each intended send time and starts a
greenlet for the request (at most --lab-max-inflight at once; past that, sends are late and the lateness
is recorded). Every request becomes a record (labkit.records) whose latency counts from the intended time.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import gevent
from gevent.pool import Pool
from locust import FastHttpUser, events, task
from locust.exception import StopUser

from labkit.images import PayloadImage, image_set
from labkit.records import RecordWriter
from labkit.rundir import RunDir
from locustfiles.recording import Exchange, exchange_to_record
from locustfiles.shapes import make_shape

DEFAULT_RUNS_ROOT = "runs"


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("load lab (open model)")
    group.add_argument("--lab-shape", default="constant", help="rate shape: constant | ramp (0 -> rate)")
    group.add_argument("--lab-rate-rps", type=float, default=5.0, help="rate (constant) or peak (ramp), req/s")
    group.add_argument("--lab-duration-s", type=float, default=20.0, help="length of the schedule, seconds")
    group.add_argument("--lab-max-inflight", type=int, default=64, help="cap on requests in flight")
    group.add_argument("--lab-run-dir", default="", help="run dir to write records into (default: new one)")
    group.add_argument("--lab-target", default="custom", help="target name recorded in each record")
    group.add_argument("--lab-scenario", default="load", help="scenario name recorded in each record")
    group.add_argument("--lab-images", default="", help="folder of JPEG/PNG files (default: generated)")
    group.add_argument("--lab-predict-path", default="/predict", help="path of the predict endpoint")


class _Recorder:
    """The per-process record writer, opened at test start and closed at stop (flushes every row)."""

    writer: RecordWriter | None = None
    run_id: str = ""

    def write(self, exchange: Exchange, opts: Any) -> None:
        """Record one exchange. A response that cannot be turned into a record is itself recorded."""
        if self.writer is None:
            return
        identity = {"run_id": self.run_id, "source": "locust", "scenario": opts.lab_scenario,
                    "target": opts.lab_target, "worker": f"{socket.gethostname()}-{os.getpid()}"}  # fmt: skip
        try:
            record = exchange_to_record(exchange, **identity)
        except (TypeError, ValueError) as exc:
            bare = exchange_to_record(dataclasses.replace(exchange, body=b"", headers={}), **identity)
            message = f"unreadable response: {exc}"
            record = dataclasses.replace(bare, ok=False, error_kind="bad_response", error_message=message)
        self.writer.write(record)


_recorder = _Recorder()


@events.test_start.add_listener
def _open_records(environment: Any, **_kwargs: Any) -> None:
    opts = environment.parsed_options
    run = RunDir.open(Path(opts.lab_run_dir)) if opts.lab_run_dir else None
    if run is None:
        run = RunDir.create(Path(DEFAULT_RUNS_ROOT), opts.lab_scenario)
        opts.lab_run_dir = str(run.path)
    producer = f"locust-{socket.gethostname()}-{os.getpid()}"
    _recorder.writer = run.writer(producer)
    _recorder.run_id = run.run_id


@events.test_stop.add_listener
@events.quitting.add_listener
def _close_records(**_kwargs: Any) -> None:
    if _recorder.writer is not None:
        _recorder.writer.close()


def _encode_payloads(images: list[PayloadImage]) -> list[bytes]:
    return [json.dumps({"image": base64.b64encode(img.data).decode("ascii")}).encode() for img in images]


class InferenceUser(FastHttpUser):
    """The dispatcher: one per Locust process; requests run in their own greenlets."""

    concurrency = 64
    network_timeout = 60.0
    connection_timeout = 10.0

    @task
    def drive(self) -> None:
        opts = self.environment.parsed_options
        shape = make_shape(opts.lab_shape, opts.lab_rate_rps, opts.lab_duration_s)
        payloads = _encode_payloads(image_set(opts.lab_images or None))
        pool = Pool(size=max(1, opts.lab_max_inflight))
        start_mono, start_unix = time.monotonic(), time.time()
        for index, offset_s in enumerate(shape.arrival_offsets_s()):
            gevent.sleep(max(0.0, start_mono + offset_s - time.monotonic()))
            pool.wait_available()
            payload = payloads[index % len(payloads)]
            pool.spawn(self._send, start_unix + float(offset_s), payload)
        pool.join(timeout=self.network_timeout + 5)
        if opts.headless and self.environment.runner is not None:
            gevent.spawn_later(0.1, self.environment.runner.quit)
        raise StopUser()

    def _send(self, intended_unix_s: float, payload: bytes) -> None:
        opts = self.environment.parsed_options
        request_id = uuid.uuid4().hex
        actual_unix_s = time.time()
        headers = {"Content-Type": "application/json", "x-loadlab-client-request-id": request_id}
        with self.client.post(
            opts.lab_predict_path, data=payload, headers=headers, name="predict", catch_response=True
        ) as response:
            completion_unix_s = time.time()
            status = int(response.status_code or 0)
            if not 200 <= status < 300:
                response.failure(f"HTTP {status}")
            exchange = Exchange(
                request_id=request_id,
                intended_send_unix_s=intended_unix_s,
                actual_send_unix_s=actual_unix_s,
                completion_unix_s=completion_unix_s,
                status_code=status,
                body=response.content or b"",
                # items(), not dict(): geventhttpclient's Headers maps a name to (name, value) pairs
                headers=dict(response.headers.items()) if response.headers else {},
                request_bytes=len(payload),
                transport_error=str(response.error) if status == 0 and response.error else "",
            )
        _recorder.write(exchange, opts)
