"""A run whose records do not match its schedule is never `complete`: missing indices, indices recorded twice
(a late-joining or foreign worker sending the same share), records outside the schedule, more load processes
than asked, a replay with failed or unjoined uploads. Each is named as a problem."""

from __future__ import annotations

import json
from pathlib import Path

from experiments.checks import Expected, check_http, check_replay
from labkit.records import RequestRecord
from labkit.recordwriter import RecordWriter


def _rec(index: int, worker: str = "w1", scenario: str = "load") -> RequestRecord:
    return RequestRecord(run_id="r", source="locust", scenario=scenario, target="local-faas", worker=worker,
                         request_id=f"{index:07d}-abc", ok=True)  # fmt: skip


EXPECTED = Expected(tag="load", workload="load", kind="http", arrivals=10, processes=1)


def test_exact_schedule_has_no_problem() -> None:
    assert check_http(EXPECTED, [_rec(i) for i in range(10)]) == []


def test_missing_duplicated_foreign_and_extra_workers_are_problems() -> None:
    records = [_rec(i) for i in range(8)]  # 8 and 9 missing
    records += [_rec(3, worker="w2"), _rec(4, worker="w2")]  # a second process sending the same share
    records += [_rec(57, worker="w2")]  # outside the schedule (a foreign plan)
    problems = " | ".join(check_http(EXPECTED, records))
    assert "2 of 10 scheduled requests have no record" in problems
    assert "2 request indices recorded more than once" in problems
    assert "1 records outside the schedule" in problems
    assert "records from 2 load processes, 1 asked" in problems


def test_no_records_at_all_names_the_log() -> None:
    [problem] = check_http(EXPECTED, [_rec(i, scenario="other") for i in range(10)])
    assert "no records at all" in problem and "locust/load.log" in problem


def test_replay_with_failed_or_unjoined_uploads_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "workloads").mkdir()
    (tmp_path / "workloads" / "fifa.json").write_text(json.dumps({"status": "complete", "uploads_ok": 9}))
    with RecordWriter(tmp_path / "records" / "fifa-s3-results.csv") as writer:
        for i in range(9):
            ok = i != 0
            kind = "" if ok else "missing_result"
            record = RequestRecord(run_id="r", source="s3-result", scenario="replay-x", target="local-s3",
                                   request_id=str(i), ok=ok, error_kind=kind)  # fmt: skip
            writer.write(record)
    problems = " | ".join(check_replay(Expected("fifa", "fifa", "s3-replay", 10), tmp_path))
    assert "9 of 10 scheduled uploads ok" in problems
    assert "9 of 10 uploads joined" in problems and "1 uploads have no inference result" in problems
    assert check_replay(Expected("gone", "gone", "s3-replay", 10), tmp_path)[0].endswith("missing or torn)")
