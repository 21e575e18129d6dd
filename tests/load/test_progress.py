from labkit.records import RequestRecord
from labkit.recordwriter import RecordWriter
from locustfiles.progress import ProgressPrinter, RecordTail
from locustfiles.recording import unanswered_record
from locustfiles.shapes import constant

IDENTITY = {"run_id": "r", "source": "locust", "scenario": "s", "target": "local-faas", "worker": "w"}


def _ok(i: int, t: float) -> RequestRecord:
    return RequestRecord.timed(intended_send_unix_s=t, actual_send_unix_s=t + 0.001, completion_unix_s=t + 0.05,
                               request_id=str(i), **IDENTITY)  # fmt: skip


def test_tail_counts_only_new_complete_rows_of_matching_files(tmp_path):
    mine, other_path = tmp_path / "locust-local-faas-p0of1.csv", tmp_path / "other.csv"
    with RecordWriter(mine) as writer, RecordWriter(other_path) as other:
        other.write(_ok(99, 1000.0))
        writer.write(_ok(0, 1000.0))
        tail = RecordTail(tmp_path, "locust-local-faas-")
        assert tail.poll().records == 1
        writer.write(_ok(1, 1000.5))
        writer.write(unanswered_record("2", 1001.0, None, "dropped", "not sent", **IDENTITY))
        failed = RequestRecord.timed(intended_send_unix_s=1001.5, actual_send_unix_s=1001.5,
                                     completion_unix_s=1001.6, ok=False, error_kind="throttled",
                                     request_id="3", **IDENTITY)  # fmt: skip
        writer.write(failed)
        with (tmp_path / "locust-local-faas-p0of1.csv").open("a") as torn:
            torn.write("r,4,locust,s,local-faas,predict,1002.0")  # a row still being written
        counts = tail.poll()
    assert (counts.records, counts.ok, counts.dropped, counts.errors, counts.answered) == (4, 2, 1, 1, 3)
    assert counts.first_intended_unix_s == 1000.0


def test_progress_line_names_target_rate_and_counts(tmp_path):
    with RecordWriter(tmp_path / "locust-local-server-p0of1.csv") as writer:
        writer.write(_ok(0, 1000.05))
    printer = ProgressPrinter(RecordTail(tmp_path, "locust-local-server-"), constant(10.0, 20.0), "local-server")
    line = printer.line(now_unix_s=1005.0)
    assert "local-server" in line and "target   10.0 rps" in line and "records 1/200" in line
    assert "    5/20 s" in line and "dropped 0" in line
