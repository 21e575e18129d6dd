"""Fixtures for the AWS tests: dummy credentials, an in-process moto, a moto server on loopback."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from labkit.net import LOOPBACK, free_port

AWS_VARS = (
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONFIG_FILE",
    "LOADLAB_LAMBDA_URL",
    "LOADLAB_EC2_URL",
    "LOADLAB_AWS_ENDPOINTS",
    "LOADLAB_CONFIG_DIR",
)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Dummy credentials and region, nothing from the developer's own AWS set-up."""
    for name in AWS_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_server(moto_server_url: str, aws_env: None) -> str:
    """The moto server, reset to empty for this test."""
    request = urllib.request.Request(f"{moto_server_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return moto_server_url


@pytest.fixture
def smallcnn_model_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Importing the adapters loads a model: make it the small one, cached per session."""
    monkeypatch.setenv("MODEL_NAME", "smallcnn")
    monkeypatch.setenv("MODEL_SOURCE", "builtin")
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "aws-model-cache"))
