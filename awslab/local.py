"""`--target local`: the same experiments against the embedded local cloud instead of AWS.

The local cloud's function platform (localcloud.cloud.LocalCloud, only its `faas` part) starts on
loopback inside the run dir (`logs/localcloud/`); the experiments send their requests to its
API-Gateway-like front (the `local-faas` target of config/targets.yaml) and make their configuration
calls (update_function_configuration + the function_updated waiter) through boto3 on its Lambda API,
so a memory change or the cold-start bump starts new environments exactly as on AWS. Collection reads
the platform's own REPORT lines (its aggregate log) instead of CloudWatch.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from awslab.aws import AwsContext
from awslab.collect import join_run
from labkit.config import LabConfig, ModelConfig
from labkit.rundir import RunDir
from localcloud.cloud import TEST_CREDENTIALS, CloudOptions, LocalCloud

LOCAL_TARGET = "local"  # the --target value
FAAS_TARGET = "local-faas"  # the targets.yaml entry it uses (predict path, function name)
LOCAL_REPORTS_LOG = "local-faas.log"


def cloud_options(model: str, keepalive_s: float | None, model_cache_dir: Path | None = None) -> CloudOptions:
    """Only the function platform; the model and keep-alive of config/localcloud.yaml unless given."""
    return CloudOptions(
        parts=("faas",),
        keepalive_s=keepalive_s,
        model=ModelConfig(name=model) if model else None,
        model_cache_dir=model_cache_dir,
    )


@contextmanager
def local_cloud(config: LabConfig, work_dir: Path, options: CloudOptions) -> Iterator[LocalCloud]:
    """The local cloud, started (builds the model on first use) and closed on exit."""
    with LocalCloud(config.localcloud, work_dir, options) as cloud:
        cloud.start()
        yield cloud


def local_context(faas_url: str) -> AwsContext:
    """boto3 clients aimed at the local platform's Lambda API, with its dummy credentials."""
    return AwsContext(
        region=TEST_CREDENTIALS["AWS_REGION"],
        endpoint_url=faas_url,
        access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def collect_local(run: RunDir, aggregate_log: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    """Copy the platform's REPORT lines where collection keeps CloudWatch's, then join them to the records."""
    target = run.logs_dir / "cloudwatch" / LOCAL_REPORTS_LOG
    target.parent.mkdir(parents=True, exist_ok=True)
    if aggregate_log.is_file():
        shutil.copyfile(aggregate_log, target)
    summary = {**join_run(run, progress), "source": str(aggregate_log)}
    run.update_manifest(local_collect=summary)
    return summary
