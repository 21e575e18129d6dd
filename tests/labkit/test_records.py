from pathlib import Path

import pytest

from labkit.errors import InputError
from labkit.records import FIELD_NAMES, RequestRecord, iter_records
from labkit.recordwriter import RecordWriter


def _record(i: int, **kw: object) -> RequestRecord:
    base = 1_700_000_000.0 + i
    return RequestRecord.timed(
        intended_send_unix_s=base,
        actual_send_unix_s=base + 0.002,
        completion_unix_s=base + 0.052,
        run_id="r1",
        request_id=f"q{i}",
        source="locust",
        scenario="s",
        target="local-faas",
        **kw,
    )


def test_timed_derives_durations_in_ms():
    rec = _record(0)
    assert rec.latency_ms == pytest.approx(52.0, abs=1e-3)
    assert rec.service_latency_ms == pytest.approx(50.0, abs=1e-3)
    assert rec.send_lag_ms == pytest.approx(2.0, abs=1e-3)


def test_round_trip_keeps_every_field(tmp_path: Path):
    originals = [
        _record(0, cold_start=True, init_ms=812.5, instance_id="abc", memory_mb=1769, billed_ms=90),
        _record(1, ok=False, status_code=429, error_kind="throttled", error_message='Rate, "Exceeded".'),
        _record(2, cold_start=None, error_message="line1\nline2"),
    ]
    with RecordWriter(tmp_path / "a.csv") as writer:
        writer.write_all(originals)
    assert list(iter_records(tmp_path / "a.csv")) == originals


def test_appending_writer_keeps_one_header(tmp_path: Path):
    path = tmp_path / "a.csv"
    with RecordWriter(path) as writer:
        writer.write(_record(0))
    with RecordWriter(path) as writer:
        writer.write(_record(1))
    text = path.read_text()
    assert text.count("run_id,request_id") == 1
    assert [r.request_id for r in iter_records(path)] == ["q0", "q1"]


def test_torn_last_line_is_skipped_not_fatal(tmp_path: Path):
    path = tmp_path / "a.csv"
    with RecordWriter(path) as writer:
        writer.write_all([_record(0), _record(1)])
    with path.open("a") as handle:
        handle.write("r1,q2,locust,s,local-fa")  # a crash mid-row
    assert [r.request_id for r in iter_records(path)] == ["q0", "q1"]


def test_bad_value_names_file_line_and_field(tmp_path: Path):
    path = tmp_path / "a.csv"
    with RecordWriter(path) as writer:
        writer.write_all([_record(0), _record(1)])
    lines = path.read_text().splitlines()
    cells = lines[2].split(",")
    cells[FIELD_NAMES.index("latency_ms")] = "fast"
    lines[2] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"a\.csv:3: field 'latency_ms'"):
        list(iter_records(path))


def test_unknown_column_is_rejected(tmp_path: Path):
    path = tmp_path / "a.csv"
    path.write_text("run_id,request_id,source,scenario,target,latency_s\nr,q,locust,s,t,1\n")
    with pytest.raises(InputError, match="unknown columns.*latency_s"):
        list(iter_records(path))


def test_with_function_fields_copies_only_known_fields():
    rec = _record(0).with_function_fields(
        {"cold_start": True, "init_ms": 300.0, "top5": [], "model_name": "mobilenetv2", "instance_id": None}
    )
    assert rec.cold_start is True
    assert (rec.handler_init_ms, rec.init_ms) == (300.0, None)  # the body's init is the handler's own
    assert rec.model_name == "mobilenetv2"
    assert rec.instance_id == ""
