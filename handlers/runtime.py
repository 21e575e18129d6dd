"""Per-process runtime state of an adapter (one `ProcessRuntime` object per adapter module).

- instance_id: a uuid per process (re-drawn after a fork, so gunicorn --preload workers differ);
- init_ms: from the start of the adapter's import (the `handlers` package import) to model loaded;
- cold_start: True only for the first invocation in the process;
- max_memory_used_mb: the process's peak RSS;
- `log_invocation`: one structured JSON line per invocation on stdout (Lambda captures stdout).
  The platform's REPORT line is not written here.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import sys
import threading
import time
import uuid
from typing import Any, TextIO

import handlers

_RUNTIME_IMPORT_S = time.perf_counter()  # fallback origin if `handlers` was imported as a namespace
_import_clock_claimed = False
_claim_lock = threading.Lock()


def _claim_import_start_s() -> float:
    """The package import time for the first runtime in the process, `now` for any later one
    (a re-imported adapter module, as tests do, starts its own init clock)."""
    global _import_clock_claimed  # noqa: PLW0603 - a once-per-process flag
    with _claim_lock:
        if _import_clock_claimed:
            return time.perf_counter()
        _import_clock_claimed = True
        return float(getattr(handlers, "IMPORT_START_S", _RUNTIME_IMPORT_S))


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    divisor = 2**20 if sys.platform == "darwin" else 2**10
    return round(peak / divisor, 1)


class ProcessRuntime:
    """Init timing, cold-start flag, instance id and structured logging for one process."""

    def __init__(self, platform: str, init_start_s: float | None = None, stream: TextIO | None = None):
        self.platform = platform  # "lambda" | "server"
        self.init_start_s = _claim_import_start_s() if init_start_s is None else init_start_s
        self.init_end_s: float | None = None
        self._stream = stream
        self._pid = os.getpid()
        self._instance_id = self._new_instance_id()
        self._invocations = 0
        self._lock = threading.Lock()

    def _new_instance_id(self) -> str:
        """The execution environment's id for a function, '<host>-w<pid>-<8 hex>' for a server worker.

        On Lambda (and the local platform) the log stream name `YYYY/MM/DD/[$LATEST]<hex>` names the
        execution environment, so its hex part is the instance id: the same one REPORT lines are filed under.
        """
        if self.platform == "server":
            return f"{socket.gethostname()}-w{os.getpid()}-{uuid.uuid4().hex[:8]}"
        stream = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        return stream.rsplit("]", 1)[-1] if "]" in stream else uuid.uuid4().hex

    @property
    def instance_id(self) -> str:
        if os.getpid() != self._pid:  # forked (e.g. gunicorn --preload): a new instance
            self._pid, self._instance_id = os.getpid(), self._new_instance_id()
        return self._instance_id

    def mark_initialized(self) -> None:
        """Call once the model is loaded: fixes init_ms."""
        if self.init_end_s is None:
            self.init_end_s = time.perf_counter()

    @property
    def init_ms(self) -> float | None:
        if self.init_end_s is None:
            return None
        return round((self.init_end_s - self.init_start_s) * 1000.0, 3)

    @property
    def invocations(self) -> int:
        return self._invocations

    def begin_invocation(self) -> bool:
        """Count an invocation; True if it is the first in this process (a cold start)."""
        with self._lock:
            self._invocations += 1
            return self._invocations == 1

    def max_memory_used_mb(self) -> float:
        return peak_rss_mb()

    def log_invocation(self, fields: dict[str, Any]) -> None:
        """Write one JSON log line (fields plus platform, instance_id, pid, timestamp) to stdout."""
        line = {
            "log": "invocation",
            "platform": self.platform,
            "instance_id": self.instance_id,
            "pid": os.getpid(),
            "timestamp_unix_s": round(time.time(), 6),
            **fields,
        }
        stream = self._stream or sys.stdout
        stream.write(json.dumps(line, default=str) + "\n")
        stream.flush()
