"""Lambda's control plane for the local platform, boto3-compatible (paths and fields from botocore's model).

    GET    /2015-03-31/functions/                              ListFunctions
    GET    /2015-03-31/functions/{FunctionName}                GetFunction (Configuration + Concurrency)
    GET    /2015-03-31/functions/{FunctionName}/configuration  GetFunctionConfiguration
    PUT    /2015-03-31/functions/{FunctionName}/configuration  UpdateFunctionConfiguration
    PUT    /2017-10-31/functions/{FunctionName}/concurrency    PutFunctionConcurrency
    DELETE /2017-10-31/functions/{FunctionName}/concurrency    DeleteFunctionConcurrency
    GET    /2019-09-30/functions/{FunctionName}/concurrency    GetFunctionConcurrency

UpdateFunctionConfiguration changes MemorySize (128..10240), Timeout (1..900), Environment (the whole
variable set, as on AWS), Description and Handler; it completes at once (State Active, LastUpdateStatus
Successful, so boto3's function_updated / function_updated_v2 waiters pass on their first poll). As on
AWS, environments started before it are retired: no new request goes to them, idle ones stop now, busy
ones once their invocation ends; later invocations cold-start with the new configuration.
PutFunctionConcurrency sets the platform's concurrency limit (0 throttles everything);
DeleteFunctionConcurrency goes back to the configured limit (the spec's `concurrency_limit`, which is
what Get*Concurrency reports when nothing was put). Errors have Lambda's shape: status, `x-amzn-ErrorType`
and a JSON body {"Type": "User", "message": ...} (ResourceNotFoundException: "Message").
"""

from __future__ import annotations

import json
import math
import platform as host
import re
import sys
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, unquote

from labkit.errors import ConfigError
from localcloud.faas.platform import Platform
from localcloud.faas.pool import Pool
from localcloud.faas.spec import ACCOUNT_ID, MEMORY_MAX_MB, MEMORY_MIN_MB, REGION, VERSION, FunctionSpec

Answer = tuple[int, list[tuple[str, str]], bytes]

CONTROL_BODY_LIMIT_BYTES = 1 << 20
TIMEOUT_MIN_S, TIMEOUT_MAX_S = 1, 900
RESERVED_MAX = 900  # an account of 1,000 must keep 100 unreserved, as on AWS
DESCRIPTION_MAX = 256
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
ARCHITECTURE = "arm64" if host.machine().lower() in ("aarch64", "arm64") else "x86_64"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/loadlab-local-function"
_UPDATABLE = frozenset({"MemorySize", "Timeout", "Environment", "Description", "Handler", "RevisionId"})
_VARIABLE_NAME_RE = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_])+$")
_NAME = r"(?P<name>[^/]+)"
_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("GET", re.compile(r"^/2015-03-31/functions/?$"), "list_functions"),
    ("GET", re.compile(rf"^/2015-03-31/functions/{_NAME}/?$"), "get_function"),
    ("GET", re.compile(rf"^/2015-03-31/functions/{_NAME}/configuration/?$"), "get_configuration"),
    ("PUT", re.compile(rf"^/2015-03-31/functions/{_NAME}/configuration/?$"), "update_configuration"),
    ("PUT", re.compile(rf"^/2017-10-31/functions/{_NAME}/concurrency/?$"), "put_concurrency"),
    ("DELETE", re.compile(rf"^/2017-10-31/functions/{_NAME}/concurrency/?$"), "delete_concurrency"),
    ("GET", re.compile(rf"^/2019-09-30/functions/{_NAME}/concurrency/?$"), "get_concurrency"),
)


class ControlError(Exception):
    """A Lambda API error answer: HTTP status, x-amzn-ErrorType and message (under `message_key`)."""

    def __init__(self, status: int, error_type: str, message: str, message_key: str = "message") -> None:
        super().__init__(message)
        self.status, self.error_type, self.message, self.message_key = status, error_type, message, message_key

    def answer(self) -> Answer:
        body = json.dumps({"Type": "User", self.message_key: self.message}).encode()
        return self.status, [*_headers(), ("x-amzn-ErrorType", self.error_type)], body


def invalid(message: str) -> ControlError:
    return ControlError(400, "InvalidParameterValueException", message)


def parse_function_name(raw: str, qualifier: str | None) -> tuple[str, str | None]:
    """Name and qualifier from a FunctionName path part (name, name:qualifier, or a function ARN)."""
    name = unquote(raw)
    if name.startswith("arn:"):
        parts = name.split(":")
        name = parts[6] if len(parts) > 6 else name
        qualifier = qualifier or (parts[7] if len(parts) > 7 else None)
    elif ":" in name:
        name, qualifier = name.split(":", 1)[0], qualifier or name.split(":", 1)[1]
    return name, qualifier


def _headers() -> list[tuple[str, str]]:
    return [("Content-Type", "application/json"), ("x-amzn-RequestId", str(uuid.uuid4()))]


def _iso(unix_s: float) -> str:
    """Lambda's LastModified format: 2026-11-30T16:00:00.000+0000."""
    millis = int(unix_s * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(unix_s)) + f".{millis:03d}+0000"


def function_configuration(spec: FunctionSpec, pool: Pool) -> dict[str, Any]:
    """FunctionConfiguration (botocore's shape) of a function's current spec."""
    config: dict[str, Any] = {
        "FunctionName": spec.name,
        "FunctionArn": spec.arn,
        "Runtime": RUNTIME,
        "Role": ROLE_ARN,
        "Handler": spec.handler,
        "CodeSize": 0,
        "Description": spec.description,
        "Timeout": max(TIMEOUT_MIN_S, math.ceil(spec.timeout_s)),
        "MemorySize": spec.memory_mb,
        "LastModified": _iso(pool.last_modified_unix_s),
        "Version": VERSION,
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": pool.revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": [ARCHITECTURE],
        "EphemeralStorage": {"Size": 512},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": spec.log_group_name},
    }
    if spec.environment:
        config["Environment"] = {"Variables": dict(spec.environment)}
    return config


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ControlError(
            400, "InvalidRequestContentException", f"Could not parse request body into json: {exc}"
        ) from None
    if not isinstance(doc, dict):
        raise ControlError(400, "InvalidRequestContentException", "The request body must be a JSON object")
    return doc


def _int_in(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"'{field}' value {value!r} failed to satisfy constraint: Member must be an integer")
    if value < low:
        raise invalid(
            f"'{field}' value failed to satisfy constraint: Member must have value greater than or equal to {low}"
        )
    if value > high:
        raise invalid(
            f"'{field}' value failed to satisfy constraint: Member must have value less than or equal to {high}"
        )
    return value


def _variables(environment: Any) -> dict[str, str]:
    """Environment {"Variables": {...}}: the new variable set (it replaces the old one, as on AWS)."""
    variables = environment.get("Variables", {}) if isinstance(environment, dict) else None
    if not isinstance(variables, dict):
        raise invalid("Environment must be an object {'Variables': {name: value}}")
    bad = [k for k, v in variables.items() if not _VARIABLE_NAME_RE.match(str(k)) or not isinstance(v, str)]
    if bad:
        raise invalid(f"Environment variables {bad}: names must match [a-zA-Z]([a-zA-Z0-9_])+, values be strings")
    return dict(variables)


def parse_update(doc: dict[str, Any]) -> dict[str, Any]:
    """UpdateFunctionConfiguration's body -> FunctionSpec changes (validated as AWS does)."""
    unsupported = sorted(set(doc) - _UPDATABLE)
    if unsupported:
        raise invalid(
            f"The local platform cannot change {', '.join(unsupported)} (only {', '.join(sorted(_UPDATABLE))})"
        )
    changes: dict[str, Any] = {}
    if doc.get("MemorySize") is not None:
        changes["memory_mb"] = _int_in(doc["MemorySize"], "MemorySize", MEMORY_MIN_MB, MEMORY_MAX_MB)
    if doc.get("Timeout") is not None:
        changes["timeout_s"] = float(_int_in(doc["Timeout"], "Timeout", TIMEOUT_MIN_S, TIMEOUT_MAX_S))
    if doc.get("Environment") is not None:
        changes["environment"] = _variables(doc["Environment"])
    if doc.get("Description") is not None:
        if not isinstance(doc["Description"], str) or len(doc["Description"]) > DESCRIPTION_MAX:
            raise invalid(f"Description must be a string of at most {DESCRIPTION_MAX} characters")
        changes["description"] = doc["Description"]
    if doc.get("Handler") is not None:
        if not isinstance(doc["Handler"], str):
            raise invalid("Handler must be a string")
        changes["handler"] = doc["Handler"]
    return changes


class ControlPlane:
    """Lambda's control-plane API over a Platform (see the module doc); `handle()` answers one request."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    @staticmethod
    def match(method: str, path: str) -> tuple[str, str] | None:
        """(operation, raw function name) for a control-plane request; None for any other request."""
        for route_method, pattern, operation in _ROUTES:
            found = pattern.match(path)
            if found and method == route_method:
                return operation, found.groupdict().get("name") or ""
        return None

    def handle(self, operation: tuple[str, str], query: str, body: bytes | None) -> Answer:
        """Answer one control-plane request (`operation` from match(); body None: over the size limit)."""
        op_name, raw = operation
        try:
            if body is None:
                raise ControlError(413, "RequestTooLargeException", "Request must be smaller than 1048576 bytes")
            qualifier = (parse_qs(query).get("Qualifier") or [None])[0]
            status, doc = getattr(self, op_name)(raw, qualifier, body)
        except ControlError as exc:
            return exc.answer()
        return status, _headers(), b"" if doc is None else json.dumps(doc).encode()

    def _function(self, raw: str, qualifier: str | None) -> tuple[FunctionSpec, Pool]:
        """The function's current spec and pool; 404 ResourceNotFoundException when unknown."""
        name, qualifier = parse_function_name(raw, qualifier)
        spec = self.platform.specs.get(name)
        if spec is None or qualifier not in (None, VERSION):
            shown = name if qualifier in (None, VERSION) else f"{name}:{qualifier}"
            message = f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{shown}"
            raise ControlError(404, "ResourceNotFoundException", message, message_key="Message")
        return spec, self.platform.pool(name)

    def list_functions(self, _raw: str, _qualifier: str | None, _body: bytes) -> tuple[int, dict[str, Any]]:
        configs = [function_configuration(spec, self.platform.pool(n)) for n, spec in self.platform.specs.items()]
        return 200, {"Functions": configs}

    def get_function(self, raw: str, qualifier: str | None, _body: bytes) -> tuple[int, dict[str, Any]]:
        spec, pool = self._function(raw, qualifier)
        concurrency = {"ReservedConcurrentExecutions": pool.concurrency_limit}
        return 200, {"Configuration": function_configuration(spec, pool), "Tags": {}, "Concurrency": concurrency}

    def get_configuration(self, raw: str, qualifier: str | None, _body: bytes) -> tuple[int, dict[str, Any]]:
        spec, pool = self._function(raw, qualifier)
        return 200, function_configuration(spec, pool)

    def update_configuration(self, raw: str, qualifier: str | None, body: bytes) -> tuple[int, dict[str, Any]]:
        spec, pool = self._function(raw, qualifier)
        doc = _json_object(body)
        changes = parse_update(doc)
        revision = doc.get("RevisionId")
        if revision is not None and revision != pool.revision_id:
            raise ControlError(
                412,
                "PreconditionFailedException",
                "The Revision Id provided does not match the latest Revision Id. "
                "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
            )
        if changes:
            try:
                spec = self.platform.update_function(spec.name, **changes)
            except ConfigError as exc:
                raise invalid(str(exc)) from None
        return 200, function_configuration(spec, pool)

    def put_concurrency(self, raw: str, qualifier: str | None, body: bytes) -> tuple[int, dict[str, Any]]:
        spec, _pool = self._function(raw, qualifier)
        value = _json_object(body).get("ReservedConcurrentExecutions")
        if value is None:
            raise invalid("ReservedConcurrentExecutions is required")
        if isinstance(value, int) and not isinstance(value, bool) and value > RESERVED_MAX:
            raise invalid(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                "UnreservedConcurrentExecution below its minimum value of [100]."
            )
        limit = _int_in(value, "ReservedConcurrentExecutions", 0, RESERVED_MAX)
        self.platform.set_reserved_concurrency(spec.name, limit)
        return 200, {"ReservedConcurrentExecutions": limit}

    def delete_concurrency(self, raw: str, qualifier: str | None, _body: bytes) -> tuple[int, None]:
        spec, _pool = self._function(raw, qualifier)
        self.platform.set_reserved_concurrency(spec.name, None)
        return 204, None

    def get_concurrency(self, raw: str, qualifier: str | None, _body: bytes) -> tuple[int, dict[str, Any]]:
        _spec, pool = self._function(raw, qualifier)
        return 200, {"ReservedConcurrentExecutions": pool.concurrency_limit}
