"""`python -m labkit.guardian --run-dir DIR --watch-fd FD --runner-pid PID`: the watchman of one run.

Started by `labkit.runctx.RunContext` in a session of its own, it blocks reading the pipe FD whose other end
only the runner holds. When the runner closes the run it writes "done" and the guardian exits. When the pipe
reaches end-of-file without "done", the runner died (e.g. `kill -9`): the guardian stops every process that
carries the run's id (SIGTERM, then SIGKILL 2 s later), marks the run `interrupted` in its manifest (records
written so far stay and can be analysed) and exits. It never sends traffic and holds no other resource.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from labkit.procs import run_processes, stop_processes
from labkit.rundir import RunDir


def _read_until_eof(fd: int) -> bytes:
    data = b""
    while True:
        try:
            chunk = os.read(fd, 64)
        except InterruptedError:
            continue
        if not chunk:
            return data
        data += chunk


def take_over(run_dir: Path, runner_pid: int) -> None:
    """The runner is gone: stop its processes and say so in the manifest."""
    run = RunDir(run_dir)
    leftovers = run_processes(run.run_id, exclude={os.getpid()})
    survivors = stop_processes(leftovers, timeout_s=2.0)
    print(f"guardian: runner {runner_pid} died; stopped {len(leftovers)} processes of run {run.run_id}"
          f"{f', {survivors} survived SIGKILL' if survivors else ''}", flush=True)  # fmt: skip
    try:
        manifest = run.read_manifest()
    except Exception as exc:  # the manifest itself may be torn: leave it, say so in the log
        print(f"guardian: cannot read the manifest ({exc})", flush=True)
        return
    if manifest.get("status") == "running":
        run.finish(status="interrupted", note=f"the runner (pid {runner_pid}) died without closing the run "
                   f"(killed?); the guardian stopped its {len(leftovers)} processes at {time.time():.3f}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.guardian", description=__doc__)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--watch-fd", type=int, required=True)
    parser.add_argument("--runner-pid", type=int, required=True)
    args = parser.parse_args(argv)
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # a terminal's Ctrl-C is the runner's to handle
    if _read_until_eof(args.watch_fd).startswith(b"done"):
        return 0
    take_over(args.run_dir, args.runner_pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
