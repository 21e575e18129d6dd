"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from analysis.compactor import Compactor


@pytest.fixture
def quick_compactor(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], list[Compactor]]:
    """quick_compactor("module.Compactor") -> the compactors the code under test makes by that name, each doing a
    round every 50 ms of whatever rows are new (a run's own waits for 16 MiB or 30 s)."""

    def patch(where: str) -> list[Compactor]:
        made: list[Compactor] = []

        def quick(records_dir: Path) -> Compactor:
            made.append(Compactor(records_dir, interval_s=0.05, min_bytes=1, max_age_s=0.0))
            return made[-1]

        monkeypatch.setattr(where, quick)
        return made

    return patch
