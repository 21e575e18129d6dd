"""Shared fixtures for the handlers tests: the smallcnn model env, images, fresh adapter imports."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from handlers_testkit import make_image_bytes

MODEL_ENV_VARS = (
    "MODEL_SOURCE", "MODEL_PATH", "MODEL_URI", "MODEL_DIR", "MODEL_FILE", "MODEL_SEED", "LABELS_PATH",
    "ORT_THREADS", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_NAME", "OUTPUT_BUCKET", "MODEL_RUNTIME",
    "MODEL_S3_CACHE",
)  # fmt: skip


@pytest.fixture(scope="session")
def model_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture
def smallcnn_env(monkeypatch: pytest.MonkeyPatch, model_cache_dir: Path) -> Path:
    """Environment selecting the built-in smallcnn, cached for the whole session."""
    for name in MODEL_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MODEL_NAME", "smallcnn")
    monkeypatch.setenv("MODEL_CACHE_DIR", str(model_cache_dir))
    monkeypatch.setenv("ORT_THREADS", "1")
    return model_cache_dir


@pytest.fixture
def fresh_import() -> Iterator[Callable[[str], ModuleType]]:
    """Import an adapter module anew (a new process, as far as its runtime state goes)."""
    imported: list[str] = []

    def _import(name: str) -> ModuleType:
        sys.modules.pop(name, None)
        imported.append(name)
        return importlib.import_module(name)

    yield _import
    for name in imported:
        sys.modules.pop(name, None)


@pytest.fixture
def jpeg_bytes() -> bytes:
    return make_image_bytes(320, 240, "JPEG")


@pytest.fixture
def png_bytes() -> bytes:
    return make_image_bytes(200, 300, "PNG", seed=1)
