"""The serving-architectures study, --quick, end to end on the real local cloud: 4 sub-runs (model from S3 or
built in x S3 trigger forward or chain), each with the server's API, the function front and the chained S3
pipeline at once; every record named by workload and sub-run, every upload one end-to-end record with its hop,
no sub-run reading another's results, one report. About a minute on 2 cores (2 local clouds: the S3 trigger is
re-routed in the running one), so it runs in `make test`."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from experiments.__main__ import main
from labkit.records import iter_records
from labkit.rundir import RunDir

pytestmark = [pytest.mark.timeout(400)]
SOURCES = ("s3", "builtin")
TRIGGERS = ("inference-s3-forward", "inference-s3-chain")


def test_study_architectures_quick_gives_every_architecture_its_records(tmp_path: Path) -> None:
    assert main(["run", "study-architectures", "--quick", "--runs", str(tmp_path)]) == 0
    [path] = list(tmp_path.iterdir())
    run = RunDir.open(path)
    manifest = run.read_manifest()
    assert manifest["status"] == "complete" and manifest["problems"] == []
    records = run.records()
    seen_requests: set[str] = set()
    for source, trigger in itertools.product(SOURCES, TRIGGERS):
        suffix = f"model-source-{source}-s3-trigger-{trigger}"
        for workload in ("api-server", "api-function"):
            mine = [r for r in records if r.scenario == f"{workload}-{suffix}"]
            assert mine and all(r.ok for r in mine), f"{workload}-{suffix}"
            assert {r.model_source for r in mine} == {source}
        results = list(iter_records(path / "records" / f"s3-pipeline-{suffix}-s3-results.csv"))
        uploads = [r for r in iter_records(path / "records" / f"s3-pipeline-{suffix}-replay.csv") if r.ok]
        assert len(results) == len(uploads) > 0, suffix
        for r in results:
            assert r.ok and r.operation == "s3-infer" and r.hops == 1, r.error_message
            assert r.model_source == source and r.duration_ms is not None and r.upstream_ms is not None
            assert r.latency_ms is not None and r.handler_ms is not None
            assert r.latency_ms + 1.0 >= r.handler_ms >= r.upstream_ms - 1.0
        ids = {r.function_request_id for r in results}
        assert not ids & seen_requests, f"{suffix} shares results with another sub-run"
        seen_requests |= ids
    report = (path / "report.md").read_text(encoding="utf-8")
    assert "s3-pipeline-model-source-s3-s3-trigger-inference-s3-chain" in report
