"""Run directories: `runs/<run-id>/`, self-describing so the analysis can be re-run from them alone.

Layout:
    manifest.json        what ran: command, config snapshot, versions, git sha, machine, start/end times
    records/*.csv        request records (labkit.records), one file per producer process
    logs/                platform logs (REPORT lines), server logs
    locust/              Locust's own --csv / --html outputs
    report.md, report.html, summary.json, plots/   written by `python -m analysis`
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from labkit.errors import InputError
from labkit.records import SCHEMA_VERSION, RequestRecord, read_records
from labkit.recordwriter import RecordWriter

MANIFEST = "manifest.json"
TRACKED_PACKAGES = ("locust", "boto3", "onnxruntime", "onnx", "numpy", "pandas", "moto", "gunicorn")


def new_run_id(scenario: str, now_unix_s: float | None = None) -> str:
    stamp = datetime.fromtimestamp(now_unix_s or time.time(), UTC).strftime("%Y%m%d-%H%M%S")
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in scenario)
    return f"{stamp}-{safe}-{secrets.token_hex(2)}"


def _git_sha(repo: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    sha = out.stdout.strip() if out.returncode == 0 else "unknown"
    return f"{sha}-dirty" if dirty.stdout.strip() else sha


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _machine() -> dict[str, Any]:
    try:
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError):
        memory_gb = None
    return {
        "hostname": platform.node(),
        "system": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(memory_gb, 1) if memory_gb else None,
    }


@dataclass
class RunDir:
    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def records_dir(self) -> Path:
        return self.path / "records"

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @classmethod
    def create(cls, root: Path, scenario: str, config: dict[str, Any] | None = None) -> RunDir:
        """Make a new run dir under `root` with a manifest holding what is known at start."""
        run = cls(root / new_run_id(scenario))
        try:
            run.records_dir.mkdir(parents=True, exist_ok=False)
            run.logs_dir.mkdir()
        except OSError as exc:
            raise InputError(f"{root}: cannot make a run dir there ({exc.strerror or exc}); give a writable "
                             "folder with --runs") from None  # fmt: skip
        repo = Path(__file__).resolve().parent.parent
        run.write_manifest(
            {
                "run_id": run.run_id,
                "scenario": scenario,
                "record_schema_version": SCHEMA_VERSION,
                "started_unix_s": time.time(),
                "ended_unix_s": None,
                "status": "running",
                "command": sys.argv,
                "config": config or {},
                "versions": _versions(),
                "git_sha": _git_sha(repo),
                "machine": _machine(),
            }
        )
        return run

    @classmethod
    def open(cls, path: Path) -> RunDir:
        """Open an existing run dir, checking it is one (clear error otherwise)."""
        if not path.is_dir():
            raise InputError(f"{path}: not a run directory (it does not exist or is not a folder)")
        if not (path / MANIFEST).is_file():
            raise InputError(f"{path}: not a run directory: {MANIFEST} is missing")
        return cls(path)

    def read_manifest(self) -> dict[str, Any]:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"{self.manifest_path}:{exc.lineno}: invalid JSON ({exc.msg})") from None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
        tmp.replace(self.manifest_path)

    def update_manifest(self, **fields: Any) -> None:
        manifest = self.read_manifest()
        manifest.update(fields)
        self.write_manifest(manifest)

    def finish(self, status: str = "complete", **fields: Any) -> None:
        self.update_manifest(status=status, ended_unix_s=time.time(), **fields)

    def writer(self, producer: str) -> RecordWriter:
        """A record writer of its own for one producer (e.g. `locust-worker-2`, `replay`)."""
        return RecordWriter(self.records_dir / f"{producer}.csv")

    def record_files(self) -> list[Path]:
        return sorted(self.records_dir.glob("*.csv"))

    def records(self) -> list[RequestRecord]:
        return read_records(self.record_files())


def latest_run(root: Path) -> RunDir:
    """The most recently started run under `root` (run ids begin with their UTC start time)."""
    candidates = [p for p in root.glob("*/") if (p / MANIFEST).is_file()] if root.is_dir() else []
    if not candidates:
        raise InputError(f"{root}: no run directories here; run `make demo` or `make load` first")
    return RunDir(max(candidates, key=lambda p: p.name))
