"""The inference service: one pure core and thin adapters (API Gateway, S3 events, WSGI server).

Deployed alone (e.g. to AWS Lambda), so nothing here imports the lab's other packages.
`IMPORT_START_S` is taken when the package is first imported, i.e. at the start of an adapter's
import: it is the origin of the reported `init_ms` (import + model load).
"""

from __future__ import annotations

import time

IMPORT_START_S: float = time.perf_counter()
