"""An embedded function platform that behaves like AWS Lambda, on loopback.

Execution environments are real OS processes (cold start = spawn + import + the handler module's
init), one request at a time each, with keep-alive expiry, reserved concurrency and throttling,
timeouts, crash recovery, emulated memory settings and CloudWatch-style logs with REPORT lines.
`Platform` is the Invoke API as a Python object; `start_platform_server` puts Lambda's Invoke
HTTP API (boto3-compatible) and an API-Gateway-like proxy in front of it.

Exports are loaded lazily so the environment process (localcloud.faas.runtime) starts fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FunctionSpec": "localcloud.faas.spec",
    "Platform": "localcloud.faas.platform",
    "InvokeResult": "localcloud.faas.platform",
    "ApiRoute": "localcloud.faas.apigw",
    "PlatformServer": "localcloud.faas.http_front",
    "start_platform_server": "localcloud.faas.http_front",
}

__all__ = ["ApiRoute", "FunctionSpec", "InvokeResult", "Platform", "PlatformServer", "start_platform_server"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'localcloud.faas' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
