"""Where uploads go: the local cloud (started here), an S3 API already running, or real AWS S3.

`open_target` returns an `S3Target` context manager; closing it stops whatever it started.
- local (default): starts the local cloud with parts s3 + faas under `work_dir` (so its platform log
  with the REPORT lines is written into the run dir as it happens); results come from its output bucket.
- local with `s3_endpoint`: uploads to that endpoint (dummy credentials); results only if a results
  bucket is named.
- aws: the default boto3 session and region; the bucket must exist; results only if named.
Every uploader client has botocore's own retries off (the replay retries and records each attempt).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from labkit.config import LocalCloudConfig, ModelConfig
from labkit.errors import ConfigError, TargetError
from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.s3.moto_server import DUMMY_ACCESS_KEY, DUMMY_REGION, DUMMY_SECRET_KEY

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
AWS_CREDENTIALS_HINT = (
    "set AWS_PROFILE (a profile from ~/.aws/credentials or `aws configure`), or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary credentials)"
)


@dataclass
class S3Target:
    label: str  # the records' target: local-s3 | s3
    s3: Any  # uploader client
    bucket: str
    results_s3: Any = None  # client for result objects (None: no collection)
    results_bucket: str = ""
    report_logs: list[Path] = field(default_factory=list)  # platform logs with REPORT lines
    description: dict[str, Any] = field(default_factory=dict)
    cloud: LocalCloud | None = None

    def close(self) -> None:
        if self.cloud is not None:
            cloud, self.cloud = self.cloud, None
            cloud.close()

    def __enter__(self) -> S3Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def client_config(pool: int, path_style: bool) -> Config:
    return Config(
        max_pool_connections=pool,
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        s3={"addressing_style": "path"} if path_style else None,
    )


def local_client(endpoint_url: str, pool: int) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=DUMMY_ACCESS_KEY,
        aws_secret_access_key=DUMMY_SECRET_KEY,
        region_name=DUMMY_REGION,
        config=client_config(pool, path_style=True),
    )


def check_bucket(s3: Any, bucket: str, where: str) -> None:
    """Fail early and clearly when the bucket is not there (or not ours)."""
    try:
        s3.head_bucket(Bucket=bucket)
    except NoCredentialsError:
        raise TargetError(f"no AWS credentials found: {AWS_CREDENTIALS_HINT}") from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise TargetError(
            f"bucket {bucket!r} at {where}: {code or exc} (does it exist, and may you write to it?)"
        ) from None
    except BotoCoreError as exc:
        raise TargetError(f"cannot reach S3 at {where}: {exc}") from None


def _local_cloud(config: LocalCloudConfig, work_dir: Path, bucket: str, model: str, pool: int) -> S3Target:
    if bucket and bucket != config.s3.input_bucket:
        raise ConfigError(f"--bucket {bucket!r}: the local cloud triggers its function on uploads to "
                          f"{config.s3.input_bucket!r} only; drop --bucket or use --s3-endpoint")  # fmt: skip
    options = CloudOptions(parts=("s3", "faas"), model=ModelConfig(name=model) if model else None)
    cloud = LocalCloud(config, work_dir, options).start()
    try:
        endpoints = cloud.endpoints
        return S3Target(
            label="local-s3",
            s3=local_client(endpoints.s3_endpoint_url, pool),
            bucket=endpoints.input_bucket,
            results_s3=local_client(endpoints.s3_endpoint_url, 4),
            results_bucket=endpoints.output_bucket,
            report_logs=[Path(endpoints.aggregate_log)],
            description={"kind": "local cloud (s3+faas)", "model": cloud.model.name, **endpoints.as_dict()},
            cloud=cloud,
        )
    except BaseException:
        cloud.close()
        raise


def _endpoint(endpoint_url: str, bucket: str, results_bucket: str, pool: int) -> S3Target:
    s3 = local_client(endpoint_url, pool)
    check_bucket(s3, bucket, endpoint_url)
    return S3Target(
        label="local-s3",
        s3=s3,
        bucket=bucket,
        results_s3=local_client(endpoint_url, 4) if results_bucket else None,
        results_bucket=results_bucket,
        description={"kind": "S3 endpoint", "s3_endpoint_url": endpoint_url, "bucket": bucket},
    )


def _aws(bucket: str, results_bucket: str, pool: int) -> S3Target:
    session = boto3.session.Session()
    if session.get_credentials() is None:
        raise TargetError(f"--target aws: no AWS credentials found: {AWS_CREDENTIALS_HINT}")
    if not session.region_name:
        raise TargetError("--target aws: no AWS region set: set AWS_REGION (or a region in your AWS profile)")
    s3 = session.client("s3", config=client_config(pool, path_style=False))
    check_bucket(s3, bucket, f"AWS S3 ({session.region_name})")
    return S3Target(
        label="s3",
        s3=s3,
        bucket=bucket,
        results_s3=session.client("s3", config=client_config(4, path_style=False)) if results_bucket else None,
        results_bucket=results_bucket,
        description={"kind": "AWS S3", "region": session.region_name, "bucket": bucket},
    )


def open_target(
    target: str,
    *,
    config: LocalCloudConfig,
    work_dir: Path,
    bucket: str,
    results_bucket: str,
    s3_endpoint: str,
    model: str,
    pool: int,
) -> S3Target:
    """The S3 target the options name (see the module docstring)."""
    if target == "aws":
        return _aws(bucket, results_bucket, pool)
    if s3_endpoint:
        return _endpoint(s3_endpoint, bucket or config.s3.input_bucket, results_bucket, pool)
    if results_bucket and results_bucket != config.s3.output_bucket:
        raise ConfigError(f"--results-bucket {results_bucket!r}: the local cloud's function writes to "
                          f"{config.s3.output_bucket!r}; drop --results-bucket")  # fmt: skip
    return _local_cloud(config, work_dir, bucket, model, pool)
