"""Pre-build built-in models (e.g. into a Lambda container image) so no cold start pays for it.

python -m handlers.models build resnet50 mobilenetv2 --cache-dir /opt/models [--seed 0]
python -m handlers.models list
python -m handlers.models upload mobilenetv2 s3://models/mobilenetv2.onnx [--endpoint-url http://127.0.0.1:PORT]
    (for MODEL_SOURCE=s3; the local cloud does this itself for a built-in `model.name` with `source: s3`)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from handlers.errors import ModelError
from handlers.models.store import builtin_model_file, default_cache_dir, upload_builtin_model
from handlers.models.zoo import BUILTIN_MODELS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handlers.models", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build built-in models into the cache dir")
    build.add_argument("names", nargs="+", choices=sorted(BUILTIN_MODELS))
    build.add_argument("--cache-dir", type=Path, default=None)
    build.add_argument("--seed", type=int, default=0)
    sub.add_parser("list", help="list built-in models")
    upload = sub.add_parser("upload", help="build a built-in model and upload it to s3://bucket/key")
    upload.add_argument("name", choices=sorted(BUILTIN_MODELS))
    upload.add_argument("uri")
    upload.add_argument("--endpoint-url", default=None, help="an S3 endpoint (e.g. the local cloud's)")
    upload.add_argument("--cache-dir", type=Path, default=None)
    upload.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "list":
        for name, model in sorted(BUILTIN_MODELS.items()):
            print(f"{name}\tinput {model.input_spec.size_px}px\tweights random")
        return 0
    cache_dir = args.cache_dir or default_cache_dir(os.environ)
    try:
        if args.command == "upload":
            import boto3

            client = boto3.client("s3", endpoint_url=args.endpoint_url)
            etag = upload_builtin_model(client, args.name, args.uri, cache_dir, args.seed)
            print(f"{args.uri}\tETag {etag}")
            return 0
        for name in args.names:
            print(builtin_model_file(name, cache_dir, args.seed))
    except ModelError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
