"""What a function is: `FunctionSpec`, validated once, plus the Lambda limits the platform enforces.

Memory is *emulated*: it is recorded and reported (REPORT `Memory Size`, the context's
`memory_limit_in_mb`) and mapped to a CPU share the way Lambda allocates vCPUs (one vCPU per
1,769 MB) through the `ORT_THREADS` / `OMP_NUM_THREADS` variables the handler reads. It is also a
ceiling (localcloud.faas.memory): an environment whose RSS goes over it is killed and the invocation
fails with `Runtime.OutOfMemory`, REPORT `Max Memory Used` = the setting, as on Lambda.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from labkit.errors import ConfigError

MEMORY_MIN_MB = 128
MEMORY_MAX_MB = 10240
MB_PER_VCPU = 1769  # Lambda: 1 full vCPU at 1,769 MB
SYNC_PAYLOAD_LIMIT_BYTES = 6_291_456  # RequestResponse request and response payloads (6 MB)
ASYNC_PAYLOAD_LIMIT_BYTES = 262_144  # Event invocations (256 KB)
TIMEOUT_MAX_S = 900.0
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
VERSION = "$LATEST"
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HANDLER_RE = re.compile(r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")


@dataclass(frozen=True)
class FunctionSpec:
    """One function's configuration, as in Lambda's CreateFunction (plus the emulator's knobs).

    `keepalive_s` is how long an idle execution environment lives before the platform expires it
    (Lambda keeps idle environments for roughly 5-15 minutes; set it short in demos and tests).
    `concurrency_limit` is the reserved concurrency: in-flight invocations (busy + starting
    environments) beyond it are throttled. `python_path` entries are prepended to the handler's
    PYTHONPATH (the deployment package's root, like Lambda's /var/task). `description` is Lambda's
    Description (GetFunctionConfiguration shows it). `runtime` and `model` are the function's own
    model runtime (MODEL_RUNTIME) and model settings over the local cloud's (`name`, `source`, `path`):
    the local cloud turns them into the function's environment; the platform itself ignores them.
    """

    name: str
    handler: str
    memory_mb: int = 1024
    timeout_s: float = 30.0
    keepalive_s: float = 600.0
    concurrency_limit: int = 10
    init_timeout_s: float = 10.0
    environment: dict[str, str] = field(default_factory=dict)
    python_path: tuple[Path, ...] = ()
    description: str = ""
    runtime: str = ""  # "" = the local cloud's
    cpu_quota: bool = False  # below 1,769 MB, hold the environment to memory_mb / 1769 of a CPU (faas.cpushare)
    model: dict[str, str] = field(default_factory=dict)  # {} = the local cloud's model

    def __post_init__(self) -> None:
        self._check_name_and_handler()
        if not MEMORY_MIN_MB <= self.memory_mb <= MEMORY_MAX_MB:
            raise ConfigError(
                f"function {self.name!r}: memory_mb={self.memory_mb} must be in "
                f"{MEMORY_MIN_MB}..{MEMORY_MAX_MB} MB (Lambda's range)"
            )
        if not 0 < self.timeout_s <= TIMEOUT_MAX_S:
            raise ConfigError(f"function {self.name!r}: timeout_s={self.timeout_s} must be in (0, 900]")
        if self.keepalive_s <= 0 or self.init_timeout_s <= 0:
            raise ConfigError(f"function {self.name!r}: keepalive_s and init_timeout_s must be > 0")
        if self.concurrency_limit < 1:
            raise ConfigError(f"function {self.name!r}: concurrency_limit must be >= 1")
        bad_env = [key for key, value in self.environment.items() if not isinstance(value, str)]
        if bad_env:
            raise ConfigError(f"function {self.name!r}: environment values must be strings: {bad_env}")
        object.__setattr__(self, "python_path", tuple(Path(p) for p in self.python_path))

    def _check_name_and_handler(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ConfigError(f"function name {self.name!r} must be 1-64 letters, digits, '-' or '_' (Lambda's rule)")
        if not _HANDLER_RE.match(self.handler):
            raise ConfigError(
                f"function {self.name!r}: handler {self.handler!r} must look like 'module.function' "
                "(e.g. 'handlers.lambda_api.handler')"
            )

    @property
    def arn(self) -> str:
        """The function's ARN, as Lambda names it (fake account id)."""
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.name}"

    @property
    def cpu_threads(self) -> int:
        """The emulated CPU share: max(1, min(cpu_count, round(memory_mb / 1769)))."""
        return max(1, min(os.cpu_count() or 1, round(self.memory_mb / MB_PER_VCPU)))


def check_unique(specs: list[FunctionSpec]) -> dict[str, FunctionSpec]:
    """Specs by name; ConfigError when two share a name."""
    by_name: dict[str, FunctionSpec] = {}
    for spec in specs:
        if spec.name in by_name:
            raise ConfigError(f"function name {spec.name!r} is configured twice")
        by_name[spec.name] = spec
    return by_name
