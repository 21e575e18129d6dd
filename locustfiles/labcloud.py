"""The local cloud behind a plain `locust` in the repo root (locust.conf sets --lab-local-cloud).

At Locust's init, in the master or the only process (never in a worker), when --lab-local-cloud is set and
no --host was given: start the local cloud (function platform and gunicorn server) on loopback and make
its function front the default Host. It is stopped when Locust quits. `url_for` maps a target name to the
URL the load goes to: the local cloud's for local-faas / local-server, config/targets.yaml's (or its
environment variable's) for lambda / ec2 unless a Host of its own was typed in. `warn_if_open_master` says
so in the log when a Locust master listens on a non-loopback address (locust.conf binds it to 127.0.0.1).
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Any

from labkit.config import MODEL_NAMES, REPO_ROOT, LabConfig, ModelConfig, load_config
from labkit.errors import ConfigError
from localcloud.cloud import CloudOptions, LocalCloud

log = logging.getLogger(__name__)
WORK_DIR = REPO_ROOT / ".cache" / "locust-localcloud"
_cloud: dict[str, LocalCloud] = {}
_context: dict[str, Any] = {}  # "environment": the Locust environment, "config": the LabConfig, "model": name


def wanted(environment: Any) -> bool:
    from locust.runners import WorkerRunner

    opts = environment.parsed_options
    if opts is None or not getattr(opts, "lab_local_cloud", False):
        return False
    return not environment.host and not isinstance(environment.runner, WorkerRunner)


def start(environment: Any) -> LocalCloud:
    """Start the local cloud for this Locust process and point the default Host at its function front."""
    opts = environment.parsed_options
    model = ModelConfig(name=opts.lab_model) if opts.lab_model else None
    config = load_config()
    log.warning("starting the local cloud (function platform + gunicorn server); first use builds the model")
    cloud = LocalCloud(config.localcloud, Path(WORK_DIR), CloudOptions(parts=("faas", "server"), model=model))
    cloud.start()
    _cloud["cloud"] = cloud
    _context.update(environment=environment, config=config, model=(model or config.localcloud.model).name)
    environment.host = cloud.endpoints.faas_url
    log.warning("local cloud up: local-faas %s, local-server %s", cloud.endpoints.faas_url,
                cloud.endpoints.server_url)  # fmt: skip
    return cloud


def local_urls() -> dict[str, str]:
    """The local targets' URLs by name ({} when no local cloud runs in this process)."""
    cloud = _cloud.get("cloud")
    if cloud is None:
        return {}
    return {"local-faas": cloud.endpoints.faas_url, "local-server": cloud.endpoints.server_url}


def model_name() -> str:
    """The model the local cloud serves ("" when none runs here)."""
    return str(_context.get("model", "")) if _cloud else ""


def url_for(target: str) -> str:
    """The URL of `target`, or "" when the Host is the answer (no local cloud here, a Host typed in for a
    remote target, or a target name config/targets.yaml does not know). ConfigError for lambda / ec2 with no
    URL anywhere: sending their load to the local cloud's Host would be mislabelled."""
    local = local_urls()
    if not local or target in local:
        return local.get(target, "")
    environment, config = _context.get("environment"), _context.get("config")
    host = str(getattr(environment, "host", "") or "")
    if (host and host not in local.values()) or not isinstance(config, LabConfig) or target not in config.targets:
        return ""
    return configured_url(config, target)


def configured_url(config: LabConfig, target: str) -> str:
    """A remote target's URL from config/targets.yaml or its environment variable; ConfigError otherwise."""
    from locustfiles.targets import remote_url

    try:
        return remote_url(config.target(target))
    except ConfigError as exc:
        raise ConfigError(f"{exc}; or give the URL in the web UI's form (URL of the target) or with --host") from None


def switch_model(name: str) -> bool:
    """Restart the local cloud serving model `name` when it serves another one (the web UI's model field);
    True when it restarted. A Host typed in for a remote target is kept."""
    environment = _context.get("environment")
    if not _cloud or environment is None or not name or name == model_name():
        return False
    if name not in MODEL_NAMES:
        raise ConfigError(f"unknown model {name!r}; expected one of: {', '.join(MODEL_NAMES)}")
    host, local_before = environment.host, set(local_urls().values())
    log.warning("restarting the local cloud with model %s (was %s)", name, model_name())
    stop()
    environment.parsed_options.lab_model = name
    start(environment)
    if host and host not in local_before:
        environment.host = host
    return True


def stop() -> None:
    cloud = _cloud.pop("cloud", None)
    _context.clear()
    if cloud is not None:
        cloud.close()


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost; False for "*", 0.0.0.0, "" and every other address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_master_warning(host: str, port: object) -> str | None:
    """What to say about a master bound to `host` (None when it is loopback)."""
    if is_loopback(host):
        return None
    return (f"the Locust master listens on {host}:{port}, not loopback, with no authentication: anyone who can "
            "reach that port can join as a worker. Use --master-bind-host 127.0.0.1 (locust.conf) unless "
            "workers on other machines need it")  # fmt: skip


def warn_if_open_master(environment: Any, **_kwargs: Any) -> None:
    """(init listener) A master bound to a non-loopback address takes workers, and their commands, from
    anyone who can reach its port: no authentication. Say so."""
    from locust.runners import MasterRunner

    opts = environment.parsed_options
    if not isinstance(environment.runner, MasterRunner) or opts is None:
        return
    warning = open_master_warning(str(getattr(opts, "master_bind_host", "*")), opts.master_bind_port)
    if warning:
        log.warning(warning)
