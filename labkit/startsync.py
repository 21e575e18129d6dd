"""One clock for the processes of a run: each says it is ready, the runner then writes one common start time.

    dir/ready/<tag>   written by each process when it can send (Locust loaded, payloads built, clients open)
    dir/start         written by the runner once every process is ready: the common start, unix seconds

So a process that starts slowly (a busy machine) delays the start instead of sending its first requests late.
Every wait is bounded; the files are plain text in the run dir (what happened stays visible).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from labkit.errors import TargetError

START_FILE = "start"
READY_DIR = "ready"


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def mark_ready(sync_dir: Path, tag: str) -> None:
    _write_atomically(sync_dir / READY_DIR / tag, f"{time.time():.6f}\n")


def read_start(sync_dir: Path) -> float | None:
    try:
        return float((sync_dir / START_FILE).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def await_start(sync_dir: Path, timeout_s: float, sleep: Callable[[float], None] = time.sleep) -> float:
    """The common start time, once the runner wrote it (TargetError after `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        start = read_start(sync_dir)
        if start is not None:
            return start
        sleep(0.02)
    raise TargetError(f"no common start time in {sync_dir} within {timeout_s:g} s (the runner is gone?)")


def ready_tags(sync_dir: Path) -> set[str]:
    folder = sync_dir / READY_DIR
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")} if folder.is_dir() else set()


def release(sync_dir: Path, lead_s: float) -> float:
    """Write the common start (`lead_s` from now) and return it."""
    start = time.time() + lead_s
    _write_atomically(sync_dir / START_FILE, f"{start:.6f}\n")
    return start
