"""Pre-build built-in models (e.g. into a Lambda container image) so no cold start pays for it.

python -m handlers.models build resnet50 mobilenetv2 --cache-dir /opt/models [--seed 0]
python -m handlers.models list
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from handlers.errors import ModelError
from handlers.models.store import builtin_model_file, default_cache_dir
from handlers.models.zoo import BUILTIN_MODELS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handlers.models", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build built-in models into the cache dir")
    build.add_argument("names", nargs="+", choices=sorted(BUILTIN_MODELS))
    build.add_argument("--cache-dir", type=Path, default=None)
    build.add_argument("--seed", type=int, default=0)
    sub.add_parser("list", help="list built-in models")
    args = parser.parse_args(argv)
    if args.command == "list":
        for name, model in sorted(BUILTIN_MODELS.items()):
            print(f"{name}\tinput {model.input_spec.size_px}px\tweights random")
        return 0
    cache_dir = args.cache_dir or default_cache_dir(os.environ)
    try:
        for name in args.names:
            print(builtin_model_file(name, cache_dir, args.seed))
    except ModelError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
