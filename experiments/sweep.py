"""Applying a sweep's value before its sub-run, the same way locally and on AWS: through the Lambda API
(UpdateFunctionConfiguration for memory and timeout, PutFunctionConcurrency for the concurrency limit),
waiting until the change is live. A model or model-source sweep starts a fresh local cloud per value
(experiments.runner) and cannot run against a deployed stack (that needs a deploy per value).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from experiments.plan import Plan
from experiments.targets import Endpoints
from labkit.errors import ConfigError

LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def lambda_client(endpoints: Endpoints) -> Any:
    import boto3

    if endpoints.target == "local":
        return boto3.client("lambda", endpoint_url=endpoints.lambda_endpoint, region_name=endpoints.region,
                            **LOCAL_CREDENTIALS)  # fmt: skip
    return boto3.client("lambda", region_name=endpoints.region)


def function_names(functions: list[str], endpoints: Endpoints) -> list[str]:
    """The swept functions' real names (the local names map to the deployed stack's on AWS)."""
    mapping = {"inference-api": endpoints.api_function, **endpoints.function_names}
    return [mapping.get(name) or name for name in functions]


def apply_sweep_value(plan: Plan, endpoints: Endpoints, update: dict[str, Any], say: Callable[[str], None]) -> None:
    """Every parameter of the sub-run's combination, through the Lambda API where it is a function setting."""
    from awslab.functions import UpdateBound, update_configuration

    lam = None
    for sweep in plan.sweeps():
        value = update[sweep.parameter]
        if sweep.parameter in ("model", "model_source", "runtime", "s3_trigger"):
            if endpoints.target != "local":
                raise ConfigError(f"sweep over {sweep.parameter} needs a deploy per value; run it with --target local")
            continue  # the sub-run's local cloud already serves it (started anew, or its uploads re-routed)
        lam = lam or lambda_client(endpoints)
        for function in function_names(sweep.functions, endpoints):
            say(f"{function}: {sweep.parameter} = {value} (through the Lambda API)")
            if sweep.parameter == "memory_mb":
                update_configuration(lam, function, UpdateBound(), MemorySize=int(value))
            elif sweep.parameter == "timeout_s":
                update_configuration(lam, function, UpdateBound(), Timeout=int(value))
            elif sweep.parameter == "concurrency_limit":
                lam.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=int(value))
