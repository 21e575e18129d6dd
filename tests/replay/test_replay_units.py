"""Pure parts of the replay: windows, re-basing, done/pending slots, retry delays, the join, torn files."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from replay_traces import write_counts

from labkit.errors import ConfigError
from labkit.records import RequestRecord
from labkit.reportlog import format_report_line
from replay.collect import final_join, final_uploads, read_result_docs, repair_tail, report_lines
from replay.options import parse_window
from replay.progress import ReplayStats, format_progress
from replay.resume import done_indexes, pending_indexes, rebased_times
from replay.retry import RetryPolicy
from replay.scheduler import MAX_WORKERS, MIN_WORKERS, workers_for_rate
from traces import load_trace


def _put(index: int, ok: bool = True, key: str = "") -> RequestRecord:
    return RequestRecord.timed(
        intended_send_unix_s=100.0 + index, actual_send_unix_s=100.0 + index, completion_unix_s=100.1 + index,
        run_id="r", request_id=f"r-{index}", source="replay", scenario="s", target="local-s3",
        operation="s3-put", ok=ok, error_kind="" if ok else "http_5xx", object_key=key or f"k{index}",
    )  # fmt: skip


def test_window_times_of_day_are_on_the_traces_first_day(tmp_path: Path) -> None:
    trace = load_trace(write_counts(tmp_path / "t.csv", [1] * 30, start="1998-06-30T21:50"))
    assert parse_window("22:00,22:10", trace) == ("1998-06-30T22:00:00+00:00", "1998-06-30T22:10:00+00:00")
    assert parse_window("21:55,24:00", trace)[1] == "1998-07-01T00:00:00+00:00"
    assert parse_window("all", trace) == (None, None)
    assert parse_window("1998-06-30T21:00,1998-06-30T23:00", trace) == ("1998-06-30T21:00", "1998-06-30T23:00")


@pytest.mark.parametrize("bad", ["22:00", "22:00,", "25:00,26:00", "a,b,c"])
def test_bad_window_is_a_config_error(tmp_path: Path, bad: str) -> None:
    trace = load_trace(write_counts(tmp_path / "t.csv", [1, 2]))
    with pytest.raises(ConfigError, match="--window"):
        parse_window(bad, trace)


def test_rebase_keeps_the_shape_and_starts_the_first_pending_slot_now() -> None:
    offsets = np.array([0.0, 1.0, 2.0, 3.5, 7.0])
    times, base = rebased_times(offsets, [2, 3, 4], start_unix_s=1000.0)
    assert base == 2.0
    assert times.tolist() == [1000.0, 1001.5, 1005.0]
    assert rebased_times(offsets, [], 5.0)[0].size == 0


def test_done_slots_are_those_with_an_ok_upload_record() -> None:
    keys = ["k0", "k1", "k2", "k3"]
    records = [_put(0), _put(1, ok=False), _put(2), _put(2), _put(9, key="elsewhere")]
    done = done_indexes(records, keys)
    assert done == {0, 2}
    assert pending_indexes(len(keys), done) == [1, 3]
    assert [r.object_key for r in final_uploads(records)] == ["k0", "k2", "elsewhere"]


def test_retry_delays_grow_exponentially_with_full_jitter_and_stay_bounded() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay_s=0.1, max_delay_s=1.0)
    rng = random.Random(7)
    for failed, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]:
        delays = [policy.delay_s(failed, rng) for _ in range(200)]
        assert min(delays) >= 0.0 and max(delays) <= ceiling
        assert max(delays) > ceiling / 2  # full jitter spreads over the whole range
    with pytest.raises(ConfigError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ConfigError):
        RetryPolicy(base_delay_s=2.0, max_delay_s=1.0)


def test_pool_is_sized_to_the_rate_within_bounds() -> None:
    assert workers_for_rate(0) == MIN_WORKERS
    assert workers_for_rate(10) < workers_for_rate(200) < workers_for_rate(10_000) == MAX_WORKERS


def test_join_adds_result_and_report_fields_and_reports_missing_ones(tmp_path: Path) -> None:
    uploads = [_put(0), _put(1)]
    docs = {"k0": {"completed_unix_s": 100.9, "cold_start": True, "init_ms": 50.0, "function_request_id": "f0",
                   "model_name": "smallcnn", "inference_ms": 3.0}}  # fmt: skip
    log = tmp_path / "platform.log"
    line = format_report_line("f0", duration_ms=12.3, memory_size_mb=1769, max_memory_used_mb=99)
    log.write_text(f"2024-01-01T00:00:00.000Z\tinference-s3\tstream\t{line}\nnoise\n", encoding="utf-8")
    joined = final_join(uploads, docs, report_lines([log, tmp_path / "absent.log"]), lambda key: f"{key}: none")
    first, second = joined
    assert (first.operation, first.ok, first.cold_start, first.duration_ms, first.billed_ms) == (
        "s3-infer", True, True, 12.3, 13)  # fmt: skip
    assert first.max_memory_used_mb == 99.0 and first.memory_mb == 1769
    assert first.latency_ms == pytest.approx(900.0)  # from the intended send to the function's completion
    assert (second.ok, second.error_kind, second.error_message) == (False, "missing_result", "k1: none")


def test_torn_lines_are_cut_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "s3-results.jsonl"
    path.write_text(json.dumps({"input_key": "a", "x": 1}) + "\n" + '{"input_key": "b", "x"', encoding="utf-8")
    assert list(read_result_docs(path)) == ["a"]
    repair_tail(path)
    assert path.read_text(encoding="utf-8").endswith("}\n")
    assert list(read_result_docs(path)) == ["a"]


def test_progress_line_counts_resumed_and_new_uploads() -> None:
    stats = ReplayStats(total=10, already_done=4)
    stats.attempt_done(_put(4), 1)
    stats.attempt_done(_put(5, ok=False), 1)
    stats.slot_failed()
    line = format_progress(stats.snapshot(), results_expected=True)
    assert line.startswith("replay: uploads 6/10 (60%)")
    assert "failed 1" in line and "results 0" in line and "lag p50 0.0" in line
