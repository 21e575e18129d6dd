"""A short real replay: local cloud (moto S3 + function platform, smallcnn), ~20 uploads, every one joined."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from replay_traces import write_counts

from labkit.records import iter_records
from replay.__main__ import main

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_short_replay_joins_every_upload_with_its_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = write_counts(tmp_path / "evening.csv", [40, 80, 120, 100, 60], start="1998-06-30T21:00")
    args = ["--window", "21:00,21:05", "--speedup", "60", "--peak-rps", "6", "--process", "uniform"]
    args += ["--model", "smallcnn", "--runs", str(tmp_path / "runs"), "--result-timeout-s", "120"]
    code = main([str(trace), *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-3000:]
    [run_dir] = (tmp_path / "runs").iterdir()
    uploads = [r for r in iter_records(run_dir / "records" / "replay.csv") if r.ok]
    joined = list(iter_records(run_dir / "records" / "s3-results.csv"))
    assert len(uploads) == 20  # 400 requests scaled so the 120-request minute is 6/s at 60x: 1 s bins
    assert sorted(r.object_key for r in joined) == sorted(r.object_key for r in uploads)
    for record in joined:
        assert (record.operation, record.ok, record.model_name) == ("s3-infer", True, "smallcnn"), record
        assert record.completion_unix_s > record.actual_send_unix_s >= record.intended_send_unix_s - 0.01
        assert record.latency_ms > 0 and record.cold_start is not None
        assert record.duration_ms is not None and record.billed_ms >= record.duration_ms  # from the REPORT line
        assert record.function_request_id and record.instance_id
    assert sum(bool(r.cold_start) for r in joined) >= 1
    assert (run_dir / "logs" / "platform.log").read_text().count("REPORT RequestId:") >= len(joined)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["segments"][0]["missing"] == 0
    assert (run_dir / "report.md").is_file() and "s3-infer" in (run_dir / "report.md").read_text()
    assert "20 joined, 0 missing" in captured.out
