"""Small handler modules for the function-platform tests (stand-ins for the real inference handlers).

Each handler reads what to do from its event, so one module serves every test:
`sleep` sleeps `sleep_ms`; `crash` exits the process; `hang` sleeps forever; `boom` raises;
`echo` returns the event (API Gateway proxy response shape when `as_proxy` is set); `hog` allocates
memory (past the memory size, for the memory ceiling); `context`
returns the context object's fields and the Lambda environment variables. Importing this module
sleeps `FIXTURE_INIT_MS` (default 0) to simulate a model load and keeps `FIXTURE_INIT_MB` MB (default 0).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from typing import Any

_INIT_MS = float(os.environ.get("FIXTURE_INIT_MS", "0"))
time.sleep(_INIT_MS / 1000.0)
_INIT_BALLAST = b"x" * (int(os.environ.get("FIXTURE_INIT_MB", "0")) << 20)  # memory held from init on
INIT_DONE_UNIX_S = time.time()


def sleep(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sleep `sleep_ms` from the event, print a line, return the pid and the slept time."""
    sleep_ms = float(event.get("sleep_ms", 0))
    print(f"sleeping {sleep_ms} ms in {context.aws_request_id}")
    time.sleep(sleep_ms / 1000.0)
    return {"pid": os.getpid(), "slept_ms": sleep_ms, "request_id": context.aws_request_id}


def crash(event: dict[str, Any], context: Any) -> None:
    """Exit the environment process abruptly (exit status from the event)."""
    print("about to crash", flush=True)
    os._exit(int(event.get("status", 3)))


def hang(event: dict[str, Any], context: Any) -> None:
    """Never return (until the platform kills the environment)."""
    while True:
        time.sleep(1.0)


class FixtureError(Exception):
    """The error `boom` raises."""


def boom(event: dict[str, Any], context: Any) -> None:
    """Raise an exception (the environment must stay warm)."""
    print("going boom", file=sys.stderr)
    raise FixtureError(event.get("message", "boom"))


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Return the event; as an API Gateway proxy response when the request asks for it."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    mode = headers.get("x-fixture-mode", "")
    if mode == "binary":
        return {
            "statusCode": 201,
            "headers": {"content-type": "application/octet-stream"},
            "body": base64.b64encode(b"\x00\x01binary").decode(),
            "isBase64Encoded": True,
        }
    if mode == "raw":
        return {"hello": "world"}  # HTTP API v2 infers a 200 JSON response from this
    if mode == "broken":
        return {"statusCode": "not-a-number"}
    if mode == "sleep":
        time.sleep(float(headers.get("x-sleep-ms", "0")) / 1000.0)
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-echo": "yes"},
        "body": json.dumps({"event": event, "pid": os.getpid()}),
    }


def context(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The context's fields and the Lambda environment variables, as seen by the handler."""
    names = (
        "aws_request_id",
        "function_name",
        "function_version",
        "memory_limit_in_mb",
        "invoked_function_arn",
        "log_group_name",
        "log_stream_name",
    )
    fields = {name: getattr(context, name) for name in names}
    fields["remaining_ms"] = context.get_remaining_time_in_millis()
    env_names = (
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_REGION",
        "_HANDLER",
        "ORT_THREADS",
        "FIXTURE_FLAVOUR",
    )
    return {
        "context": fields,
        "env": {name: os.environ.get(name) for name in env_names},
        "init_done_unix_s": INIT_DONE_UNIX_S,
    }


def unserializable(event: dict[str, Any], context: Any) -> object:
    """Return something json cannot encode (Runtime.MarshalError)."""
    return {"value": object()}


def big(event: dict[str, Any], context: Any) -> str:
    """Return a string of `size` bytes (response-size limit)."""
    return "x" * int(event.get("size", 10))


def hog(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Allocate (and touch) `chunk_mb` MB every `pause_ms` up to `total_mb`, keeping it all; with
    `at_once` one allocation of `total_mb`. Prints `OVER_LIMIT <monotonic s>` when its own RSS first
    passes the function's memory size (for measuring how fast the platform reacts)."""
    limit_bytes = int(context.memory_limit_in_mb) << 20
    if event.get("child_mb"):  # a child process holds the memory: the environment's tree counts
        code = f"import time; kept = b'x' * ({int(event['child_mb'])} << 20); time.sleep(30)"
        subprocess.run([sys.executable, "-c", code], check=False)
        return {"allocated_mb": 0}
    if event.get("at_once"):
        kept = [b"x" * (int(event["total_mb"]) << 20)]
        return {"allocated_mb": len(kept[0]) >> 20}
    chunk = int(event.get("chunk_mb", 8)) << 20
    kept, over = [], False
    while len(kept) * chunk < int(event.get("total_mb", 512)) << 20:
        kept.append(b"x" * chunk)
        if not over and _rss_bytes() > limit_bytes:
            over = True
            print(f"OVER_LIMIT {time.monotonic():.6f}", flush=True)
        time.sleep(float(event.get("pause_ms", 1)) / 1000.0)
    return {"allocated_mb": len(kept) * chunk >> 20}


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def spin(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Burn `cpu_ms` of this process's CPU time; say how much CPU and wall time that took."""
    cpu_start, wall_start = time.process_time(), time.monotonic()
    while (time.process_time() - cpu_start) * 1000.0 < float(event.get("cpu_ms", 300)):
        pass
    return {"cpu_ms": (time.process_time() - cpu_start) * 1000.0, "wall_ms": (time.monotonic() - wall_start) * 1000.0}
