"""The analysis bench's peers compute what ours does: the 10 s windows' p99 per target, equal to ours."""

from __future__ import annotations

import numpy as np
import pytest

from bench.analysis_peers import PEER_WORK, polars_frame
from bench.analysis_records import synthetic_frame, write_records
from bench.bench_analysis import _ours


@pytest.fixture(scope="module")
def frame():
    return synthetic_frame(60_000, 3, seed=7)  # 67 s per target: 7 windows of 10 s


def _assert_same(ours: dict, peer: dict) -> None:
    assert sorted(peer) == sorted(ours)
    for target, p99 in ours.items():
        assert len(peer[target]) == len(p99) > 5
        np.testing.assert_allclose(peer[target], p99, rtol=0, atol=1e-9)


@pytest.mark.parametrize("mode", ["peer-subset-memory", "peer-full-memory", "peer-polars-memory"])
def test_peer_in_memory_matches_ours(frame, mode):
    data = polars_frame(frame) if mode == "peer-polars-memory" else frame
    _assert_same(_ours(frame), PEER_WORK[mode](data))


@pytest.mark.parametrize("mode", ["peer-subset-disk", "peer-full-disk", "peer-polars-disk"])
def test_peer_from_csv_matches_ours(frame, mode, tmp_path):
    write_records(frame, tmp_path / "records")
    _assert_same(_ours(frame), PEER_WORK[mode](tmp_path))
