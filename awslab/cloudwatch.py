"""CloudWatch Logs: the Lambda REPORT lines of a time range, paginated, throttling retried, bounded.

`fetch_report_events` pages through `filter_log_events` (filterPattern "REPORT" for the text log format,
`{ $.type = "platform.report" }` for the JSON one) with nextToken. Throttling is retried here with
exponential backoff and jitter (the client it is given should have botocore's own retries off, so the
bound is this one): at most `max_attempts` tries per page, `max_pages` pages and `deadline_s` in all.
`write_report_log` writes each page to a log file as it arrives (nothing fetched is lost on Ctrl-C),
one line per event: `<ISO time> <log stream> <message>` (labkit.reportlog parses that prefix).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from awslab.aws import aws_errors, error_code

TEXT_PATTERN = "REPORT"
JSON_PATTERN = '{ $.type = "platform.report" }'
RETRYABLE = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "ServiceUnavailableException", "RequestLimitExceeded"}
)


@dataclass(frozen=True)
class FetchBound:
    max_pages: int = 2000
    max_attempts: int = 8  # per page
    base_backoff_s: float = 0.5
    max_backoff_s: float = 20.0
    deadline_s: float = 900.0


@dataclass
class FetchResult:
    events: int = 0
    pages: int = 0
    retries: int = 0
    complete: bool = True
    reason: str = ""  # why incomplete


def backoff_s(attempt: int, bound: FetchBound, rng: random.Random) -> float:
    """Full-jitter exponential backoff for retry `attempt` (1-based)."""
    return rng.uniform(0, min(bound.max_backoff_s, bound.base_backoff_s * 2 ** (attempt - 1)))


def _page(
    logs: Any,
    request: dict[str, Any],
    bound: FetchBound,
    result: FetchResult,
    sleep: Callable[[float], None],
    rng: random.Random,
) -> dict[str, Any]:
    for attempt in range(1, bound.max_attempts + 1):
        try:
            return dict(logs.filter_log_events(**request))
        except ClientError as exc:
            if error_code(exc) not in RETRYABLE or attempt == bound.max_attempts:
                raise
            result.retries += 1
            sleep(backoff_s(attempt, bound, rng))
    raise AssertionError("unreachable")  # the loop returns or raises


def fetch_report_events(
    logs: Any,
    log_group: str,
    start_ms: int,
    end_ms: int,
    result: FetchResult,
    pattern: str = TEXT_PATTERN,
    bound: FetchBound | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Yield the events page by page; `result` counts them and says whether the range was read to its end."""
    bound = bound or FetchBound()
    rng = rng or random.Random()
    request: dict[str, Any] = {
        "logGroupName": log_group,
        "startTime": start_ms,
        "endTime": end_ms,
        "filterPattern": pattern,
    }
    started_s = time.monotonic()
    previous_token = None
    with aws_errors(f"reading REPORT lines from log group {log_group}"):
        while True:
            if result.pages >= bound.max_pages or time.monotonic() - started_s > bound.deadline_s:
                result.complete = False
                result.reason = f"stopped after {result.pages} pages / {time.monotonic() - started_s:.0f} s (bound)"
                return
            page = _page(logs, request, bound, result, sleep, rng)
            result.pages += 1
            events = list(page.get("events", []))
            result.events += len(events)
            yield events
            token = page.get("nextToken")
            if not token or token == previous_token:
                return
            previous_token = token
            request["nextToken"] = token


def format_event(event: dict[str, Any]) -> str:
    stamp = datetime.fromtimestamp(int(event.get("timestamp", 0)) / 1000.0, UTC).isoformat(timespec="milliseconds")
    message = str(event.get("message", "")).rstrip("\n")
    return f"{stamp} {event.get('logStreamName', '-')} {message}"


def write_report_log(pages: Iterator[list[dict[str, Any]]], path: Path, progress: Callable[[int], None]) -> int:
    """Write every event to `path` (a fresh file, flushed per page); returns how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("w", encoding="utf-8") as handle:
        for events in pages:
            for event in events:
                handle.write(format_event(event) + "\n")
            handle.flush()
            written += len(events)
            progress(written)
    return written
