import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.frame import load_frame
from analysis.latency import latency_stats
from analysis.report import write_report
from analysis.summary import summarize
from labkit.errors import InputError
from labkit.records import RequestRecord
from labkit.rundir import RunDir


@given(st.lists(st.floats(min_value=0, max_value=1e5, allow_nan=False), min_size=1, max_size=300))
@settings(max_examples=60, deadline=None)
def test_percentiles_equal_numpy_on_raw_values(values):
    stats = latency_stats(values)
    for p, key in ((50, "p50"), (95, "p95"), (99, "p99"), (99.9, "p99_9")):
        assert stats[key] == pytest.approx(np.percentile(values, p))
    assert stats["count"] == len(values) and stats["max"] == max(values)


def test_empty_latency_is_count_zero():
    assert latency_stats([]) == {"count": 0}


def _write_run(tmp_path, records):
    run = RunDir.create(tmp_path, "t")
    with run.writer("x") as writer:
        writer.write_all(records)
    run.finish()
    return run


def _rec(i, target, latency_ms, **kw):
    return RequestRecord.timed(
        intended_send_unix_s=10.0 + i,
        actual_send_unix_s=10.0 + i,
        completion_unix_s=10.0 + i + latency_ms / 1000,
        run_id="r",
        request_id=str(i),
        source="locust",
        scenario="s",
        target=target,
        **kw,
    )


def test_summary_per_target_with_cold_starts_and_errors(tmp_path):
    records = [_rec(i, "faas", 100.0 + i, cold_start=i < 2, instance_id=f"e{i % 2}") for i in range(10)]
    records += [_rec(i, "server", 50.0) for i in range(5)]
    records.append(_rec(20, "server", 5.0, ok=False, status_code=503, error_kind="http_5xx"))
    frame = load_frame(_write_run(tmp_path, records).record_files())
    groups = {g["target"]: g for g in summarize(frame)}
    faas, server = groups["faas"], groups["server"]
    assert faas["count"] == 10 and faas["cold_starts"] == {
        "known": 10,
        "cold": 2,
        "rate": 0.2,
        "source": "function flag",
    }
    assert faas["latency_ms"]["p50"] == pytest.approx(np.percentile([100.0 + i for i in range(10)], 50))
    assert faas["cold_latency_ms"]["count"] == 2 and faas["instances"] == 2
    assert server["errors"] == {"http_5xx": 1} and server["error_rate"] == pytest.approx(1 / 6)
    assert server["latency_ms"]["count"] == 5  # failed requests are not in the latency figures
    assert server["cold_starts"]["source"] == "none"


def test_report_files_are_written_and_name_the_run(tmp_path):
    run = _write_run(tmp_path, [_rec(i, "faas", 10.0 + i) for i in range(20)])
    files = write_report(run.path)
    assert run.run_id in files.markdown.read_text() and "<table>" in files.html.read_text()
    assert pd.read_json(files.summary_json, typ="series")["record_count"] == 20


def test_report_on_empty_run_is_a_clear_error(tmp_path):
    run = RunDir.create(tmp_path, "empty")
    with pytest.raises(InputError, match="no records to report on"):
        write_report(run.path)
