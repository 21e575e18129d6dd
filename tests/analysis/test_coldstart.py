import json

import numpy as np
import pandas as pd
from analysis_helpers import faas_records, platform_log_line, rec, write_run
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.coldstart import (
    attach_report_lines,
    cold_start_figures,
    idle_gap_s,
    in_flight_at_send,
    report_frame,
    resolve_cold_starts,
)
from analysis.frame import load_frame, prepare
from analysis.inputs import report_log_records, run_report_lines
from labkit.reportlog import iter_report_lines


def test_cold_starts_from_platform_report_lines_joined_by_request_id(tmp_path):
    records = faas_records(60, cold_every=20)
    run = write_run(tmp_path, records)
    log = run.logs_dir / "functions" / "platform.log"
    log.parent.mkdir(parents=True)
    lines = [platform_log_line(r, "inference-api", 250.0 if i % 20 == 0 else None) for i, r in enumerate(records)]
    log.write_text("\n".join(["START RequestId: x Version: $LATEST", *lines]) + "\n")
    reports, files = run_report_lines(run.logs_dir)
    assert files == [log] and len(reports) == 60
    records_only = prepare(load_frame(run.record_files()))
    assert records_only["billed_ms"].to_numpy().strides == (0,)  # read with no value: one NaN for every row
    before = records_only.copy()
    frame, info = attach_report_lines(records_only, report_frame(reports))
    assert info["matched"] == 60
    pd.testing.assert_frame_equal(records_only, before)  # filled in a copy (copy-on-write), the input unchanged
    summary = cold_start_figures(*resolve_cold_starts(frame))
    assert summary["source"] == "REPORT lines" and (summary["cold"], summary["known"]) == (3, 60)
    assert summary["init_ms"]["p50"] == 250.0
    assert frame["billed_ms"].tolist() == [float(np.ceil(r.duration_ms)) for r in records]
    assert summary["penalty"]["p50_ms"] > 200


def test_report_lines_with_cloudwatch_variants(tmp_path):
    text = (
        "REPORT RequestId: a1\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 2048 MB\t"
        "Max Memory Used: 180 MB\tInit Duration: 812.01 ms\tXRAY TraceId: 1-2-3\tSegmentId: 4\tSampled: true\t\n"
        "REPORT RequestId: a2  Duration: 12.01 ms  Billed Duration: 13 ms  Memory Size: 2048 MB  "
        "Max Memory Used: 181 MB  \n"
        "REPORT RequestId: a3\tDuration: 30000.00 ms\tBilled Duration: 30000 ms\tMemory Size: 2048 MB\t"
        "Max Memory Used: 200 MB\tStatus: timeout\n"
        '{"time":"2026-01-01T00:00:00Z","type":"platform.report","record":{"requestId":"a4","metrics":'
        '{"durationMs":5.5,"billedDurationMs":6,"memorySizeMB":2048,"maxMemoryUsedMB":100}}}\n'
    )
    path = tmp_path / "export.log"
    path.write_text(text)
    frame = report_log_records(path, function="resnet-fn")
    assert frame["function_request_id"].tolist() == ["a1", "a2", "a3", "a4"]
    assert frame["cold_start"].tolist() == [True, False, False, False]
    assert frame["ok"].tolist() == [True, True, False, True]
    assert frame["billed_ms"].tolist() == [103, 13, 30000, 6]
    assert len(list(iter_report_lines(path))) == 4


def test_filter_log_events_json_export(tmp_path):
    body = (
        "REPORT RequestId: b1\tDuration: 10.00 ms\tBilled Duration: 10 ms\tMemory Size: 512 MB\tMax Memory Used: 60 MB"
    )
    path = tmp_path / "events.json"
    event = {"logStreamName": "s1", "timestamp": 1700000000000, "message": body}
    path.write_text(json.dumps({"events": [event]}))
    frame = report_log_records(path)
    assert frame["completion_unix_s"].tolist() == [1_700_000_000.0] and frame["instance_id"].tolist() == ["s1"]


def test_inferred_cold_starts_name_their_source():
    by_instance = prepare(pd.DataFrame([vars_of(rec(i, "lambda", 20.0, instance_id=f"e{i % 3}")) for i in range(9)]))
    resolved, source = resolve_cold_starts(by_instance)
    assert source == "inferred: first request per instance" and resolved["cold_bool"].sum() == 3
    latencies = [400.0, 20, 21, 19, 22, 500.0, 20, 20]
    by_latency = prepare(pd.DataFrame([vars_of(rec(i, "lambda", v)) for i, v in enumerate(latencies)]))
    resolved, source = resolve_cold_starts(by_latency)
    assert source.startswith("inferred from latency") and resolved["cold_bool"].tolist() == [v > 100 for v in latencies]


def vars_of(record):
    return {name: getattr(record, name) for name in record.__slots__}


def test_in_flight_and_idle_gap_on_constructed_intervals():
    # sends at 0, 1, 2, 10 s; latencies 1.5 s, 0.2 s, 0.2 s, 0.1 s
    timings = ((0, 1500.0), (1, 200.0), (2, 200.0), (10, 100.0))
    records = [rec(i, "f", lat, start_s=start, gap_s=0, lag_s=0) for i, (start, lat) in enumerate(timings)]
    frame = prepare(pd.DataFrame([vars_of(r) for r in records]))
    assert in_flight_at_send(frame).tolist() == [0, 1, 0, 0]
    gaps = idle_gap_s(frame)
    assert np.isnan(gaps[0]) and np.isnan(gaps[1])
    assert gaps[2:] == __import__("pytest").approx([0.5, 7.8])


def test_keepalive_curve_shows_cold_after_long_idle_gaps():
    # a request every 2 s is warm; after every 700 s idle gap the next one is cold
    records, t = [], 0.0
    for burst in range(4):
        for i in range(10):
            cold = i == 0
            records.append(rec(burst * 10 + i, "lambda", 300.0 if cold else 20.0, start_s=t, gap_s=0,
                               cold_start=cold))  # fmt: skip
            t += 2.0
        t += 700.0
    summary = cold_start_figures(*resolve_cold_starts(prepare(pd.DataFrame([vars_of(r) for r in records]))))
    bins = {(r["gap_s_from"], r["gap_s_to"]): (r["requests"], r["cold"]) for r in summary["keepalive"]}
    assert bins[(1.0, 3.0)] == (36, 0) and bins[(600.0, 1800.0)] == (3, 3)
    assert summary["no_previous_completion"] == {"requests": 1, "cold": 1}
    assert summary["source"] == "function flag" and summary["rate"] == 0.1


def test_rate_intervals_are_scipys_clopper_pearson_exactly():
    from scipy import stats as sps

    from analysis.coldstart import _rate_ci

    cases = [(0, 1), (1, 1), (0, 10), (10, 10), (3, 10), (1, 1_000_000), (999_999, 1_000_000), (5, 7)]
    alpha = 1 - 0.95
    for cold, n in cases:
        low = float(sps.beta.ppf(alpha / 2, cold, n - cold + 1)) if cold > 0 else 0.0
        high = float(sps.beta.ppf(1 - alpha / 2, cold + 1, n - cold)) if cold < n else 1.0
        assert _rate_ci(cold, n) == (low, high)
    assert _rate_ci(0, 0) == (None, None)


def test_integer_bins_from_a_table_equal_the_search_of_the_edges():
    from analysis.coldstart import CONCURRENCY_EDGES, binned_rate

    rng = np.random.default_rng(5)
    in_flight = np.concatenate((rng.integers(0, 70, 5_000), [0, 1, 64, 65, 66, 200]))
    cold = rng.random(in_flight.size) < 0.1
    by_table = binned_rate(in_flight, cold, CONCURRENCY_EDGES, "in_flight")
    with_nan = np.append(in_flight.astype(float), np.nan)  # floats: searched, NaN in no bin
    assert by_table == binned_rate(with_nan, np.append(cold, True), CONCURRENCY_EDGES, "in_flight")
    assert sum(row["requests"] for row in by_table) == in_flight.size


_TIMES = st.one_of(st.sampled_from([0.0, 1.0, 1.5, 2.0]), st.floats(min_value=-5.0, max_value=5.0))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(_TIMES, st.just(np.nan)), max_size=40),
    st.lists(st.one_of(_TIMES, st.just(np.inf)), max_size=40),
)
def test_count_before_by_a_merge_is_the_search_of_the_sorted_completions(sends, completions):
    from analysis.coldstart import _count_before

    ranked, done = np.sort(np.array(sends, dtype=float)), np.sort(np.array(completions, dtype=float))
    expected = np.searchsorted(done, ranked, side="left")  # ties: a completion equal to a send is not before it
    np.testing.assert_array_equal(_count_before(done, ranked), expected)


def test_function_request_ids_are_read_only_when_report_lines_can_join_them(tmp_path):
    from analysis.runread import load_run

    records = faas_records(40, cold_every=20)
    run = write_run(tmp_path, records)
    frame, info = load_run(run, [])
    assert "function_request_id" not in frame.columns and info["report_lines"]["matched"] == 0
    log = run.logs_dir / "functions" / "platform.log"
    log.parent.mkdir(parents=True)
    log.write_text("\n".join(platform_log_line(r, "inference-api", None) for r in records) + "\n")
    frame, info = load_run(run, [])  # the segment left by the first read lacks the column: the CSV read again
    assert "function_request_id" in frame.columns and info["report_lines"]["matched"] == 40
    assert frame["billed_ms"].tolist() == [float(np.ceil(r.duration_ms)) for r in records]
