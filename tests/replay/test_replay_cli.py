"""The replay CLI's exit codes: bad options 2, malformed trace or run dir 3, unreachable target 4."""

from __future__ import annotations

from pathlib import Path

import pytest
from replay_traces import write_counts

from replay.__main__ import main

pytestmark = pytest.mark.timeout(60)


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give a TRACE file"),
        (["--speedup", "0"], "--speedup must be > 0"),
        (["--peak-rps", "-3"], "--peak-rps must be > 0"),
        (["--peak-rps", "3", "--mean-rps", "2"], "not both"),
        (["--workers", "0"], "--workers must be >= 1"),
        (["--max-attempts", "0"], "--max-attempts must be >= 1"),
        (["--result-timeout-s", "-1"], "--result-timeout-s must be >= 0"),
        (["--target", "aws", "--s3-endpoint", "http://127.0.0.1:9"], "--s3-endpoint is for a local S3"),
        (["--process", "fractal"], "invalid choice"),
    ],
)
def test_bad_options_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    trace = [] if not args or args[0] == "--process" else ["traces/fifa98.csv"]
    with pytest.raises(SystemExit) as exc:
        main([*trace, *args])
    assert exc.value.code == 2
    assert message in _err(capsys)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window", "19:00"], "--window: expected START,END"),
        (["--window", "03:00,04:00", "--speedup", "60"], "give a window inside the trace"),
        (["--window", "noon,night"], "not an ISO date/time"),
        (["--target", "aws"], "--target aws needs --bucket"),
        (["--target", "aws", "--bucket", "b"], "add --yes to confirm"),
    ],
)
def test_bad_option_values_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = write_counts(tmp_path / "t.csv", [10] * 5, start="1998-06-30T20:00")
    assert main([str(trace), "--runs", str(tmp_path / "runs"), *args]) == 2
    assert message in _err(capsys)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,count\n1998-06-30T12:00,10\n1998-06-30T12:01,many\n", ":3"),
        ("time,count\n1998-06-30T12:01,10\n1998-06-30T12:00,10\n", ":3"),
        ("", "empty file"),
    ],
)
def test_malformed_trace_exits_3(text: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "bad.csv"
    trace.write_text(text, encoding="utf-8")
    assert main([str(trace), "--window", "all", "--runs", str(tmp_path / "runs")]) == 3
    err = _err(capsys)
    assert "bad.csv" in err and message in err


def test_missing_trace_or_run_dir_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.csv")]) == 3
    assert "nope.csv" in _err(capsys)
    assert main(["--resume", str(tmp_path)]) == 3
    assert "not a run directory" in _err(capsys)


def test_aws_without_credentials_is_a_target_error_saying_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup off the machine
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    trace = write_counts(tmp_path / "t.csv", [10] * 5)
    code = main([str(trace), "--window", "all", "--target", "aws", "--bucket", "b", "--yes",
                 "--runs", str(tmp_path / "runs")])  # fmt: skip
    assert code == 4
    assert "no AWS credentials" in (err := _err(capsys)) and "AWS_PROFILE" in err and "AWS_ACCESS_KEY_ID" in err


def test_unreachable_s3_endpoint_exits_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = write_counts(tmp_path / "t.csv", [10] * 5)
    code = main([str(trace), "--window", "all", "--s3-endpoint", "http://127.0.0.1:9", "--bucket", "b",
                 "--runs", str(tmp_path / "runs")])  # fmt: skip
    assert code == 4
    assert "cannot reach S3 at http://127.0.0.1:9" in _err(capsys)


def test_resume_refuses_schedule_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text('{"config": {"replay": {"schedule": {"trace": "x", "trace_sha256": "y"}}}}')
    assert main(["--resume", str(run), "--speedup", "3"]) == 2
    assert "--resume rebuilds the schedule" in _err(capsys)
    assert main(["--resume", str(run), "--bucket", "other"]) == 2
    assert "--resume takes bucket" in _err(capsys)
