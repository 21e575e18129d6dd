"""`python -m localcloud up`: start the local cloud on 127.0.0.1 and keep it up until Ctrl-C.

The endpoints are printed and written to `.cache/localcloud.json` (for tools and scripts).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        config = load_config(args.config_dir)
        options = CloudOptions(
            parts=tuple(p for p in args.parts.split(",") if p),
            keepalive_s=args.keepalive_s,
            model=ModelConfig(name=args.model) if args.model else None,
            server_workers=args.workers,
        )
        with LocalCloud(config.localcloud, args.work_dir, options).start() as cloud:
            ENDPOINTS_FILE.parent.mkdir(parents=True, exist_ok=True)
            ENDPOINTS_FILE.write_text(json.dumps(cloud.endpoints.as_dict(), indent=2) + "\n")
            for name, value in cloud.endpoints.as_dict().items():
                print(f"{name:16} {value}")
            print("local cloud is up; Ctrl-C stops it", flush=True)
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                print("stopping...", flush=True)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        ENDPOINTS_FILE.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
