import json
from pathlib import Path

import pytest

from labkit.errors import InputError
from labkit.records import RequestRecord
from labkit.rundir import RunDir, latest_run


def test_create_writes_self_describing_manifest(tmp_path: Path):
    run = RunDir.create(tmp_path, "demo run", config={"rate_rps": 5})
    manifest = json.loads((run.path / "manifest.json").read_text())
    assert manifest["run_id"] == run.run_id and "demo-run" in run.run_id
    assert manifest["status"] == "running"
    assert manifest["config"] == {"rate_rps": 5}
    assert manifest["versions"]["python"].startswith("3.11")
    assert manifest["machine"]["cpu_count"] >= 1
    assert manifest["git_sha"]
    run.finish(records=3)
    finished = run.read_manifest()
    assert finished["status"] == "complete"
    assert finished["ended_unix_s"] >= finished["started_unix_s"]
    assert finished["records"] == 3


def test_records_from_several_producers_are_all_read(tmp_path: Path):
    run = RunDir.create(tmp_path, "s")
    for producer in ("locust-a", "locust-b"):
        with run.writer(producer) as writer:
            writer.write(
                RequestRecord(run_id=run.run_id, request_id=producer, source="locust", scenario="s", target="t")
            )
    assert sorted(r.request_id for r in run.records()) == ["locust-a", "locust-b"]


def test_open_rejects_what_is_not_a_run_dir(tmp_path: Path):
    with pytest.raises(InputError, match="not a run directory"):
        RunDir.open(tmp_path / "nope")
    with pytest.raises(InputError, match="manifest.json is missing"):
        RunDir.open(tmp_path)


def test_latest_run_is_the_newest_by_start(tmp_path: Path):
    first = RunDir.create(tmp_path, "a")
    second = RunDir.create(tmp_path, "b")
    first.finish()  # touching the older manifest must not make it "latest"
    assert latest_run(tmp_path).path == max(first.path, second.path, key=lambda p: p.name)
    with pytest.raises(InputError, match="no run directories"):
        latest_run(tmp_path / "empty")
