"""Which targets a `--target` name means, where they are (config/targets.yaml + environment variables) and
what each one is in a plan (experiments.plan): the plan's target (local | aws) and the workload's target
(function | server)."""

from __future__ import annotations

from labkit.config import LabConfig, TargetConfig
from labkit.errors import ConfigError

ALIASES = {"local": ("local-faas", "local-server")}  # `local`: both local targets, at the same time
# target kind -> (plan target, http workload target); the records' `target` is the kind again
PLAN_ROLES = {
    "local-faas": ("local", "function"),
    "local-server": ("local", "server"),
    "lambda": ("aws", "function"),
    "ec2": ("aws", "server"),
}


def resolve_targets(name: str, config: LabConfig) -> list[TargetConfig]:
    """The targets `name` stands for (ConfigError listing the known names otherwise)."""
    if name in ALIASES:
        return [config.target(member) for member in ALIASES[name]]
    if name not in config.targets:
        known = ", ".join([*sorted(config.targets), *ALIASES])
        raise ConfigError(f"unknown target {name!r}; expected one of: {known} (config/targets.yaml)")
    return [config.target(name)]


def plan_roles(targets: list[TargetConfig]) -> tuple[str, list[str]]:
    """The plan target (local | aws) of `targets` and each one's workload target (ConfigError when mixed)."""
    roles = [PLAN_ROLES[t.kind] for t in targets]
    plan_targets = sorted({plan_target for plan_target, _ in roles})
    if len(plan_targets) != 1:
        names = ", ".join(t.name for t in targets)
        raise ConfigError(f"targets {names} mix the local cloud and AWS; run them one --target at a time")
    return plan_targets[0], [workload_target for _, workload_target in roles]


def remote_url(target: TargetConfig) -> str:
    """The base URL of a non-local target, or a ConfigError that says what to set."""
    url = target.resolved_url()
    if url:
        return url.rstrip("/")
    how = f"set {target.url_env} (e.g. export {target.url_env}=https://...)" if target.url_env else ""
    hint = " or ".join(p for p in (how, f"put a url under targets.{target.name} in config/targets.yaml") if p)
    raise ConfigError(f"target {target.name!r} has no URL: {hint}; `make deploy` creates the AWS stack and fills it in")
