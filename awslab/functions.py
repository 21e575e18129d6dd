"""Changing a deployed function's configuration and waiting until the change is live.

Each change is `update_function_configuration` followed by the `function_updated` waiter (polls
GetFunctionConfiguration until LastUpdateStatus is Successful), bounded. A change while another one is
still in progress (ResourceConflictException) is retried a bounded number of times.
Any configuration change makes Lambda start new execution environments: the next invocations are cold.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from awslab.aws import aws_errors, error_code
from labkit.errors import TargetError

COLD_BUMP_VAR = "LOADLAB_COLD_START_BUMP"
CONFLICT_RETRIES = 10


@dataclass(frozen=True)
class UpdateBound:
    delay_s: int = 2
    max_attempts: int = 150  # 5 minutes at 2 s
    conflict_sleep_s: float = 3.0


def function_config(lam: Any, function: str) -> dict[str, Any]:
    with aws_errors(f"reading the configuration of function {function}"):
        return dict(lam.get_function_configuration(FunctionName=function))


def wait_updated(lam: Any, function: str, bound: UpdateBound) -> dict[str, Any]:
    """Wait until the function's last update is Successful; returns its configuration."""
    try:
        with aws_errors(f"waiting for function {function} to update"):
            lam.get_waiter("function_updated").wait(
                FunctionName=function, WaiterConfig={"Delay": bound.delay_s, "MaxAttempts": bound.max_attempts}
            )
    except WaiterError as exc:
        config = function_config(lam, function)
        raise TargetError(
            f"function {function} did not finish updating: {exc}; LastUpdateStatus "
            f"{config.get('LastUpdateStatus')}: {config.get('LastUpdateStatusReason', '')}"
        ) from None
    return function_config(lam, function)


def update_configuration(
    lam: Any, function: str, bound: UpdateBound, sleep: Callable[[float], None] = time.sleep, **changes: Any
) -> dict[str, Any]:
    """update_function_configuration(**changes), retrying on a concurrent update, then wait until live."""
    with aws_errors(f"updating function {function}"):
        for attempt in range(1, CONFLICT_RETRIES + 1):
            try:
                lam.update_function_configuration(FunctionName=function, **changes)
                break
            except ClientError as exc:
                if error_code(exc) != "ResourceConflictException" or attempt == CONFLICT_RETRIES:
                    raise
            sleep(bound.conflict_sleep_s)
    return wait_updated(lam, function, bound)


def set_memory(lam: Any, function: str, memory_mb: int, bound: UpdateBound) -> dict[str, Any]:
    """Set the function's memory (MB) and wait until it is live."""
    config = update_configuration(lam, function, bound, MemorySize=memory_mb)
    if int(config.get("MemorySize", 0)) != memory_mb:
        raise TargetError(f"function {function}: MemorySize is {config.get('MemorySize')} after setting {memory_mb}")
    return config


def force_cold_start(lam: Any, function: str, bound: UpdateBound, token: str) -> dict[str, Any]:
    """Bump the function's LOADLAB_COLD_START_BUMP variable (keeping the others): new environments follow."""
    variables = dict((function_config(lam, function).get("Environment") or {}).get("Variables") or {})
    variables[COLD_BUMP_VAR] = token
    return update_configuration(lam, function, bound, Environment={"Variables": variables})
