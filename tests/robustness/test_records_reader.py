"""Issue "Trustworthy runs": one records reader for every consumer; torn last lines and malformed rows.

A torn last line (what `kill -9` of a writer leaves) is skipped and counted, never read as a failed request;
a short or malformed row mid-file names file and line (exit 3) or, with --skip-bad-rows, is skipped and counted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.__main__ import main
from analysis.frame import load_frame
from labkit.errors import InputError
from labkit.records import FIELD_NAMES, ReadCounts, RequestRecord, iter_records
from labkit.recordwriter import RecordWriter
from labkit.rundir import RunDir

T0 = 1_795_434_000.0


def _record(i: int, **kw: object) -> RequestRecord:
    intended = T0 + i * 0.25
    return RequestRecord.timed(
        intended_send_unix_s=intended,
        actual_send_unix_s=intended + 0.001,
        completion_unix_s=intended + 0.020 + (i % 7) / 1000,
        run_id="r",
        request_id=f"local-server-{i}",
        source="locust",
        scenario="constant-load",
        target="local-server",
        cold_start=False,
        **kw,
    )


def _run(root: Path, n: int = 75, **kw: object) -> tuple[RunDir, Path]:
    """A complete run dir with `n` successful records in records/x.csv (a passing run under config/sla.yaml)."""
    run = RunDir.create(root, "t", config={"demo": {"rate_rps": 4.0}})
    with run.writer("x") as writer:
        writer.write_all([_record(i, **kw) for i in range(n)])
    run.finish()
    return run, run.records_dir / "x.csv"


def _tear(path: Path, keep_chars: int = 60) -> None:
    """Append the first `keep_chars` characters of a copy of the last row, with no newline (a writer killed mid-row)."""
    last = path.read_text(encoding="utf-8").splitlines()[-1]
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(last[:keep_chars])


def _insert_line(path: Path, index: int, line: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(index, line)
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")


def test_torn_last_line_keeps_a_passing_run_passing(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run, path = _run(tmp_path)
    _tear(path)
    assert main([str(run.path), "--gate", "--no-plots"]) == 0
    assert "SLA: pass" in capsys.readouterr().out
    report = (run.path / "report.md").read_text(encoding="utf-8")
    assert "BREACHES" not in report
    assert "1 torn record skipped" in report
    summary = json.loads((run.path / "summary.json").read_text(encoding="utf-8"))
    assert summary["record_count"] == 75
    assert summary["records_skipped"] == {"torn": 1, "bad_rows": 0}
    assert summary["runs"][0]["records_skipped"] == {"torn": 1, "bad_rows": 0}


@pytest.mark.parametrize("keep_chars", [1, 30, 60, 200])
def test_torn_last_line_is_skipped_by_the_frame_reader(tmp_path: Path, keep_chars: int):
    _, path = _run(tmp_path, n=5)
    _tear(path, keep_chars)
    counts = ReadCounts()
    frame = load_frame([path], counts=counts)
    assert len(frame) == 5
    assert frame["ok"].all()
    assert set(frame["target"]) == {"local-server"}
    assert (counts.torn, counts.bad) == (1, 0)


def test_last_line_with_fewer_fields_is_torn_too(tmp_path: Path):
    _, path = _run(tmp_path, n=5)
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write("r,local-server-9,locust,constant-load\r\n")
    counts = ReadCounts()
    assert len(load_frame([path], counts=counts)) == 5
    assert counts.torn == 1
    assert [r.request_id for r in iter_records(path)] == [f"local-server-{i}" for i in range(5)]


def test_torn_inside_a_quoted_multiline_field(tmp_path: Path):
    _, path = _run(tmp_path, n=3, error_message="line1\nline2, more")
    text = path.read_text(encoding="utf-8")
    path.write_text(text + text.splitlines(keepends=True)[-2], encoding="utf-8")  # ends inside the open quote
    counts = ReadCounts()
    frame = load_frame([path], counts=counts)
    assert len(frame) == 3
    assert list(frame["error_message"]) == ["line1\nline2, more"] * 3
    assert counts.torn == 1
    assert len(list(iter_records(path))) == 3


def test_object_and_frame_readers_agree(tmp_path: Path):
    _, path = _run(tmp_path, n=4, error_message='say "hi", twice')
    _tear(path, 100)
    records = list(iter_records(path))
    frame = load_frame([path])
    assert [r.request_id for r in records] == list(frame["request_id"])
    assert [r.error_message for r in records] == list(frame["error_message"])
    assert [r.latency_ms for r in records] == pytest.approx(list(frame["latency_ms"]))


@pytest.mark.parametrize(
    ("bad_line", "what"),
    [
        ("r,local-server-99,locust,constant-load,local-server", "5 fields, expected"),
        ("r,local-server-99,locust" + "," * len(FIELD_NAMES), "fields, expected"),
    ],
)
def test_short_or_long_row_mid_file_names_file_and_line(tmp_path: Path, bad_line: str, what: str):
    _, path = _run(tmp_path, n=20)
    _insert_line(path, 10, bad_line)
    with pytest.raises(InputError, match=rf"x\.csv:11: .*{what}"):
        load_frame([path])
    with pytest.raises(InputError, match=r"x\.csv:11: "):
        list(iter_records(path))


def test_bad_row_mid_file_exits_3_naming_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run, path = _run(tmp_path, n=20)
    _insert_line(path, 10, "r,local-server-99,locust,constant-load,local-server")
    assert main([str(run.path), "--no-plots"]) == 3
    err = capsys.readouterr().err
    assert "x.csv:11:" in err
    assert "--skip-bad-rows" in err
    assert "Traceback" not in err


def test_skip_bad_rows_skips_counts_and_makes_no_phantom_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run, path = _run(tmp_path, n=75)
    _insert_line(path, 10, "r,local-server-99,locust,constant-load,local-server")
    _insert_line(path, 20, "r,local-server-98,locust,constant-load,local-server,predict,soon")
    _tear(path)
    assert main([str(run.path), "--gate", "--no-plots", "--skip-bad-rows"]) == 0
    summary = json.loads((run.path / "summary.json").read_text(encoding="utf-8"))
    assert summary["record_count"] == 75
    assert summary["records_skipped"] == {"torn": 1, "bad_rows": 2}
    assert {g["target"] for g in summary["groups"]} == {"local-server"}
    report = (run.path / "report.md").read_text(encoding="utf-8")
    assert "2 bad rows skipped" in report
    assert "x.csv:11" in report


@pytest.mark.parametrize(("column", "value"), [("latency_ms", "fast"), ("ok", "yes"), ("status_code", "2.5")])
def test_bad_value_mid_file_is_an_error_or_skipped(tmp_path: Path, column: str, value: str):
    _, path = _run(tmp_path, n=6)
    lines = path.read_text(encoding="utf-8").splitlines()
    cells = lines[3].split(",")
    cells[FIELD_NAMES.index(column)] = value
    lines[3] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"x\.csv:4: field '{column}'"):
        load_frame([path])
    with pytest.raises(InputError, match=rf"x\.csv:4: field '{column}'"):
        list(iter_records(path))
    counts = ReadCounts()
    assert len(load_frame([path], skip_bad_rows=True, counts=counts)) == 5
    assert counts.bad == 1
    assert len(list(iter_records(path, skip_bad_rows=True))) == 5


def test_header_only_and_empty_files_read_as_no_records(tmp_path: Path):
    header = tmp_path / "h.csv"
    header.write_text(",".join(FIELD_NAMES) + "\r\n", encoding="utf-8")
    empty = tmp_path / "e.csv"
    empty.write_text("", encoding="utf-8")
    assert len(load_frame([header, empty])) == 0
    assert list(iter_records(header)) == [] == list(iter_records(empty))


def test_header_only_run_exits_3_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run, path = _run(tmp_path, n=0)
    assert path.read_text(encoding="utf-8").count("\n") == 1
    assert main([str(run.path), "--no-plots"]) == 3
    err = capsys.readouterr().err
    assert "no records" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("header", "row", "message"),
    [
        ("run_id,request_id,source,scenario,target,ok", "r,q,l,s,t,1", r"x\.csv:2: field 'ok'"),
        ("run_id,request_id,source,scenario,target,ok", "r,q,l,s,t,", r"x\.csv:2: field 'ok'"),
        ("run_id,request_id,source,scenario,target,target", "r,q,l,s,t,u", r"x\.csv:1: columns \['target'\] appear"),
    ],
)
def test_flags_spelled_otherwise_and_repeated_columns(tmp_path: Path, header: str, row: str, message: str):
    path = tmp_path / "x.csv"
    path.write_text(f"{header}\r\n{row}\r\n", encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_frame([path])
    with pytest.raises(InputError, match=message):
        list(iter_records(path))


def test_a_writer_reopening_a_torn_file_cuts_the_fragment_first(tmp_path: Path) -> None:
    """A resumed writer (replay --resume after kill -9) must not glue its first row onto a torn one."""
    path = tmp_path / "r.csv"
    with RecordWriter(path) as writer:
        writer.write(RequestRecord(run_id="r", source="t", scenario="s", target="x", request_id="a", ok=True))
    with path.open("a", encoding="utf-8") as handle:
        handle.write("run,b,locust,sc")  # a kill mid-row
    with RecordWriter(path) as writer:
        writer.write(RequestRecord(run_id="r", source="t", scenario="s", target="x", request_id="c", ok=True))
    counts = ReadCounts()
    assert [r.request_id for r in iter_records(path, counts=counts)] == ["a", "c"]
    assert counts.torn == 0 and counts.bad == 0
