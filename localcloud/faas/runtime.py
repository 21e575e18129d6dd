"""The execution-environment process: `python -m localcloud.faas.runtime --request-fd N --reply-fd M`.

Like Lambda's Python runtime it imports the handler named by `_HANDLER` (module init runs here,
e.g. loading a model: this is the cold start), reports readiness, then serves one invocation at a
time: read an event frame, call `handler(event, context)`, reply with the JSON result or Lambda's
error JSON, the duration and the peak RSS. The function's stdout/stderr are the log stream (the
platform points them at the stream file). The process exits when the platform closes the request
pipe or when its parent process disappears (no orphans even if the platform is SIGKILLed).
Stdlib only, to keep cold starts honest.

Init timing: the ready frame carries `import_ms` (the handler module's import, incl. its module
init) and `import_start_monotonic_s` (CLOCK_MONOTONIC, comparable across processes on one host:
a caller who noted the spawn time gets process start + interpreter + runtime bootstrap from it).
With `LOCALCLOUD_INIT_TIMING=1` the log stream also gets an `INIT_TIMING begin` line just before
the handler import and an `INIT_TIMING {json}` line with those figures after the ready frame (off by
default, so the stream is unchanged). bench/bench_cold_start.py uses them.

Memory: the platform enforces the memory size from outside (localcloud.faas.memory). As a kernel
backstop the runtime sets RLIMIT_DATA on itself to `LOCALCLOUD_RLIMIT_DATA_MB` before importing the
handler; an allocation refused by it (MemoryError, ONNX Runtime's std::bad_alloc) that reaches the
runtime is reported as out of memory (`out_of_memory` in the reply, `Runtime.OutOfMemory` at init).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import resource
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from localcloud.faas.protocol import PeerClosed, read_frame, write_frame

_PARENT_POLL_S = 0.5
Handler = Callable[[Any, Any], Any]


class LambdaContext:
    """The context object Lambda passes to Python handlers (the commonly used attributes)."""

    def __init__(self, request_id: str, deadline_unix_ms: float, function_arn: str) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.invoked_function_arn = function_arn
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_unix_ms = deadline_unix_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the platform times the invocation out."""
        return max(0, int(self._deadline_unix_ms - time.time() * 1000.0))


class InitFailure(Exception):
    """The handler could not be loaded; carries Lambda's error type."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def load_handler(handler: str) -> Handler:
    """Import `module.function` as Lambda does (module init runs now); InitFailure names the problem."""
    module_name, _, function_name = handler.rpartition(".")
    if not module_name:
        raise InitFailure("Runtime.MalformedHandlerName", f"Bad handler '{handler}': no module name")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InitFailure("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from exc
    except SyntaxError as exc:
        raise InitFailure("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}") from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise InitFailure("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return function


def error_body(exc: BaseException, request_id: str) -> bytes:
    """Lambda's error JSON for an unhandled exception (also logged as `[ERROR] Type: message`)."""
    frames = _user_frames(exc)
    error_type = getattr(exc, "error_type", type(exc).__name__)
    print(f"[ERROR] {error_type}: {exc}\nTraceback (most recent call last):\n{''.join(frames)}", file=sys.stderr)
    return json.dumps(
        {"errorMessage": str(exc), "errorType": error_type, "requestId": request_id, "stackTrace": frames}
    ).encode()


def apply_memory_backstop(env: Mapping[str, str]) -> int | None:
    """Set RLIMIT_DATA to LOCALCLOUD_RLIMIT_DATA_MB (unset or 0: none); the limit in bytes or None."""
    limit_mb = int(env.get("LOCALCLOUD_RLIMIT_DATA_MB") or 0)
    if limit_mb <= 0:
        return None
    limit = limit_mb << 20
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    return limit


def is_out_of_memory(exc: BaseException | None) -> bool:
    """True when the exception (or one it was raised from) is an allocation failure."""
    seen = 0
    while exc is not None and seen < 16:
        if isinstance(exc, MemoryError) or "bad_alloc" in str(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def max_memory_used_mb() -> int:
    """Peak RSS of this process in MB, rounded up: VmHWM from /proc (Linux).

    Not ru_maxrss: Linux carries it across fork+exec, so it would report the platform's own size.
    Falls back to ru_maxrss (KB on Linux) where /proc is unavailable.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return math.ceil(int(line.split()[1]) / 1024.0)
    except OSError:
        pass  # no procfs: use getrusage below
    return math.ceil(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)


def _user_frames(exc: BaseException) -> list[str]:
    """The traceback without the runtime's and importlib's own frames (as Lambda shows it)."""
    own_dir = os.path.dirname(os.path.abspath(__file__))
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if os.path.dirname(os.path.abspath(frame.filename)) != own_dir and "importlib" not in frame.filename
    ]
    return traceback.format_list(frames)


def run_one(function: Handler, meta: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
    """Call the handler once; the reply metadata and body (result JSON or error JSON)."""
    request_id = str(meta["request_id"])
    context = LambdaContext(request_id, float(meta["deadline_unix_ms"]), str(meta["function_arn"]))
    started = time.perf_counter()
    ok = True
    try:
        event = json.loads(body) if body.strip() else {}
        result = function(event, context)
        try:
            payload = json.dumps(result).encode()
        except (TypeError, ValueError) as exc:
            failure = InitFailure("Runtime.MarshalError", f"Unable to marshal response: {exc}")
            raise failure from exc
    except Exception as exc:  # the handler's exception is data: Lambda's error JSON, env stays warm
        ok = False
        payload = error_body(exc, request_id)
        out_of_memory = is_out_of_memory(exc)
    else:
        out_of_memory = False
    duration_ms = (time.perf_counter() - started) * 1000.0
    sys.stdout.flush()
    sys.stderr.flush()
    reply = {"type": "result", "ok": ok, "duration_ms": duration_ms, "max_memory_used_mb": max_memory_used_mb()}
    if out_of_memory:
        reply["out_of_memory"] = True
    return reply, payload


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)  # the platform is gone: an environment never outlives it
        time.sleep(_PARENT_POLL_S)


def _log_line(text: str) -> None:
    """One line to the log stream in a single write (the platform appends its lines concurrently)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def serve(request_fd: int, reply_fd: int) -> int:
    """Load the handler, report readiness, then serve invocations until the request pipe closes."""
    log_timing = os.environ.get("LOCALCLOUD_INIT_TIMING") == "1"
    if log_timing:  # opt-in marker: the handler import starts after this line in the log stream
        _log_line("INIT_TIMING begin")
    started = time.perf_counter()
    started_monotonic_s = time.monotonic()
    try:
        function = load_handler(os.environ["_HANDLER"])
    except Exception as exc:  # init failures are reported to the platform, which fails the invoke
        error_type = "Runtime.OutOfMemory" if is_out_of_memory(exc) else getattr(exc, "error_type", "Runtime.Unknown")
        write_frame(reply_fd, {"type": "init_error", "error_type": error_type}, error_body(exc, ""))
        return 1
    ready = {
        "type": "ready",
        "import_ms": (time.perf_counter() - started) * 1000.0,
        "import_start_monotonic_s": started_monotonic_s,
        "max_memory_used_mb": max_memory_used_mb(),
    }
    write_frame(reply_fd, ready)
    if log_timing:  # after the ready frame, so outside the init the platform times
        timing = {key: ready[key] for key in ("import_ms", "import_start_monotonic_s")}
        _log_line("INIT_TIMING " + json.dumps(timing))
    while True:
        try:
            meta, body = read_frame(request_fd)
        except PeerClosed:
            return 0
        reply, payload = run_one(function, meta, body)
        try:
            write_frame(reply_fd, reply, payload)
        except PeerClosed:
            return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcloud.faas.runtime", description=__doc__)
    parser.add_argument("--request-fd", type=int, required=True)
    parser.add_argument("--reply-fd", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    args = parser.parse_args(argv)
    threading.Thread(target=_watch_parent, args=(args.parent_pid,), daemon=True).start()
    apply_memory_backstop(os.environ)
    return serve(args.request_fd, args.reply_fd)


if __name__ == "__main__":
    sys.exit(main())
