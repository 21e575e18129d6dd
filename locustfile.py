"""`locust` in the repo root opens the web UI on this file (see locust.conf): open-model inference load.

With no Host configured, the local cloud (function platform + gunicorn server, loopback) is started at init
and its function front becomes the Host. The page opens on the lab's own form (locustfiles/webui.py): shape,
rate, duration, target (config/targets.yaml), model; Locust's users / ramp-up fields are not used (the rate is
in the schedule). One run dir per test under runs/, with its report written when the test stops and linked
from the page. Distributed: `locust --processes 4` (the master listens on 127.0.0.1 only: locust.conf), or
`locust --master --master-bind-host 0.0.0.0` here and `locust --worker --master-host HOST` on other machines
(the log warns when the master listens on a non-loopback address).
"""

from locust import events

from locustfiles import labcloud, webui
from locustfiles.inference import InferenceUser, OpenModelShape

__all__ = ["InferenceUser", "OpenModelShape", "webui"]
events.init.add_listener(labcloud.warn_if_open_master)
