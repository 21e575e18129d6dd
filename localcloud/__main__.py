"""`python -m localcloud up`: start the local cloud on 127.0.0.1 and keep it up until Ctrl-C.

The endpoints are printed and written to `.cache/localcloud.json` (for tools and scripts).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from labkit.config import ModelConfig, load_config
from labkit.errors import LabError
from localcloud.cloud import PARTS, CloudOptions, LocalCloud

ENDPOINTS_FILE = Path(".cache/localcloud.json")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m localcloud", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the local cloud and wait for Ctrl-C")
    up.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated parts (default: {','.join(PARTS)})")
    up.add_argument("--keepalive-s", type=float, default=None, help="idle environment expiry (default: config)")
    up.add_argument("--model", default=None, help="built-in model name (default: config/localcloud.yaml)")
    up.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: config)")
    up.add_argument("--work-dir", type=Path, default=Path(".cache/localcloud"), help="logs and state")
    up.add_argument("--config-dir", type=Path, default=None, help="config directory (default: config/)")
    return parser


class StopSignals:
    """SIGTERM and SIGINT without locks: a handler may interrupt anything, itself included, so it only counts.

    The main loop polls the count. While the cloud is starting, the first signal raises KeyboardInterrupt (as
    Ctrl-C does; `LocalCloud.start` stops what it started); later ones only count, so no second signal can
    interrupt the stopping.
    """

    def __init__(self) -> None:
        self.count = 0
        self.starting = True
        self._previous: dict[int, Any] = {}

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.starting and self.count == 1:
            raise KeyboardInterrupt

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self)

    def restore(self) -> None:
        """Put back the handlers there were, unless a stop signal came: then this one stays (it only counts now),
        so a later signal cannot end the process by the default action while it exits (its code stays 130 or 0;
        a second SIGTERM landing after the cleanup once ended it as -15)."""
        self.starting = False
        if self.count:
            return
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)

    def wait(self, poll_s: float = 0.2) -> None:
        """Return once a signal came (a signal cuts a sleep short only by running its handler)."""
        while not self.count:
            time.sleep(poll_s)


def _serve(args: argparse.Namespace, stop: StopSignals) -> int:
    config = load_config(args.config_dir)
    options = CloudOptions(
        parts=tuple(p for p in args.parts.split(",") if p),
        keepalive_s=args.keepalive_s,
        model=ModelConfig(name=args.model) if args.model else None,
        server_workers=args.workers,
    )
    cloud = LocalCloud(config.localcloud, args.work_dir, options)
    try:
        cloud.start()
        stop.starting = False
        ENDPOINTS_FILE.parent.mkdir(parents=True, exist_ok=True)
        ENDPOINTS_FILE.write_text(json.dumps(cloud.endpoints.as_dict(), indent=2) + "\n")
        for name, value in cloud.endpoints.as_dict().items():
            print(f"{name:16} {value}")
        print("local cloud is up; Ctrl-C stops it", flush=True)
        stop.wait()
        print("stopping...", flush=True)
    finally:
        stop.starting = False
        cloud.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = StopSignals()
    stop.install()
    try:
        return _serve(args, stop)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted while starting; everything started was stopped", file=sys.stderr)
        return 130
    finally:
        ENDPOINTS_FILE.unlink(missing_ok=True)
        stop.restore()


if __name__ == "__main__":
    sys.exit(main())
