"""Starting one workload of a plan as a child process of the run (so it dies with the run).

- http: Locust headless on the root locustfile.py, reading its workload from the run's plan.json
  (`--lab-plan`, `--lab-workload`); with `processes > 1` a master and forked workers on a private free port
  bound to 127.0.0.1 (never Locust's shared default port);
- s3-replay, burst, cold-probe: `python -m experiments.workload RUN_DIR NAME` (experiments.workload).
Every workload says when it is ready and then waits for the plan's common start (labkit.startsync), so all of
them share one clock and a slow starter delays the start instead of sending late.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from experiments.plan import FUNCTION_TARGET, SERVER_TARGET, HttpWorkload
from experiments.planfile import PLAN_JSON
from experiments.targets import Endpoints
from labkit.net import free_port
from labkit.runctx import Child, RunContext

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = REPO_ROOT / "locustfile.py"


def http_url(workload: HttpWorkload, endpoints: Endpoints) -> str:
    if workload.target == FUNCTION_TARGET:
        return endpoints.function_url
    if workload.target == SERVER_TARGET:
        return endpoints.server_url
    return workload.target.rstrip("/")


def locust_argv(ctx: RunContext, workload: HttpWorkload, url: str, sync_dir: Path, tag: str) -> list[str]:
    """Locust's command line for one http workload (the plan travels as the plan.json path)."""
    out_dir = (ctx.run.path / "locust").resolve()
    prefix = out_dir / tag
    argv = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url,
        "--csv", str(prefix), "--html", f"{prefix}.html", "--only-summary", "--loglevel", "INFO",
        "--lab-run-dir", str(ctx.run.path.resolve()), "--lab-plan", str((ctx.run.path / PLAN_JSON).resolve()),
        "--lab-workload", workload.name, "--lab-tag", tag, "--lab-sync-dir", str(sync_dir.resolve()),
    ]  # fmt: skip
    if workload.processes > 1:
        port = free_port()
        argv += ["--processes", str(workload.processes), "--master-bind-host", "127.0.0.1",
                 "--master-bind-port", str(port), "--master-host", "127.0.0.1", "--master-port", str(port)]  # fmt: skip
    return argv


def start_http(ctx: RunContext, workload: HttpWorkload, endpoints: Endpoints, sync_dir: Path, tag: str) -> Child:
    url = http_url(workload, endpoints)
    log_path = ctx.run.path / "locust" / f"{tag}.log"
    return ctx.spawn(locust_argv(ctx, workload, url, sync_dir, tag), name=f"locust {tag}", log_path=log_path,
                     cwd=log_path.parent)  # fmt: skip


def start_workload_process(ctx: RunContext, name: str, endpoints: Endpoints, sync_dir: Path, tag: str,
                           sub_run: dict[str, object]) -> Child:  # fmt: skip
    """s3-replay / burst / cold-probe: `python -m experiments.workload` in a process of its own."""
    argv = [sys.executable, "-m", "experiments.workload", str(ctx.run.path.resolve()), name,
            "--sync-dir", str(sync_dir.resolve()), "--endpoints", json.dumps(endpoints.as_dict()),
            "--tag", tag, "--sub-run", json.dumps(sub_run)]  # fmt: skip
    return ctx.spawn(argv, name=f"workload {tag}", log_path=ctx.run.logs_dir / f"workload-{tag}.log", cwd=REPO_ROOT)
