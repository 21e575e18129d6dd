"""Fixtures for the replay tests: a tiny loopback S3 (fake_s3.py), small trace files, a moto server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_s3 import FakeS3, Plan
from replay_traces import write_counts

from localcloud.s3 import MotoS3Server


@pytest.fixture
def fake_s3() -> Iterator[Callable[[Plan | None], FakeS3]]:
    """fake_s3(plan) -> a started FakeS3; all are closed after the test."""
    started: list[FakeS3] = []

    def _start(plan: Plan | None = None) -> FakeS3:
        server = FakeS3(plan).start()
        started.append(server)
        return server

    yield _start
    for server in started:
        server.close()


@pytest.fixture
def flat_trace(tmp_path: Path) -> Path:
    """Ten one-minute bins of 100 requests each (1998-06-30 12:00-12:10 GMT)."""
    return write_counts(tmp_path / "flat.csv", [100] * 10)


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3Server]:
    with MotoS3Server(log_path=tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server
