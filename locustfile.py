"""`locust` in the repo root opens the web UI on this file (see locust.conf): open-model inference load.

With no Host configured, the local cloud (function platform + gunicorn server, loopback) is started at init
and its function front becomes the Host. Pick the shape (ramp, constant, steps, spike, trace), the peak or
constant rate, the duration and the target (local-faas / local-server, or lambda / ec2 / custom = the Host
field; a non-loopback Host needs the "lab yes remote" box) in the web UI's custom parameters. One run dir
per test under runs/, with its report written when the test stops. Distributed: `locust --processes 4`, or
`locust --master` here and `locust --worker --master-host HOST` on other machines.
"""

from locustfiles.inference import InferenceUser, OpenModelShape

__all__ = ["InferenceUser", "OpenModelShape"]
