"""A real moto server (S3, SQS and the rest of the AWS API) in a subprocess on a loopback port."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from labkit.errors import TargetError
from labkit.net import LOOPBACK, free_port
from localcloud.lifecycle import Service
from localcloud.procs import PORT_CLASH_MARKERS, ManagedProcess

DUMMY_ACCESS_KEY = "testing"
DUMMY_SECRET_KEY = "testing"
DUMMY_REGION = "us-east-1"
_START_ATTEMPTS = 3


def make_client(service: str, endpoint_url: str, max_pool_connections: int = 10) -> Any:
    """A boto3 client for `service` against a local endpoint, with dummy credentials."""
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint_url,
        aws_access_key_id=DUMMY_ACCESS_KEY,
        aws_secret_access_key=DUMMY_SECRET_KEY,
        region_name=DUMMY_REGION,
        config=Config(
            max_pool_connections=max_pool_connections,
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": "path"},
        ),
    )


class MotoS3Server(Service):
    """`python -m moto.server` on a free loopback port; a context manager.

    `endpoint_url` serves every AWS service moto implements (S3 and SQS are the ones used here).
    """

    def __init__(
        self,
        log_path: Path | None = None,
        host: str = LOOPBACK,
        port: int = 0,
        boot_timeout_s: float = 60.0,
    ) -> None:
        if log_path is None:
            log_path = Path(tempfile.mkdtemp(prefix="localcloud-moto-")) / "moto.log"
        self.log_path = Path(log_path)
        self.host = host
        self.port = port
        self.boot_timeout_s = boot_timeout_s
        self._proc: ManagedProcess | None = None

    @property
    def endpoint_url(self) -> str:
        if self._proc is None:
            raise TargetError("moto server is not running; call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def process(self) -> ManagedProcess:
        if self._proc is None:
            raise TargetError("moto server is not running; call start() first")
        return self._proc

    def start(self) -> MotoS3Server:
        """Start moto and wait until it answers; retries on another port if the port was taken."""
        if self._proc is not None:
            raise TargetError(f"moto server already running at {self.endpoint_url}")
        fixed_port = self.port != 0
        for attempt in range(1, _START_ATTEMPTS + 1):
            port = self.port if fixed_port else free_port(self.host)
            proc = ManagedProcess(
                [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(port)],
                self.log_path,
                name=f"moto server :{port}",
                stop_timeout_s=5.0,
            ).start()
            try:
                proc.wait_http_ok(f"http://{self.host}:{port}/moto-api/", self.boot_timeout_s, "moto server")
            except TargetError:
                proc.stop()
                clash = proc.log_mentions(PORT_CLASH_MARKERS)
                if fixed_port or not clash or attempt == _START_ATTEMPTS:
                    raise
                continue
            self.port, self._proc = port, proc
            return self
        raise TargetError(f"moto server did not start after {_START_ATTEMPTS} attempts; see {self.log_path}")

    def client(self, service: str, max_pool_connections: int = 10) -> Any:
        """A boto3 client for `service` (e.g. "s3", "sqs") against this server."""
        return make_client(service, self.endpoint_url, max_pool_connections)

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        if self._proc is not None:
            proc, self._proc = self._proc, None
            proc.stop()
