"""Resuming an interrupted replay: what is already done, what is left, and when the rest is sent.

Object keys are deterministic per run and schedule index (`uploads/<run-id>/<index>-<image>`), so a
resumed run knows from its records which slots went through: every index with an ok `s3-put` record
is skipped, every other index is uploaded. An upload that reached S3 but whose record was lost with a
killed process is uploaded again under the *same* key: S3 then holds one object and the records one
ok record per index (the S3 function's per key+ETag idempotence absorbs the repeated event).

Resumed sends are RE-BASED: the remaining schedule keeps its shape and is shifted so that its first
pending slot is sent at the resume time; the records' intended times are the re-based ones, so lag
and latency measure the resumed segment honestly instead of counting the pause as lag. Each
segment's base (schedule offset and wall-clock start) is kept in the manifest's `segments`.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np

from labkit.errors import ConfigError, InputError
from labkit.records import RequestRecord
from labkit.rundir import RunDir
from replay.options import FIXED_ON_RESUME, ReplayOptions, ScheduleSpec

LOCK_NAME = ".replay.lock"


def lock_run(run: RunDir) -> IO[str]:
    """An exclusive lock on the run dir for this process (released on exit, even by kill -9)."""
    handle = (run.path / LOCK_NAME).open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ConfigError(f"{run.path}: another replay is writing to this run right now") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def resumed_options(cli: ReplayOptions, explicit: set[str], run: RunDir) -> ReplayOptions:
    """The run's own options (from its manifest) with what the command line may change on a resume."""
    manifest = run.read_manifest()
    stored = (manifest.get("config") or {}).get("replay")
    if not isinstance(stored, dict) or "schedule" not in stored:
        raise InputError(f"{run.manifest_path}: no replay options in config.replay; is this a replay run?")
    clashes = sorted(name for name in explicit if name in FIXED_ON_RESUME and name != "schedule")
    if clashes:
        raise ConfigError(f"--resume takes {', '.join(clashes)} from {run.manifest_path}; drop those options")
    if "schedule" in explicit:
        raise ConfigError(
            f"--resume rebuilds the schedule from {run.manifest_path}; drop the schedule options "
            "(--speedup, --peak-rps, --mean-rps, --window, --process, --seed, --max-uploads)"
        )
    schedule = ScheduleSpec.from_dict(stored["schedule"], str(run.manifest_path))
    if "trace" in explicit and Path(cli.schedule.trace).resolve() != Path(schedule.trace).resolve():
        raise ConfigError(f"--resume: this run replays {schedule.trace}, not {cli.schedule.trace}")
    fixed: dict[str, Any] = {name: stored.get(name, getattr(cli, name)) for name in FIXED_ON_RESUME}
    fixed["schedule"] = schedule
    if "s3_endpoint" not in explicit:
        fixed["s3_endpoint"] = stored.get("s3_endpoint", "")
    if "model" not in explicit:
        fixed["model"] = stored.get("model", "")
    fixed["resume"] = run.path
    return dataclasses.replace(cli, **fixed)


def done_indexes(records: Iterable[RequestRecord], keys: list[str]) -> set[int]:
    """Schedule indexes with an ok upload record."""
    index_of = {key: index for index, key in enumerate(keys)}
    return {index_of[r.object_key] for r in records if r.operation == "s3-put" and r.ok and r.object_key in index_of}


def pending_indexes(count: int, done: set[int]) -> list[int]:
    return [i for i in range(count) if i not in done]


def rebased_times(offsets_s: np.ndarray, pending: list[int], start_unix_s: float) -> tuple[np.ndarray, float]:
    """Intended unix times of the pending slots, the first at `start_unix_s`; also the base offset."""
    if not pending:
        return np.empty(0), 0.0
    chosen = offsets_s[np.asarray(pending, dtype=np.int64)]
    base_s = float(chosen.min())
    return start_unix_s + (chosen - base_s), base_s
