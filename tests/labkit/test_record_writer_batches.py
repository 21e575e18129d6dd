"""RecordWriter in batches (flush_interval_s > 0): the same file as row by row, and what a kill -9 loses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from labkit.records import RequestRecord, iter_records, record_to_row
from labkit.recordwriter import RecordWriter

ROOT = Path(__file__).resolve().parents[2]


def _records(n: int) -> list[RequestRecord]:
    odd = {"error_message": 'a "quoted", comma\nand a newline', "cold_start": False, "instance_id": "é"}
    return [
        RequestRecord.timed(
            intended_send_unix_s=1.7e9 + i / 3,
            actual_send_unix_s=1.7e9 + i / 3 + 1e-4,
            completion_unix_s=1.7e9 + i / 3 + 0.0123,
            run_id="r",
            request_id=f"{i:07d}-abc",
            source="locust",
            scenario="s",
            target="url",
            ok=i % 2 == 0,
            status_code=200,
            **(odd if i % 3 == 0 else {}),
        )
        for i in range(n)
    ]


def test_batched_rows_are_the_same_bytes_as_rows_flushed_one_by_one(tmp_path: Path) -> None:
    records = _records(50)
    with RecordWriter(tmp_path / "one.csv") as one, RecordWriter(tmp_path / "batch.csv", flush_interval_s=60) as batch:
        for record in records:
            one.write(record)
            batch.write(record)
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "batch.csv").read_bytes()
    assert list(iter_records(tmp_path / "batch.csv")) == records
    assert [record_to_row(r) for r in iter_records(tmp_path / "batch.csv")] == [record_to_row(r) for r in records]


def test_rows_reach_the_file_at_flush_and_close_not_before(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    writer = RecordWriter(path, flush_interval_s=60)
    header_only = path.read_bytes()
    for record in _records(5):
        writer.write(record)
    assert path.read_bytes() == header_only and writer.count == 5
    writer.flush()
    assert len(list(iter_records(path))) == 5
    writer.write(_records(1)[0])
    writer.close()
    assert len(list(iter_records(path))) == 6 and writer.closed
    writer.flush()  # a no-op once closed


def test_a_write_flushes_once_the_interval_has_passed(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    with RecordWriter(path, flush_interval_s=1e-9) as writer:  # always due: every write flushes
        writer.write(_records(1)[0])
        assert len(list(iter_records(path))) == 1


KILLED_WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from labkit.records import RequestRecord
from labkit.recordwriter import RecordWriter
writer = RecordWriter(Path(sys.argv[1]), flush_interval_s=3600)
make = lambda i: RequestRecord(run_id="r", request_id=str(i), source="locust", scenario="s", target="url")
for i in range(10):
    writer.write(make(i))
writer.flush()
for i in range(10, 15):
    writer.write(make(i))
print("written", flush=True)
time.sleep(60)
"""


def test_kill_9_loses_only_the_rows_written_since_the_last_flush(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path), str(ROOT)], stdout=subprocess.PIPE,
                             text=True)  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "written"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert [r.request_id for r in iter_records(path)] == [str(i) for i in range(10)]
    with RecordWriter(path) as writer:  # the next writer appends on a clean line
        writer.write(RequestRecord(run_id="r", request_id="next", source="locust", scenario="s", target="url"))
    assert [r.request_id for r in iter_records(path)][-2:] == ["9", "next"]
