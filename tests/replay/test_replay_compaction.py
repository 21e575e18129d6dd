"""A standalone replay (`python -m replay`, not inside an experiment) writes its records' columnar copy as it goes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from replay_traces import write_counts

from analysis import colcache
from analysis.compactor import Compactor
from analysis.fastread import header_of
from analysis.frame import load_frame
from labkit.records import iter_records
from localcloud.s3 import MotoS3Server
from replay.__main__ import main

pytestmark = pytest.mark.timeout(120)


def test_records_are_compacted_while_the_replay_goes(
    moto: MotoS3Server,
    tmp_path: Path,
    quick_compactor: Callable[[str], list[Compactor]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    rounds = quick_compactor("replay.runner.Compactor")
    moto.client("s3").create_bucket(Bucket="compacted-in")
    trace = write_counts(tmp_path / "flat.csv", [100] * 3)
    args = ["--s3-endpoint", moto.endpoint_url, "--no-report", "--bucket", "compacted-in", "--window", "all"]
    args += ["--speedup", "60", "--peak-rps", "20", "--process", "uniform", "--runs", str(tmp_path / "runs")]
    assert main([str(trace), *args]) == 0, capsys.readouterr().err[-3000:]

    [run_dir] = (tmp_path / "runs").iterdir()
    path = run_dir / "records" / "replay.csv"
    header, header_end = header_of(path)
    with path.open("rb") as handle:
        links = colcache.chain(handle, path, header, header_end)
    assert len(rounds) == 1 and rounds[0].segments_written >= 1
    assert links and links[0].start == header_end  # the copy starts at the first row and chains on
    records = list(iter_records(path))
    assert len(records) == 60
    frame = load_frame([path], columns=["request_id", "object_key", "ok"])  # the copy, then the CSV past it
    assert sorted(frame["request_id"]) == sorted(r.request_id for r in records)
    assert sorted(frame["object_key"]) == sorted(r.object_key for r in records)
