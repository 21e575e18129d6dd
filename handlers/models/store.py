"""Where model files come from: built-in graphs built into a cache, a local path, S3, a mounted dir.

Selection is by environment variables (Lambda style), see `resolve_model`:

    MODEL_SOURCE     builtin | path | s3 | dir   (default: inferred from which variable is set)
    MODEL_NAME       built-in name (default mobilenetv2) or a label for a user model
    MODEL_PATH       local .onnx file                       (source path)
    MODEL_URI        s3://bucket/key of an .onnx file       (source s3; AWS_ENDPOINT_URL honoured)
    MODEL_S3_CACHE   environment | shared: `environment` (the default in a function's execution environment,
                     i.e. when AWS_LAMBDA_FUNCTION_NAME is set) downloads the object at every init, as a
                     fresh Lambda environment with an empty /tmp does, and the file is removed once loaded;
                     `shared` (the default elsewhere) keeps it in the cache, keyed by ETag
    MODEL_DIR        mounted directory (EFS-like) holding MODEL_FILE or <MODEL_NAME>.onnx (source dir)
    MODEL_CACHE_DIR  cache (default ~/.cache/loadlab/models; /tmp/loadlab/models on Lambda)
    MODEL_SEED       seed of the random weights of built-in models (default 0)

Files are written atomically (temporary file in the same directory, then rename), so processes
building or downloading the same model at once never see a partial file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from handlers.errors import ModelError
from handlers.imaging import InputSpec
from handlers.models.zoo import GRAPH_VERSION, builtin

DEFAULT_MODEL_NAME = "mobilenetv2"
SOURCES = ("builtin", "path", "s3", "dir")


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A resolved model file and what to report about it."""

    model_name: str
    weights: str  # "random" (built-in graph) | "user"
    source: str  # one of SOURCES
    path: Path
    input_spec: InputSpec | None  # None: infer from the ONNX input shape
    transient: bool = False  # a per-environment download: remove the file once the model is loaded


def default_cache_dir(env: Mapping[str, str]) -> Path:
    if env.get("MODEL_CACHE_DIR"):
        return Path(env["MODEL_CACHE_DIR"])
    if env.get("AWS_LAMBDA_FUNCTION_NAME"):
        return Path("/tmp/loadlab/models")  # the only writable place on Lambda
    return Path.home() / ".cache" / "loadlab" / "models"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same directory and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def builtin_model_file(name: str, cache_dir: Path, seed: int = 0) -> Path:
    """Path of the cached built-in model, building and writing it first if it is missing."""
    try:
        spec = builtin(name)
    except KeyError as exc:
        raise ModelError("unknown_model", str(exc.args[0])) from exc
    path = cache_dir / f"{spec.name}-g{GRAPH_VERSION}-seed{seed}.onnx"
    if not path.exists():
        atomic_write_bytes(path, spec.build(seed).SerializeToString())
    return path


def parse_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise ModelError("bad_model_uri", f"MODEL_URI must look like s3://bucket/key.onnx, got {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def s3_cache_shared(env: Mapping[str, str]) -> bool:
    """False when every init must download (MODEL_S3_CACHE=environment; the default in a function)."""
    mode = env.get("MODEL_S3_CACHE", "").strip().lower()
    if mode not in ("", "environment", "shared"):
        raise ModelError("bad_model_setting", f"MODEL_S3_CACHE={mode!r}; expected environment or shared")
    return mode == "shared" or (not mode and not env.get("AWS_LAMBDA_FUNCTION_NAME"))


def fetch_s3_model(uri: str, cache_dir: Path, shared: bool = True) -> tuple[Path, str]:
    """Download an s3:// model into the cache: keyed by ETag (a changed object is re-fetched) when
    `shared`, else to a file of this process alone (downloaded every time). Returns the file and its
    weights label: the object's `loadlab-weights` metadata (`random` for a built-in graph that
    `localcloud` uploaded), else `user`."""
    import boto3  # deferred: only this source needs it
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = parse_s3_uri(uri)
    client = boto3.client("s3")
    try:
        head = client.head_object(Bucket=bucket, Key=key)
        tag = head["ETag"].strip('"') if shared else f"env{os.getpid()}"
        path = cache_dir / "s3" / bucket / f"{tag}-{Path(key).name}"
        if not shared or not path.exists():
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            atomic_write_bytes(path, body)
    except (ClientError, BotoCoreError) as exc:
        raise ModelError("model_download_failed", f"could not download {uri}: {exc}") from exc
    weights = head.get("Metadata", {}).get("loadlab-weights", "")
    return path, weights if weights in ("random", "user") else "user"


def upload_builtin_model(client: Any, name: str, uri: str, cache_dir: Path, seed: int = 0) -> str:
    """Build (or take from the cache) a built-in model and put it at `uri` (s3://bucket/key) with `client`
    (creating the bucket if it is missing), tagged `loadlab-weights: random`; returns the object's ETag.
    This is how the local cloud's S3 holds a model for `MODEL_SOURCE=s3` offline."""
    from botocore.exceptions import ClientError

    bucket, key = parse_s3_uri(uri)
    path = builtin_model_file(name, cache_dir, seed)
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError:
        client.create_bucket(Bucket=bucket)
    metadata = {"loadlab-weights": "random", "loadlab-model": builtin(name).name, "loadlab-seed": str(seed)}
    with path.open("rb") as body:
        answer = client.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata)
    return str(answer.get("ETag", "")).strip('"')


def infer_source(env: Mapping[str, str]) -> str:
    source = env.get("MODEL_SOURCE", "").strip().lower()
    if source:
        if source not in SOURCES:
            raise ModelError("bad_model_source", f"MODEL_SOURCE={source!r}; expected one of {SOURCES}")
        return source
    for variable, implied in (("MODEL_URI", "s3"), ("MODEL_PATH", "path"), ("MODEL_DIR", "dir")):
        if env.get(variable):
            return implied
    return "builtin"


def _require(env: Mapping[str, str], variable: str, source: str) -> str:
    value = env.get(variable, "").strip()
    if not value:
        raise ModelError("missing_model_setting", f"MODEL_SOURCE={source} needs {variable} to be set")
    return value


def _user_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise ModelError("model_not_found", f"{what}: no model file at {path}")
    return path


def _dir_model_file(env: Mapping[str, str]) -> Path:
    directory = Path(_require(env, "MODEL_DIR", "dir"))
    name = env.get("MODEL_FILE") or f"{env.get('MODEL_NAME') or DEFAULT_MODEL_NAME}.onnx"
    path = directory / name
    if not path.is_file():
        available = sorted(p.name for p in directory.glob("*.onnx")) if directory.is_dir() else []
        raise ModelError(
            "model_not_found",
            f"MODEL_DIR: no {name} in {directory} (set MODEL_FILE or MODEL_NAME; found {available})",
        )
    return path


def resolve_model(env: Mapping[str, str] | None = None) -> ModelRef:
    """The model selected by the environment; built-in models are built into the cache if needed."""
    env = os.environ if env is None else env
    source = infer_source(env)
    cache_dir = default_cache_dir(env)
    if source == "builtin":
        name = env.get("MODEL_NAME") or DEFAULT_MODEL_NAME
        seed = int(env.get("MODEL_SEED", "0"))
        path = builtin_model_file(name, cache_dir, seed)
        spec = builtin(name)
        return ModelRef(spec.name, "random", source, path, spec.input_spec)
    if source == "path":
        path = _user_file(Path(_require(env, "MODEL_PATH", source)), "MODEL_PATH")
        stem = path.stem
    elif source == "s3":
        uri = _require(env, "MODEL_URI", source)
        shared = s3_cache_shared(env)
        path, weights = fetch_s3_model(uri, cache_dir, shared)
        name = env.get("MODEL_NAME") or Path(parse_s3_uri(uri)[1]).stem
        return ModelRef(name, weights, source, path, None, transient=not shared)
    else:
        path = _dir_model_file(env)
        stem = path.stem
    name = env.get("MODEL_NAME") if source != "dir" and env.get("MODEL_NAME") else stem
    return ModelRef(name, "user", source, path, None)
