"""Does a run's record set match its plan? (Status is `complete` only when every workload's does.)

- http: one record per scheduled arrival (sent, dropped or interrupted: all are data), request indices
  exactly 0..n-1, none twice, written by as many Locust processes as the workload asked for;
- s3-replay: every scheduled upload ok and joined with a result (workloads/<tag>.json and the records);
- burst / cold-probe: the number of invokes asked for.
Each problem is one sentence naming the workload and what is off.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from experiments.plan import HttpWorkload, Plan, S3ReplayWorkload
from labkit.records import RequestRecord, iter_records


@dataclass(frozen=True)
class Expected:
    """One workload of one sub-run, as scheduled."""

    tag: str
    workload: str
    kind: str
    arrivals: int
    processes: int = 1


def http_arrivals(workload: HttpWorkload) -> int:
    from locustfiles.shapes import build_shape

    return int(build_shape(workload.shape_spec()).arrival_offsets_s().size)


def _index(request_id: str) -> int | None:
    head = request_id.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def check_http(expected: Expected, records: list[RequestRecord]) -> list[str]:
    mine = [r for r in records if r.scenario == expected.tag and r.source == "locust"]
    counts = Counter(_index(r.request_id) for r in mine)
    problems = []
    if not mine:
        return [f"{expected.tag}: no records at all for {expected.arrivals} scheduled requests (did Locust start? "
                f"see locust/{expected.tag}.log)"]  # fmt: skip
    doubled = sorted(i for i, n in counts.items() if i is not None and n > 1)
    missing = expected.arrivals - len([i for i in counts if i is not None and 0 <= i < expected.arrivals])
    foreign = sorted(i for i in counts if i is None or not 0 <= i < expected.arrivals)
    if missing:
        problems.append(f"{expected.tag}: {missing} of {expected.arrivals} scheduled requests have no record")
    if doubled:
        problems.append(f"{expected.tag}: {len(doubled)} request indices recorded more than once "
                        f"(first: {doubled[:5]}); a foreign or late-joining worker?")  # fmt: skip
    if foreign:
        problems.append(f"{expected.tag}: {len(foreign)} records outside the schedule's indices")
    workers = {r.worker for r in mine}
    if len(workers) > expected.processes:
        problems.append(f"{expected.tag}: records from {len(workers)} load processes, {expected.processes} asked")
    return problems


def check_replay(expected: Expected, run_path: Path) -> list[str]:
    status_path = run_path / "workloads" / f"{expected.tag}.json"
    try:
        status = json.loads(status_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return [f"{expected.tag}: the replay left no status ({status_path} missing or torn)"]
    problems = []
    if status.get("status") != "complete":
        problems.append(f"{expected.tag}: the replay ended {status.get('status')!r} ({status.get('error', '')})")
    ok = int(status.get("uploads_ok") or 0)
    if ok != expected.arrivals:
        problems.append(f"{expected.tag}: {ok} of {expected.arrivals} scheduled uploads ok")
    results_path = run_path / "records" / f"{expected.tag}-s3-results.csv"
    joined = list(iter_records(results_path)) if results_path.is_file() else []
    missing = sum(r.error_kind == "missing_result" for r in joined)
    if len(joined) != expected.arrivals:
        problems.append(f"{expected.tag}: {len(joined)} of {expected.arrivals} uploads joined with a result record")
    if missing:
        problems.append(f"{expected.tag}: {missing} uploads have no inference result")
    return problems


def check_invokes(expected: Expected, records: list[RequestRecord]) -> list[str]:
    mine = [r for r in records if r.scenario == expected.tag]
    if len(mine) != expected.arrivals:
        return [f"{expected.tag}: {len(mine)} of {expected.arrivals} invokes recorded"]
    return []


def check_run(plan: Plan, expected: list[Expected], run_path: Path, records: list[RequestRecord]) -> list[str]:
    problems: list[str] = []
    for item in expected:
        workload = plan.workload(item.workload)
        if isinstance(workload, HttpWorkload):
            problems += check_http(item, records)
        elif isinstance(workload, S3ReplayWorkload):
            problems += check_replay(item, run_path)
        else:
            problems += check_invokes(item, records)
    return problems
