"""The tick shared by the shapes that run one dispatcher user per Locust process (the HTTP load's OpenModelShape
and the replay's UploadShape): the rate lives in each process's schedule, not in a user count."""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from locust import LoadTestShape
from locust.runners import MasterRunner

log = logging.getLogger("loadlab")


class DispatchState(Protocol):
    refused: str
    completed: bool


def dispatcher_tick(shape: LoadTestShape, state: DispatchState, bound_s: float | None, started_unix_s: float,
                    what: str) -> tuple[int, float] | None:  # fmt: skip
    """One user per process (the master: one per worker) until the dispatchers have all finished (then
    `state.completed`), the plan was refused, or `bound_s` past `started_unix_s` (None: no bound known yet).
    Remembers on `shape` whether its users were seen, so an end is told from a start."""
    run_time_s = shape.get_run_time()
    runner: Any = shape.runner
    if run_time_s < 1.0:
        shape._seen_users = False  # type: ignore[attr-defined]
    if state.refused:
        return None
    if bound_s is not None and time.time() - started_unix_s > bound_s:
        log.error("%s overran its bound of %.0f s; stopping", what, bound_s)
        return None
    user_count = runner.user_count if runner is not None else 0
    if user_count > 0:
        shape._seen_users = True  # type: ignore[attr-defined]
    elif getattr(shape, "_seen_users", False) and run_time_s > 2.0:
        state.completed = True
        return None
    processes = runner.worker_count if isinstance(runner, MasterRunner) else 1
    return max(1, processes), float(max(1, processes))
