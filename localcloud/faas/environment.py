"""The platform's handle on one execution environment (one OS process running localcloud.faas.runtime).

`start()` is the cold start: spawn the process in its own session, let it import the handler, and
wait (at most `init_timeout_s`) for its ready frame; the init duration is measured from spawn to
ready (runtime bootstrap plus the handler module's init, as Lambda's Init Duration). `invoke()`
sends one event and waits at most `timeout_s` for the reply, writing Lambda's START/END/REPORT
lines around it. A timeout, a crash or a failed init leaves the environment dead (`healthy` False);
the pool discards it. The memory size is a real ceiling: a `MemoryWatch` samples the process tree
during init and every invocation, and an environment over its memory size is killed and reported
as Lambda does (errorType `Runtime.OutOfMemory`, REPORT `Max Memory Used` = `Memory Size`).
Only one caller uses an environment at a time (the pool guarantees it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.reportlog import billed_duration_ms, format_report_line
from localcloud.faas.cpushare import CpuQuota, cpu_share
from localcloud.faas.cpushare import available as quota_available
from localcloud.faas.logs import AggregateLog, StreamLog, iso_now
from localcloud.faas.memory import MemoryWatch, peak_rss_mb, rlimit_data_mb
from localcloud.faas.protocol import FrameTimeout, PeerClosed, read_frame, write_frame
from localcloud.faas.spec import REGION, VERSION, FunctionSpec

_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_KILL_WAIT_S = 5.0
OUT_OF_MEMORY = "Runtime.OutOfMemory"
_OOM_ERROR = "Runtime exited with error: signal: killed"
_SIGNAL_WORDS = {
    "SIGKILL": "killed",
    "SIGSEGV": "segmentation fault",
    "SIGABRT": "aborted",
    "SIGTERM": "terminated",
    "SIGBUS": "bus error",
}


@dataclass(slots=True)
class Outcome:
    """What one invocation on one environment produced (kind: ok|error|timeout|crash|init_error)."""

    kind: str
    payload: bytes
    duration_ms: float
    max_memory_used_mb: int
    init_ms: float | None
    log_tail: bytes = b""
    error_type: str | None = None

    @property
    def function_error(self) -> str | None:
        """Lambda's X-Amz-Function-Error value ("Unhandled") or None on success."""
        return None if self.kind == "ok" else "Unhandled"


def exit_description(returncode: int | None) -> str:
    """Lambda's wording for a runtime exit: `signal: killed`, `exit status 3`."""
    if returncode is None:
        return "signal: killed"
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return "signal: " + _SIGNAL_WORDS.get(name, name.lower().removeprefix("sig"))
    return f"exit status {returncode}"


def _error_payload(request_id: str, error: str, error_type: str) -> bytes:
    return json.dumps({"errorMessage": f"RequestId: {request_id} Error: {error}", "errorType": error_type}).encode()


class Environment:
    """One execution environment: process, pipes, log stream and counters."""

    def __init__(self, spec: FunctionSpec, log_dir: Path, aggregate: AggregateLog) -> None:
        self.spec = spec
        self.instance_id = uuid.uuid4().hex
        self.log = StreamLog(log_dir, spec.name, self.instance_id, aggregate)
        self.popen: subprocess.Popen[bytes] | None = None
        self.healthy = False
        self.invocations = 0
        self.last_used_s = time.monotonic()
        self._request_w = -1
        self._reply_r = -1
        self._pending_init_ms: float | None = None
        self._init_failure: tuple[str, str] | None = None  # (error type, message)
        self._max_memory_mb = 0
        self._signalled = False

    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    def child_env(self) -> dict[str, str]:
        """The process environment: the platform's own, Lambda's variables, then the spec's."""
        spec = self.spec
        extra_path = [str(p) for p in spec.python_path] + [str(_PROJECT_ROOT)]
        inherited = os.environ.get("PYTHONPATH")
        threads = str(spec.cpu_threads)
        env = dict(os.environ)
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": VERSION,
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group_name,
                "AWS_LAMBDA_LOG_STREAM_NAME": self.log.stream_name,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "LAMBDA_TASK_ROOT": str(spec.python_path[0]) if spec.python_path else os.getcwd(),
                "_HANDLER": spec.handler,
                "ORT_THREADS": threads,
                "OMP_NUM_THREADS": threads,
                "LOCALCLOUD_RLIMIT_DATA_MB": str(rlimit_data_mb(spec.memory_mb)),
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(extra_path + ([inherited] if inherited else [])),
            }
        )
        env.update(spec.environment)
        return env

    def start(self) -> None:
        """Cold start: spawn and wait for readiness; a failure is kept and reported by the next invoke."""
        request_r, self._request_w = os.pipe()
        self._reply_r, reply_w = os.pipe()
        env = self.child_env()
        started_s = time.monotonic()
        try:
            self.popen = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "localcloud.faas.runtime",
                    "--request-fd",
                    str(request_r),
                    "--reply-fd",
                    str(reply_w),
                    "--parent-pid",
                    str(os.getpid()),
                ],
                stdin=subprocess.DEVNULL,
                stdout=self.log.file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=env["LAMBDA_TASK_ROOT"],
                pass_fds=(request_r, reply_w),
                start_new_session=True,
            )
        except OSError as exc:
            self._init_failure = ("Runtime.ExitError", f"could not start the runtime: {exc}")
            return
        finally:
            os.close(request_r)
            os.close(reply_w)
        os.set_blocking(self._request_w, False)
        watch = self._watch()
        try:
            self._await_ready(started_s)
        finally:
            watch.stop()
        self._max_memory_mb = max(self._max_memory_mb, watch.peak_mb)
        if watch.exceeded or (self._init_failure or ("",))[0] == OUT_OF_MEMORY:
            self._init_failure = (OUT_OF_MEMORY, _OOM_ERROR)
            self._max_memory_mb = self.spec.memory_mb
            self.kill()

    def _watch(self) -> MemoryWatch:
        """A started memory watch on this environment's process (it kills the process past the limit)."""
        assert self.popen is not None
        share = cpu_share(self.spec.memory_mb)
        quota = CpuQuota(self.popen.pid, share) if self.spec.cpu_quota and share < 1 and quota_available() else None
        return MemoryWatch(self.popen.pid, self.spec.memory_mb, self.terminate, cpu_quota=quota).start()

    def _await_ready(self, started_s: float) -> None:
        try:
            meta, body = read_frame(self._reply_r, started_s + self.spec.init_timeout_s)
        except FrameTimeout:
            self._init_failure = ("Sandbox.Timedout", f"Init timed out after {self.spec.init_timeout_s:.2f} seconds")
        except PeerClosed:
            self._init_failure = ("Runtime.ExitError", f"Runtime exited with error: {exit_description(self._reap())}")
        else:
            if meta.get("type") == "ready":
                self.healthy = not self._signalled  # the memory watch may have killed it meanwhile
                self._max_memory_mb = int(meta.get("max_memory_used_mb", 0))
            else:
                error = json.loads(body) if body else {}
                self._init_failure = (str(meta.get("error_type")), str(error.get("errorMessage", "init failed")))
        self._pending_init_ms = (time.monotonic() - started_s) * 1000.0
        if self._init_failure is not None:
            self.kill()

    def invoke(self, request_id: str, payload: bytes) -> Outcome:
        """Run one invocation (at most spec.timeout_s), logging START/END/REPORT around it."""
        offset = self.log.offset()
        self.log.platform_lines([f"START RequestId: {request_id} Version: {VERSION}"])
        self.invocations += 1
        if self._init_failure is not None:
            return self._finish(request_id, offset, self._init_outcome(request_id))
        timeout_s = self.spec.timeout_s
        meta = {
            "type": "invoke",
            "request_id": request_id,
            "function_arn": self.spec.arn,
            "deadline_unix_ms": (time.time() + timeout_s) * 1000.0,
        }
        watch = self._watch()
        try:
            outcome = self._exchange(request_id, meta, payload, watch)
        finally:
            watch.stop()
        if watch.exceeded and outcome.error_type != OUT_OF_MEMORY:  # over the limit after its reply
            outcome = self._out_of_memory(request_id, outcome.duration_ms)
        self.last_used_s = time.monotonic()
        return self._finish(request_id, offset, outcome)

    def _exchange(self, request_id: str, meta: dict[str, Any], payload: bytes, watch: MemoryWatch) -> Outcome:
        """Send the event, wait for the reply (at most spec.timeout_s): the outcome, OOM included."""
        started_s = time.monotonic()
        deadline_s = started_s + self.spec.timeout_s
        try:
            write_frame(self._request_w, meta, payload, deadline_s)
            reply, body = read_frame(self._reply_r, deadline_s)
        except FrameTimeout:
            watch.stop()  # before the kill: a late sample must not look at a reaped (reusable) pid
            if watch.exceeded:
                return self._out_of_memory(request_id, (time.monotonic() - started_s) * 1000.0)
            return self._timed_out(request_id, (time.monotonic() - started_s) * 1000.0)
        except PeerClosed:
            watch.stop()
            duration_ms = (time.monotonic() - started_s) * 1000.0
            if watch.exceeded:
                return self._out_of_memory(request_id, duration_ms)
            return self._crashed(request_id, duration_ms)
        watch.stop()
        if watch.exceeded or reply.get("out_of_memory"):  # past the ceiling, or an allocation failed
            return self._out_of_memory(request_id, float(reply["duration_ms"]))
        self._max_memory_mb = max(self._max_memory_mb, int(reply["max_memory_used_mb"]), watch.peak_mb)
        kind = "ok" if reply["ok"] else "error"
        error_type = None if reply["ok"] else str(json.loads(body).get("errorType"))
        return Outcome(kind, body, float(reply["duration_ms"]), self._max_memory_mb, None, error_type=error_type)

    def _init_outcome(self, request_id: str) -> Outcome:
        error_type, message = self._init_failure or ("Runtime.Unknown", "init failed")
        if error_type in ("Sandbox.Timedout", "Runtime.ExitError", OUT_OF_MEMORY):
            payload = _error_payload(request_id, message, error_type)
        else:
            payload = json.dumps(
                {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": []}
            ).encode()
        return Outcome("init_error", payload, 0.0, self._max_memory_mb, None, error_type=error_type)

    def _timed_out(self, request_id: str, duration_ms: float) -> Outcome:
        peak_mb = peak_rss_mb(self.popen.pid) if self.popen else None
        self.kill()
        message = f"Task timed out after {self.spec.timeout_s:.2f} seconds"
        self.log.platform_lines([f"{iso_now()} {request_id} {message}"])
        return Outcome(
            "timeout",
            _error_payload(request_id, message, "Sandbox.Timedout"),
            duration_ms,
            peak_mb or self._max_memory_mb,
            None,
            error_type="Sandbox.Timedout",
        )

    def _out_of_memory(self, request_id: str, duration_ms: float) -> Outcome:
        """Killed past its memory size: Lambda's Runtime.OutOfMemory, Max Memory Used = Memory Size."""
        self.kill()
        self._max_memory_mb = self.spec.memory_mb
        self.log.platform_lines([f"RequestId: {request_id} Error: {_OOM_ERROR}", OUT_OF_MEMORY])
        return Outcome(
            "crash",
            _error_payload(request_id, _OOM_ERROR, OUT_OF_MEMORY),
            duration_ms,
            self.spec.memory_mb,
            None,
            error_type=OUT_OF_MEMORY,
        )

    def _crashed(self, request_id: str, duration_ms: float) -> Outcome:
        error = f"Runtime exited with error: {exit_description(self._reap())}"
        self.kill()
        self.log.platform_lines([f"RequestId: {request_id} Error: {error}", "Runtime.ExitError"])
        return Outcome(
            "crash",
            _error_payload(request_id, error, "Runtime.ExitError"),
            duration_ms,
            self._max_memory_mb,
            None,
            error_type="Runtime.ExitError",
        )

    def _finish(self, request_id: str, offset: int, outcome: Outcome) -> Outcome:
        outcome.init_ms, self._pending_init_ms = self._pending_init_ms, None
        status = {"timeout": "timeout", "crash": "error", "init_error": "error"}.get(outcome.kind)
        report = format_report_line(
            request_id,
            outcome.duration_ms,
            self.spec.memory_mb,
            outcome.max_memory_used_mb,
            outcome.init_ms,
            status,
            outcome.error_type if status == "error" else None,
        )
        self.log.platform_lines([f"END RequestId: {request_id}", report])
        outcome.log_tail = self.log.tail_since(offset)
        return outcome

    def _reap(self) -> int | None:
        """Wait briefly for the process to finish dying; its return code (None if still alive)."""
        if self.popen is None:
            return None
        try:
            return self.popen.wait(timeout=_KILL_WAIT_S)
        except subprocess.TimeoutExpired:
            return None

    def terminate(self) -> None:
        """SIGKILL the environment's process group (thread-safe; the owner still calls kill())."""
        self.healthy = False
        if self.popen is None or self._signalled:
            return
        self._signalled = True
        with contextlib.suppress(ProcessLookupError):  # the group is already gone: nothing to kill
            os.killpg(self.popen.pid, signal.SIGKILL)

    def kill(self) -> None:
        """Kill the process group, reap it and release the pipes (idempotent; by the owning thread)."""
        self.terminate()
        self._reap()
        for fd in (self._request_w, self._reply_r):
            if fd >= 0:
                os.close(fd)
        self._request_w = self._reply_r = -1

    def close(self) -> None:
        """Kill the process and close the log stream."""
        self.kill()
        self.log.close()


def billed_ms(outcome: Outcome) -> int:
    """Billed duration of an outcome (duration rounded up to 1 ms)."""
    return billed_duration_ms(outcome.duration_ms)
