"""Where a plan's workloads go: the local cloud (started once for the plan, inside the run) or the deployed
AWS stack (`python -m awslab deploy` wrote its endpoints), as one `Endpoints` record.

`function` workloads use `function_url` (the API-Gateway-like front / API Gateway), `server` ones
`server_url` (gunicorn / EC2); s3-replay uploads to `input_bucket` and collects from `output_bucket`;
burst and cold-probe invoke `api_function` through the Lambda API at `lambda_endpoint` ("" = AWS's own).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.plan import CloudSettings, Plan
from labkit.config import LabConfig, LocalCloudConfig, ModelConfig
from labkit.errors import ConfigError
from localcloud.cloud import CloudOptions, LocalCloud


@dataclass(frozen=True)
class Endpoints:
    target: str  # local | aws
    function_url: str = ""
    server_url: str = ""
    s3_endpoint_url: str = ""  # "" on AWS
    input_bucket: str = ""
    output_bucket: str = ""
    lambda_endpoint: str = ""  # the Lambda API ("" on AWS: the region's own)
    api_function: str = ""
    s3_function: str = ""  # the function uploads to the input bucket invoke
    function_names: dict[str, str] = dataclasses.field(default_factory=dict)  # localcloud.yaml name -> deployed
    region: str = "us-east-1"
    platform_log: str = ""  # the local platform's aggregate log (START/END/REPORT lines)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Endpoints:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def model_config(cloud: CloudSettings, base: ModelConfig, sweep_update: dict[str, Any]) -> ModelConfig:
    """The local cloud's model: the plan's `cloud` section (and a model sweep's value) over the config's."""
    name = str(sweep_update.get("model") or cloud.model or base.name)
    source = str(sweep_update.get("model_source") or cloud.model_source or base.source)
    model = ModelConfig(name=name, source=source, path=cloud.model_path or base.path)
    model.validate("plan cloud.model")
    return model


def local_cloud_config(config: LocalCloudConfig, cloud: CloudSettings) -> LocalCloudConfig:
    """The config's functions with the plan's per-function settings applied (unknown names are errors)."""
    names = {fn.name for fn in config.functions}
    unknown = sorted(set(cloud.functions) - names)
    if unknown:
        raise ConfigError(f"plan cloud.functions: {unknown} are not functions of the local cloud "
                          f"(config/localcloud.yaml has {', '.join(sorted(names))})")  # fmt: skip
    functions = []
    for fn in config.functions:
        settings = cloud.functions.get(fn.name)
        changes = {k: v for k, v in (settings.model_dump() if settings else {}).items() if v is not None}
        functions.append(dataclasses.replace(fn, **changes))
    return dataclasses.replace(config, functions=tuple(functions))


def cloud_parts(plan: Plan) -> tuple[str, ...]:
    """The parts of the local cloud the plan's workloads use (s3, faas, server), in start order."""
    from experiments.plan import FUNCTION_TARGET, SERVER_TARGET, HttpWorkload

    kinds = {w.kind for w in plan.workloads}
    targets = {w.target for w in plan.workloads if isinstance(w, HttpWorkload)}
    wanted = {
        "s3": "s3-replay" in kinds,
        "faas": bool(kinds & {"s3-replay", "burst", "cold-probe"}) or FUNCTION_TARGET in targets,
        "server": SERVER_TARGET in targets,
    }
    return tuple(part for part, used in wanted.items() if used)


def start_local_cloud(plan: Plan, config: LabConfig, work_dir: Path, sweep_update: dict[str, Any]) -> LocalCloud:
    """The local cloud for (a sub-run of) the plan, started (only the parts it uses); the caller closes it."""
    cloud_config = local_cloud_config(config.localcloud, plan.cloud)
    runtime = str(sweep_update.get("runtime") or plan.cloud.runtime) or None
    trigger = str(sweep_update.get("s3_trigger") or plan.cloud.s3_trigger) or None
    parts = cloud_parts(plan)
    if "s3" in parts and "server" not in parts and _needs_server(cloud_config, trigger):
        parts = (*parts, "server")  # the S3 trigger forwards to the server
    options = CloudOptions(parts=parts, keepalive_s=plan.cloud.keepalive_s, runtime=runtime,
                           server_workers=plan.cloud.server_workers, s3_trigger=trigger,
                           model=model_config(plan.cloud, cloud_config.model, sweep_update))  # fmt: skip
    return LocalCloud(cloud_config, work_dir, options).start()


def _needs_server(config: LocalCloudConfig, trigger: str | None) -> bool:
    """Whether the S3-triggered function forwards to the server (handlers.lambda_s3_forward)."""
    name = trigger or config.s3.trigger_function
    return any(fn.name == name and fn.handler.startswith("handlers.lambda_s3_forward.") for fn in config.functions)


def local_endpoints(cloud: LocalCloud, config: LabConfig) -> Endpoints:
    e = cloud.endpoints
    api_routes = [r.function for r in config.localcloud.api_routes]
    return Endpoints(target="local", function_url=e.faas_url, server_url=e.server_url,
                     s3_endpoint_url=e.s3_endpoint_url, input_bucket=e.input_bucket, output_bucket=e.output_bucket,
                     lambda_endpoint=e.faas_url, api_function=api_routes[0] if api_routes else "",
                     s3_function=cloud.s3_trigger,
                     platform_log=e.aggregate_log)  # fmt: skip


def aws_endpoints(config: LabConfig) -> Endpoints:
    """The deployed stack's endpoints (ConfigError saying to deploy when there are none)."""
    from awslab.endpoints import Endpoints as Deployed
    from awslab.endpoints import endpoints_path, read_endpoints

    path = endpoints_path()  # none: http workloads may still have LOADLAB_LAMBDA_URL / LOADLAB_EC2_URL
    deployed = (read_endpoints(path) if path.is_file() else Deployed("", "us-east-1", "http")).as_dict()
    lam = config.targets.get("lambda")
    ec2 = config.targets.get("ec2")
    function_url = (lam.resolved_url() if lam else "") or deployed["targets"]["lambda"]["url"]
    server_url = (ec2.resolved_url() if ec2 else "") or deployed["targets"]["ec2"]["url"]
    return Endpoints(target="aws", function_url=function_url, server_url=server_url,
                     input_bucket=deployed["buckets"]["input"], output_bucket=deployed["buckets"]["output"],
                     api_function=deployed["functions"]["api"],
                     s3_function=deployed["functions"].get("s3_trigger") or deployed["functions"]["s3"],
                     function_names=deployed.get("function_names") or {},
                     region=deployed["region"])  # fmt: skip


def check_endpoints(plan: Plan, endpoints: Endpoints) -> None:
    """Every workload has somewhere to go (before anything is sent)."""
    from experiments.plan import FUNCTION_TARGET, SERVER_TARGET, HttpWorkload, S3ReplayWorkload

    for w in plan.workloads:
        missing = ""
        if isinstance(w, HttpWorkload) and w.target == FUNCTION_TARGET and not endpoints.function_url:
            missing = "the function front's URL (set LOADLAB_LAMBDA_URL or `make deploy`)"
        elif isinstance(w, HttpWorkload) and w.target == SERVER_TARGET and not endpoints.server_url:
            missing = "the server's URL (set LOADLAB_EC2_URL or deploy with --ec2)"
        elif isinstance(w, S3ReplayWorkload) and not endpoints.input_bucket:
            missing = "the input bucket"
        elif w.kind in ("burst", "cold-probe") and not (endpoints.api_function or getattr(w, "function", "")):
            missing = "the function's name"
        if missing:
            raise ConfigError(f"workload {w.name!r} ({plan.target}): no {missing}")
