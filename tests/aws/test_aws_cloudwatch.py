"""CloudWatch REPORT collection: pagination and throttling (botocore Stubber, real response shapes), then
moto's CloudWatch Logs and S3 end to end into a run dir, joined to the records by function_request_id."""

from __future__ import annotations

import json
import random
import time
import uuid
from pathlib import Path

import boto3
import pytest
from aws_testkit import report_event, stream_name
from botocore.stub import Stubber
from moto import mock_aws

from awslab.cloudwatch import FetchBound, FetchResult, fetch_report_events, write_report_log
from awslab.collect import CollectPlan, collect_reports, collect_results, join_run
from labkit.errors import TargetError
from labkit.records import RequestRecord, iter_records
from labkit.reportlog import iter_report_lines
from labkit.rundir import RunDir

GROUP = "/aws/lambda/loadlab-inference"
START_MS, END_MS = 1_790_000_000_000, 1_790_000_600_000
NO_SLEEP_BOUND = FetchBound(max_attempts=4, base_backoff_s=0.5, max_backoff_s=4.0)


def _page(events: list[dict], token: str | None) -> dict:
    page = {"events": events, "searchedLogStreams": []}
    if token:
        page["nextToken"] = token
    return page


def _request(token: str | None = None) -> dict:
    request = {"logGroupName": GROUP, "startTime": START_MS, "endTime": END_MS, "filterPattern": "REPORT"}
    if token:
        request["nextToken"] = token
    return request


def test_pages_are_followed_and_throttling_is_retried_with_backoff() -> None:
    logs = boto3.client("logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stream = stream_name()
    ids = [str(uuid.uuid4()) for _ in range(5)]
    sleeps: list[float] = []
    with Stubber(logs) as stub:
        stub.add_response(
            "filter_log_events",
            _page(
                [report_event(ids[0], START_MS + 1, stream, init_ms=700.1), report_event(ids[1], START_MS + 2, stream)],
                "tok-1",
            ),
            _request(),
        )
        stub.add_client_error(
            "filter_log_events", "ThrottlingException", "Rate exceeded", 400, expected_params=_request("tok-1")
        )
        stub.add_client_error(
            "filter_log_events", "ThrottlingException", "Rate exceeded", 400, expected_params=_request("tok-1")
        )
        stub.add_response(
            "filter_log_events", _page([report_event(ids[2], START_MS + 3, stream)], "tok-2"), _request("tok-1")
        )
        stub.add_response(
            "filter_log_events",
            _page([report_event(i, START_MS + 4, stream) for i in ids[3:]], None),
            _request("tok-2"),
        )
        result = FetchResult()
        pages = list(
            fetch_report_events(
                logs, GROUP, START_MS, END_MS, result, bound=NO_SLEEP_BOUND, sleep=sleeps.append, rng=random.Random(1)
            )
        )
        stub.assert_no_pending_responses()
    assert [len(p) for p in pages] == [2, 1, 2]
    assert (result.events, result.pages, result.retries, result.complete) == (5, 3, 2, True)
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0  # full jitter, doubling cap
    lines = [report for page in pages for event in page for report in iter_report_lines([event["message"]])]
    assert [r.request_id for r in lines] == ids and lines[0].init_duration_ms == 700.1


def test_throttling_past_the_bound_is_a_target_error() -> None:
    logs = boto3.client("logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(logs) as stub:
        for _ in range(NO_SLEEP_BOUND.max_attempts):
            stub.add_client_error("filter_log_events", "ThrottlingException", "Rate exceeded", 400)
        with pytest.raises(TargetError, match="ThrottlingException"):
            list(
                fetch_report_events(
                    logs, GROUP, START_MS, END_MS, FetchResult(), bound=NO_SLEEP_BOUND, sleep=lambda _s: None
                )
            )
        stub.assert_no_pending_responses()


def test_page_bound_stops_and_says_the_range_is_incomplete(tmp_path: Path) -> None:
    logs = boto3.client("logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stream = stream_name()
    with Stubber(logs) as stub:
        for page in range(2):
            stub.add_response(
                "filter_log_events", _page([report_event(str(uuid.uuid4()), START_MS, stream)], f"t{page}")
            )
        result = FetchResult()
        pages = fetch_report_events(logs, GROUP, START_MS, END_MS, result, bound=FetchBound(max_pages=2))
        written = write_report_log(pages, tmp_path / "report.log", lambda _n: None)
    assert written == 2 and not result.complete and "2 pages" in result.reason
    assert len(list(iter_report_lines(tmp_path / "report.log"))) == 2


def _records(run: RunDir, request_ids: list[str]) -> None:
    with run.writer("awslab") as writer:
        for i, rid in enumerate(request_ids):
            now = time.time()
            writer.write(
                RequestRecord.timed(
                    intended_send_unix_s=now,
                    actual_send_unix_s=now,
                    completion_unix_s=now + 0.1,
                    run_id=run.run_id,
                    request_id=f"r{i}",
                    source="awslab",
                    scenario="cold-forced",
                    target="lambda",
                    status_code=200,
                    function_request_id=rid,
                )
            )
        writer.write(
            RequestRecord(
                run_id=run.run_id,
                request_id="lost",
                source="awslab",
                scenario="cold-forced",
                target="lambda",
                ok=False,
                error_kind="timeout",
            )
        )


@mock_aws
def test_collect_from_moto_logs_and_s3_joins_by_request_id(aws_env: None, tmp_path: Path) -> None:
    logs, s3 = boto3.client("logs", region_name="us-east-1"), boto3.client("s3", region_name="us-east-1")
    run = RunDir.create(tmp_path, "cold-starts", {})
    ids = [str(uuid.uuid4()) for _ in range(3)]
    _records(run, ids)
    s3_id = str(uuid.uuid4())
    now_ms, stream = int(time.time() * 1000), stream_name()
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_group(logGroupName=f"{GROUP}-s3")
    logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    logs.create_log_stream(logGroupName=f"{GROUP}-s3", logStreamName=stream)
    messages = [
        f"START RequestId: {ids[0]} Version: $LATEST",
        report_event(ids[0], now_ms, stream, init_ms=901.2)["message"],
        report_event(ids[1], now_ms, stream)["message"],
        f"END RequestId: {ids[1]}",
        report_event(ids[2], now_ms, stream, memory_mb=2048, duration_ms=12.01)["message"],
    ]
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": now_ms + i, "message": m} for i, m in enumerate(messages)],
    )
    logs.put_log_events(
        logGroupName=f"{GROUP}-s3",
        logStreamName=stream,
        logEvents=[{"timestamp": now_ms, "message": report_event(s3_id, now_ms, stream)["message"]}],
    )
    s3.create_bucket(Bucket="out")
    doc = {
        "input_key": "fifa/000001.jpg",
        "cold_start": False,
        "inference_ms": 30.0,
        "function_request_id": s3_id,
        "received_unix_s": time.time() - 0.5,
        "completed_unix_s": time.time(),
        "model_name": "mobilenetv2",
    }
    s3.put_object(Bucket="out", Key="results/fifa/000001.jpg.json", Body=json.dumps(doc).encode())
    plan = CollectPlan({"api": GROUP, "s3": f"{GROUP}-s3"}, "out", time.time() - 60, time.time() + 60)
    fetched = collect_reports(logs, plan, run, lambda _m: None)
    assert [f.events for f in fetched] == [3, 1] and all(f.complete for f in fetched)
    assert collect_results(s3, plan, run, lambda _m: None) == 1
    assert join_run(run, lambda _m: None) == {"report_lines": 4, "records_matched": 3, "result_records": 1}
    by_id = {r.function_request_id: r for r in iter_records(run.records_dir / "awslab.csv")}
    assert by_id[ids[0]].cold_start is True and by_id[ids[0]].init_ms == 901.2 and by_id[ids[0]].billed_ms == 42
    assert by_id[ids[1]].cold_start is False and by_id[ids[1]].max_memory_used_mb == 143.0
    assert by_id[ids[2]].memory_mb == 2048 and by_id[ids[2]].duration_ms == 12.01 and by_id[ids[2]].billed_ms == 13
    assert by_id[""].error_kind == "timeout"  # the failed request is kept, unjoined
    (result,) = iter_records(run.records_dir / "aws-s3-results.csv")
    assert (result.operation, result.object_key, result.billed_ms, result.cold_start) == (
        "s3-infer",
        "fifa/000001.jpg",
        42,
        False,
    )
    assert join_run(run, lambda _m: None)["records_matched"] == 3  # joining again changes nothing
    assert len(list(iter_records(run.records_dir / "awslab.csv"))) == 4
