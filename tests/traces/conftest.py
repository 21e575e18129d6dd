"""Fixtures for the traces tests (helpers live in traces_helpers.py, which also puts the repo root on sys.path)."""

from __future__ import annotations

from pathlib import Path

import pytest
import traces_helpers  # noqa: F401  (sys.path set-up before any `traces` import)


@pytest.fixture
def write_text(tmp_path: Path):
    """write_text(name, text) -> path of a new file in tmp_path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write
