"""`locust` in the repo root opens the web UI on this file (see locust.conf): open-model inference load.

With no Host configured, the local cloud (function platform + gunicorn server, loopback) is started at init
and its function front becomes the Host. The page opens on the lab's own form (locustfiles/webui.py): shape,
rate, duration, target (config/targets.yaml), model; Locust's users / ramp-up fields are not used (the rate is
in the schedule). One run dir per test under runs/, with its report written when the test stops and linked
from the page. Distributed: `locust --processes 4` (the master listens on 127.0.0.1 only, locust.conf), or
`locust --master --master-bind-host 0.0.0.0` here and `locust --worker --master-host HOST` on other machines.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from locust import events
from locust.runners import MasterRunner

from locustfiles import webui
from locustfiles.inference import InferenceUser, OpenModelShape

__all__ = ["InferenceUser", "OpenModelShape", "webui"]
log = logging.getLogger("loadlab")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost; False for "*", 0.0.0.0 and every other address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@events.init.add_listener
def _warn_open_master(environment: Any, **_kwargs: Any) -> None:
    opts = environment.parsed_options
    if not isinstance(environment.runner, MasterRunner) or opts is None:
        return
    host = str(getattr(opts, "master_bind_host", "*"))
    if not is_loopback(host):
        log.warning("the Locust master listens on %s:%s (not loopback, no authentication): anyone who can reach "
                    "that port can join as a worker and receive the test plan", host,
                    opts.master_bind_port)  # fmt: skip
