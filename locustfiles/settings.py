"""Load defaults from `config/load.yaml`, validated once into a typed `LoadSettings` (every error names the key).

They are the defaults of `python -m locustfiles` (and of the locustfile's --lab-* options): the CLI passes
every value explicitly into the plan it builds, so experiments.plan's own defaults never apply to it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from labkit.config import DEFAULT_CONFIG_DIR, REPO_ROOT, build, read_yaml
from labkit.errors import ConfigError
from locustfiles.shapes import SHAPE_NAMES

LOAD_FILE = "load.yaml"
TRACE_PROCESSES = ("uniform", "poisson")


@dataclass(frozen=True)
class LoadSettings:
    shape: str = "ramp"
    rate_rps: float = 100.0
    duration_s: float = 60.0
    max_inflight: int = 200
    max_lag_s: float = 1.0
    max_rate_rps: float = 1000.0
    max_duration_s: float = 3600.0
    processes: int = 1
    network_timeout_s: float = 60.0
    step_count: int = 5
    trace_path: str = "traces/fifa98.csv"
    trace_start: str = ""
    trace_end: str = ""
    trace_process: str = "uniform"
    seed: int = 1998
    images: str = ""
    runs_dir: str = "runs"

    def validate(self, where: str) -> None:
        if self.shape not in SHAPE_NAMES:
            raise ConfigError(f"{where}.shape: {self.shape!r} is not one of {', '.join(SHAPE_NAMES)}")
        if self.trace_process not in TRACE_PROCESSES:
            raise ConfigError(f"{where}.trace_process: {self.trace_process!r} is not one of uniform, poisson")
        for key in ("rate_rps", "duration_s", "max_rate_rps", "max_duration_s", "network_timeout_s"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"{where}.{key}: must be > 0, got {getattr(self, key)}")
        for key in ("max_inflight", "processes", "step_count"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{where}.{key}: must be >= 1, got {getattr(self, key)}")
        if self.max_lag_s < 0:
            raise ConfigError(f"{where}.max_lag_s: must be >= 0, got {self.max_lag_s}")

    def resolved_trace_path(self) -> Path:
        path = Path(self.trace_path)
        return path if path.is_absolute() else REPO_ROOT / path


def load_settings(config_dir: Path | None = None) -> LoadSettings:
    """`load.yaml` from `config_dir` (env LOADLAB_CONFIG_DIR, default config/); built-in defaults if absent."""
    directory = config_dir or Path(os.environ.get("LOADLAB_CONFIG_DIR", DEFAULT_CONFIG_DIR))
    path = directory / LOAD_FILE
    if not path.is_file():
        return LoadSettings()
    settings = build(LoadSettings, read_yaml(path) or {}, str(path))
    settings.validate(str(path))
    return settings
