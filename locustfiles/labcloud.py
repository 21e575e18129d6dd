"""The local cloud behind a plain `locust` in the repo root (locust.conf sets --lab-local-cloud).

At Locust's init, in the master or the only process (never in a worker), when --lab-local-cloud is set and
no --host was given: start the local cloud (function platform and gunicorn server) on loopback and make
its function front the default Host. It is stopped when Locust quits.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from labkit.config import REPO_ROOT, ModelConfig, load_config
from localcloud.cloud import CloudOptions, LocalCloud

log = logging.getLogger(__name__)
WORK_DIR = REPO_ROOT / ".cache" / "locust-localcloud"
_cloud: dict[str, LocalCloud] = {}


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
    environment.host = cloud.endpoints.faas_url
    log.warning("local cloud up: local-faas %s, local-server %s", cloud.endpoints.faas_url,
                cloud.endpoints.server_url)  # fmt: skip
    return cloud


def url_for(target: str) -> str:
    """The local cloud's URL for a local target name, "" when no local cloud runs here or for other targets."""
    cloud = _cloud.get("cloud")
    if cloud is None:
        return ""
    return {"local-faas": cloud.endpoints.faas_url, "local-server": cloud.endpoints.server_url}.get(target, "")


def stop() -> None:
    cloud = _cloud.pop("cloud", None)
    if cloud is not None:
        cloud.close()
