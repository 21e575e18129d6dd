"""Which targets a `--target` name means and where they are (config/targets.yaml + environment variables)."""

from __future__ import annotations

from labkit.config import LabConfig, TargetConfig
from labkit.errors import ConfigError

ALIASES = {"local": ("local-faas", "local-server")}  # `local`: both local targets, one after the other
LOCAL_PARTS = {"local-faas": "faas", "local-server": "server"}


def resolve_targets(name: str, config: LabConfig) -> list[TargetConfig]:
    """The targets `name` stands for, in run order (ConfigError listing the known names otherwise)."""
    if name in ALIASES:
        return [config.target(member) for member in ALIASES[name]]
    if name not in config.targets:
        known = ", ".join([*sorted(config.targets), *ALIASES])
        raise ConfigError(f"unknown target {name!r}; expected one of: {known} (config/targets.yaml)")
    return [config.target(name)]


def remote_url(target: TargetConfig) -> str:
    """The base URL of a non-local target, or a ConfigError that says what to set."""
    url = target.resolved_url()
    if url:
        return url.rstrip("/")
    how = f"set {target.url_env} (e.g. export {target.url_env}=https://...)" if target.url_env else ""
    hint = " or ".join(p for p in (how, f"put a url under targets.{target.name} in config/targets.yaml") if p)
    raise ConfigError(f"target {target.name!r} has no URL: {hint}; `make deploy` creates the AWS stack and fills it in")


def cloud_parts(targets: list[TargetConfig]) -> tuple[str, ...]:
    """The local cloud parts the local targets among `targets` need (empty: no local cloud)."""
    return tuple(LOCAL_PARTS[t.kind] for t in targets if t.is_local and t.kind in LOCAL_PARTS)
