"""CloudWatch-style logs: one stream file per execution environment plus one aggregated platform log.

Stream files live at `<log_dir>/<function>/<YYYY>/<MM>/<DD>/[$LATEST]<instance-hex>.log` (the path
is the Lambda log stream name). They hold the function's own stdout/stderr and the platform's
lines, exactly as Lambda writes them: `START RequestId: <id> Version: $LATEST`, `END RequestId: <id>`,
`REPORT RequestId: ...` (see labkit.reportlog). The aggregated log `<log_dir>/platform.log` repeats
every platform line as `<iso-time>\\t<function>\\t<log-stream>\\t<line>`, so collectors read all REPORT
lines from one place (labkit.reportlog.parse_report_line tolerates the prefix).
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from localcloud.faas.spec import VERSION

AGGREGATE_LOG_NAME = "platform.log"
TAIL_LIMIT_BYTES = 4096  # X-Amz-Log-Result carries the last 4 KB of the invocation's log


def iso_now() -> str:
    """UTC now as CloudWatch prints it (millisecond precision, Z suffix)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def log_stream_name(instance_id: str) -> str:
    """Lambda's log stream name for a new environment: `YYYY/MM/DD/[$LATEST]<instance-hex>`."""
    return time.strftime("%Y/%m/%d", time.gmtime()) + f"/[{VERSION}]{instance_id}"


class AggregateLog:
    """The platform-wide log of START/END/REPORT lines; thread-safe, line-buffered, append-only."""

    def __init__(self, log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.path = log_dir / AGGREGATE_LOG_NAME
        self._lock = threading.Lock()
        self._file = self.path.open("a", encoding="utf-8", buffering=1)

    def write(self, function_name: str, stream_name: str, lines: list[str]) -> None:
        stamp = iso_now()
        text = "".join(f"{stamp}\t{function_name}\t{stream_name}\t{line}\n" for line in lines)
        with self._lock:
            if not self._file.closed:
                self._file.write(text)

    def close(self) -> None:
        with self._lock:
            self._file.close()


class StreamLog:
    """One environment's log stream file; the environment process writes into it too (O_APPEND)."""

    def __init__(self, log_dir: Path, function_name: str, instance_id: str, aggregate: AggregateLog) -> None:
        self.function_name = function_name
        self.stream_name = log_stream_name(instance_id)
        self.path = log_dir / function_name / f"{self.stream_name}.log"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._aggregate = aggregate
        self.file: BinaryIO = self.path.open("ab", buffering=0)

    def offset(self) -> int:
        """Current end of the stream file (where the next invocation's lines start)."""
        return os.fstat(self.file.fileno()).st_size

    def platform_lines(self, lines: list[str]) -> None:
        """Append platform lines to the stream and to the aggregated log."""
        if self.file.closed:
            return
        self.file.write("".join(f"{line}\n" for line in lines).encode())
        self._aggregate.write(self.function_name, self.stream_name, lines)

    def tail_since(self, offset: int, limit_bytes: int = TAIL_LIMIT_BYTES) -> bytes:
        """The last `limit_bytes` written since `offset` (one invocation's log, as Lambda's LogResult)."""
        with self.path.open("rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            handle.seek(max(offset, end - limit_bytes))
            return handle.read()

    def close(self) -> None:
        self.file.close()
