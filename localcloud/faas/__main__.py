"""`python -m localcloud.faas`: run the Lambda-like platform and its HTTP front until Ctrl-C.

Example::

    python -m localcloud.faas --function predict=handlers.lambda_api.handler --memory-mb 2048 \\
        --keepalive-s 60 --route "POST /predict predict 2.0" --log-dir runs/faas-logs --port 9001
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from labkit.errors import ConfigError, LabError
from localcloud.faas.apigw import ApiRoute
from localcloud.faas.http_front import start_platform_server
from localcloud.faas.platform import Platform
from localcloud.faas.spec import FunctionSpec


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m localcloud.faas", description=__doc__.splitlines()[0])
    parser.add_argument("--function", action="append", required=True, help="NAME=module.function (repeatable)")
    parser.add_argument("--route", action="append", default=[], help='"METHOD /path NAME [1.0|2.0]"')
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--timeout-s", type=float, default=30.0)
    parser.add_argument("--keepalive-s", type=float, default=600.0)
    parser.add_argument("--concurrency-limit", type=int, default=10)
    parser.add_argument("--log-dir", type=Path, default=Path("runs/faas-logs"))
    parser.add_argument("--port", type=int, default=0)
    return parser.parse_args(argv)


def _specs(args: argparse.Namespace) -> list[FunctionSpec]:
    specs = []
    for item in args.function:
        name, sep, handler = item.partition("=")
        if not sep:
            raise ConfigError(f"--function {item!r}: expected NAME=module.function")
        specs.append(
            FunctionSpec(
                name=name,
                handler=handler,
                memory_mb=args.memory_mb,
                timeout_s=args.timeout_s,
                keepalive_s=args.keepalive_s,
                concurrency_limit=args.concurrency_limit,
                python_path=(Path.cwd(),),
            )
        )
    return specs


def _routes(args: argparse.Namespace) -> list[ApiRoute]:
    routes = []
    for item in args.route:
        parts = item.split()
        if len(parts) not in (3, 4):
            raise ConfigError(f"--route {item!r}: expected 'METHOD /path NAME [1.0|2.0]'")
        routes.append(ApiRoute(parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else "2.0"))
    return routes


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parse(argv)
        with Platform(_specs(args), args.log_dir) as platform:
            server = start_platform_server(platform, port=args.port, routes=_routes(args))
            print(f"faas platform at {server.url} (logs in {args.log_dir}); Ctrl-C to stop", flush=True)
            try:
                threading.Event().wait()
            finally:
                server.close()
    except KeyboardInterrupt:
        return 130
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
