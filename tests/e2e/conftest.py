"""The real local cloud on loopback (smallcnn model, private model cache), shared by this folder's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.config import ModelConfig, load_config
from localcloud.cloud import CloudOptions, LocalCloud


@pytest.fixture(scope="session")
def e2e_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-models")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, e2e_model_cache: Path) -> Iterator[LocalCloud]:
    options = CloudOptions(keepalive_s=120, model=ModelConfig(name="smallcnn"), server_workers=2,
                           model_cache_dir=e2e_model_cache)  # fmt: skip
    with LocalCloud(load_config().localcloud, tmp_path_factory.mktemp("cloud"), options).start() as running:
        yield running
