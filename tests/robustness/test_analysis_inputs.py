"""Issue "Trustworthy runs": hostile run dirs and outside inputs give a clear error (exit 3), never a traceback.

A manifest that is JSON but not an object, a run dir the report cannot be written into (the message names
the path and `--out DIR`), a header-only records file, Locust CSVs with unreadable numbers; and messages
name what a user can type (options, files, keys), never internal parameters.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from analysis.__main__ import main
from labkit.records import RequestRecord
from labkit.rundir import RunDir


def _run(root: Path, n: int = 20) -> RunDir:
    run = RunDir.create(root, "t", config={"demo": {"rate_rps": 4.0}})
    with run.writer("x") as writer:
        for i in range(n):
            t = 1_795_434_000.0 + i / 4
            writer.write(RequestRecord.timed(intended_send_unix_s=t, actual_send_unix_s=t, completion_unix_s=t + 0.02,
                                             run_id="r", request_id=f"q{i}", source="locust", scenario="s",
                                             target="local-server"))  # fmt: skip
    run.finish()
    return run


def _main(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    code = main([str(a) for a in (*args, "--no-plots")])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "expected a JSON object"),
        ('"complete"', "expected a JSON object"),
        ("null", "expected a JSON object"),
        ('{"status": "complete", "config": [1]}', "'config': expected a JSON object"),
        ('{"status": "complete", "machine": "laptop"}', "'machine': expected a JSON object"),
        ('{"status": "complete", "config": {"demo": {"shape": 5, "rate_rps": "fast"}}}', None),
    ],
)
def test_manifest_of_the_wrong_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str):
    run = _run(tmp_path)
    run.manifest_path.write_text(text, encoding="utf-8")
    code, err = _main(capsys, run.path)
    if message is None:  # odd but harmless values inside the config: no target rate, the report is written
        assert code == 0, err
        return
    assert code == 3, err
    assert f"{run.manifest_path}: " in err
    assert message in err


def test_manifest_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run = _run(tmp_path)
    run.manifest_path.write_bytes(b'{"status": "\xff\xfe"}')
    code, err = _main(capsys, run.path)
    assert code == 3
    assert str(run.manifest_path) in err


def test_report_that_cannot_be_written_names_the_path_and_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run = _run(tmp_path)
    (run.path / "report.md").mkdir()  # what a read-only run dir does to the writer, even for root
    code, err = _main(capsys, run.path)
    assert code == 3
    assert str(run.path / "report.md") in err
    assert "--out DIR" in err
    assert _main(capsys, run.path, "--out", tmp_path / "elsewhere")[0] == 0
    assert (tmp_path / "elsewhere" / "report.md").is_file()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_run_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run = _run(tmp_path)
    run.path.chmod(0o555)
    try:
        code, err = _main(capsys, run.path)
    finally:
        run.path.chmod(0o755)
    assert code == 3
    assert str(run.path) in err and "--out DIR" in err


def test_out_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run = _run(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("", encoding="utf-8")
    code, err = _main(capsys, run.path, "--out", blocker / "sub")
    assert code == 3
    assert str(blocker) in err and "--out DIR" in err


@pytest.mark.parametrize("content", ["", "run_id,request_id,source,scenario,target\r\n"])
def test_run_with_no_records(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str):
    run = _run(tmp_path, n=0)
    (run.records_dir / "x.csv").write_text(content, encoding="utf-8")
    code, err = _main(capsys, run.path)
    assert code == 3
    assert "no records to report on" in err
    assert str(run.records_dir) in err


def test_locust_csv_with_unreadable_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    stats = tmp_path / "l_stats.csv"
    stats.write_text("Name,Request Count,Failure Count,Requests/s\nAggregated,abc,0,1\n", encoding="utf-8")
    code, err = _main(capsys, "--locust-csv", tmp_path / "l", "--out", tmp_path / "out")
    assert code == 3
    assert f"{stats}:2: 'Request Count'" in err


def test_messages_name_options_not_parameters(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    code, err = _main(capsys, "--locust-csv", tmp_path / "nope", "--out", tmp_path / "out")
    assert code == 3
    assert "--locust-csv" in err
    run = _run(tmp_path)
    sla = tmp_path / "sla.yaml"
    sla.write_text("default: {p95_ms: 300}\nlatency: actual\n", encoding="utf-8")
    code, err = _main(capsys, run.path, "--sla", sla)
    assert code == 2
    assert "latency_from" in err  # the key it meant: every allowed key is listed
