"""Sending inference requests to a deployed HTTP endpoint (API Gateway or the EC2 server) and recording them.

One request -> one `RequestRecord` (built by locustfiles.recording, the same as Locust's), with the
function's fields from the response body (cold_start, init_ms, function_request_id, memory_mb...).
`burst` sends N requests at the same instant (threads released by a barrier).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from labkit.records import RequestRecord
from locustfiles.recording import Exchange, exchange_to_record

READ_TIMEOUT_S = 60.0


def predict_payload(image: bytes) -> bytes:
    return json.dumps({"image": base64.b64encode(image).decode("ascii")}).encode()


@dataclass(frozen=True)
class Identity:
    run_id: str
    scenario: str
    target: str = "lambda"
    source: str = "awslab"
    worker: str = "awslab"

    def fields(self, scenario: str | None = None) -> dict[str, str]:
        return {
            "run_id": self.run_id,
            "source": self.source,
            "scenario": scenario or self.scenario,
            "target": self.target,
            "worker": self.worker,
        }


def post(url: str, payload: bytes, timeout_s: float = READ_TIMEOUT_S) -> tuple[int, bytes, dict[str, str], str]:
    """(status, body, headers, transport error) of one POST; never raises for HTTP or network failures."""
    request = urllib.request.Request(url, data=payload, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status), response.read(), dict(response.headers.items()), ""
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read() or b"", dict(exc.headers.items()) if exc.headers else {}, ""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return 0, b"", {}, f"{type(reason).__name__}: {reason}"


def send_one(url: str, payload: bytes, identity: dict[str, str], intended_unix_s: float | None = None) -> RequestRecord:
    """POST `payload` to `url` and record it (latency from `intended_unix_s`, default: now)."""
    request_id = f"aws-{uuid.uuid4().hex[:16]}"
    actual_unix_s = time.time()
    status, body, headers, transport_error = post(url, payload)
    exchange = Exchange(
        request_id=request_id,
        intended_send_unix_s=intended_unix_s if intended_unix_s is not None else actual_unix_s,
        actual_send_unix_s=actual_unix_s,
        completion_unix_s=time.time(),
        status_code=status,
        body=body,
        headers=headers,
        request_bytes=len(payload),
        transport_error=transport_error,
    )
    return exchange_to_record(exchange, **identity)


Sender = Callable[[dict[str, str], float | None], RequestRecord]


def http_sender(url: str, payload: bytes) -> Sender:
    """A sender bound to one endpoint and payload: sender(identity, intended_unix_s) -> record."""

    def send(identity: dict[str, str], intended_unix_s: float | None = None) -> RequestRecord:
        return send_one(url, payload, identity, intended_unix_s)

    return send


def burst(
    sender: Sender, count: int, identity: dict[str, str], timeout_s: float = 2 * READ_TIMEOUT_S
) -> list[RequestRecord]:
    """`count` requests released at the same instant; their intended send time is that instant."""
    start: dict[str, float] = {}
    # the action runs once, when the last thread arrives and before any is released
    barrier = threading.Barrier(count, action=lambda: start.__setitem__("unix_s", time.time()))

    def one(_index: int) -> RequestRecord:
        barrier.wait(timeout=30.0)
        return sender(identity, start["unix_s"])

    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="burst") as pool:
        futures = [pool.submit(one, i) for i in range(count)]
        return [f.result(timeout=timeout_s) for f in futures]
