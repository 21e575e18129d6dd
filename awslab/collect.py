"""Collect a run's platform side from AWS into its run dir, and join it to the client records.

1. REPORT lines of the run's time range (manifest start - margin .. end + margin) from each function's
   log group -> logs/cloudwatch/<function>.log (the analysis reads every logs/**/*.log);
2. result objects (results/*.json) written to the output bucket in that range -> logs/aws-s3-results.jsonl;
3. every records/*.csv: empty function fields filled from the REPORT line with the same function_request_id
   (rewritten atomically); result documents with no `s3-infer` record yet -> records/aws-s3-results.csv.
Which log groups and bucket: the manifest's `aws` section (written by the awslab experiments), else the
endpoints file of the last deploy.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from awslab.aws import aws_errors
from awslab.cloudwatch import FetchBound, FetchResult, fetch_report_events, write_report_log
from awslab.join import join_reports, reports_by_id, result_record
from labkit.errors import ConfigError, InputError
from labkit.records import RequestRecord, iter_records
from labkit.recordwriter import RecordWriter
from labkit.reportlog import ReportLine, iter_report_lines
from labkit.rundir import RunDir

RESULTS_LOG = "aws-s3-results.jsonl"
RESULT_RECORDS = "aws-s3-results"
MAX_RESULT_OBJECTS = 100_000


@dataclass(frozen=True)
class CollectPlan:
    log_groups: dict[str, str]  # label (api | s3 | s3_forward | s3_chain | chain_target) -> log group name
    output_bucket: str = ""
    start_unix_s: float = 0.0
    end_unix_s: float = 0.0
    pattern: str = "REPORT"
    bound: FetchBound = field(default_factory=FetchBound)


def plan_for_run(run: RunDir, fallback_aws: dict[str, Any] | None, margin_s: float, pattern: str) -> CollectPlan:
    """The log groups, bucket and time range of `run` (ConfigError if nothing says where to look)."""
    manifest = run.read_manifest()
    aws = (manifest.get("config") or {}).get("aws") or fallback_aws
    if not aws:
        raise ConfigError(
            f"{run.path}: the manifest has no `aws` section and there is no endpoints file; "
            "run `python -m awslab deploy` (or pass --endpoints FILE)"
        )
    groups = {k: v for k, v in (aws.get("log_groups") or {}).items() if v and k != "ec2"}  # every function's
    started = float(manifest.get("started_unix_s") or 0.0)
    ended = float(manifest.get("ended_unix_s") or time.time())
    if not started:
        raise InputError(f"{run.manifest_path}: no started_unix_s; cannot tell the run's time range")
    return CollectPlan(
        groups, str((aws.get("buckets") or {}).get("output", "")), started - margin_s, ended + margin_s, pattern
    )


def collect_reports(logs: Any, plan: CollectPlan, run: RunDir, progress: Callable[[str], None]) -> list[FetchResult]:
    results = []
    for label, group in sorted(plan.log_groups.items()):
        result = FetchResult()
        pages = fetch_report_events(
            logs, group, int(plan.start_unix_s * 1000), int(plan.end_unix_s * 1000), result, plan.pattern, plan.bound
        )
        path = run.logs_dir / "cloudwatch" / f"{group.strip('/').replace('/', '_')}.log"
        write_report_log(pages, path, lambda n, label=label: progress(f"  {label}: {n} REPORT lines"))
        progress(
            f"{group}: {result.events} events in {result.pages} pages ({result.retries} throttled retries)"
            + ("" if result.complete else f"; INCOMPLETE: {result.reason}")
        )
        results.append(result)
    return results


def collect_results(s3: Any, plan: CollectPlan, run: RunDir, progress: Callable[[str], None]) -> int:
    """Result documents written in the time range -> logs/aws-s3-results.jsonl; returns how many."""
    path, count = run.logs_dir / RESULTS_LOG, 0
    with aws_errors(f"reading results from bucket {plan.output_bucket}"), path.open("w", encoding="utf-8") as out:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=plan.output_bucket, Prefix="results/"):
            for item in page.get("Contents", []):
                modified_s = item["LastModified"].timestamp()
                if not plan.start_unix_s <= modified_s <= plan.end_unix_s:
                    continue
                body = s3.get_object(Bucket=plan.output_bucket, Key=item["Key"])["Body"].read()
                try:
                    doc = json.loads(body)
                except json.JSONDecodeError:
                    progress(f"  skipped {item['Key']}: not JSON")
                    continue
                out.write(json.dumps(doc, sort_keys=True) + "\n")
                out.flush()
                count += 1
                if count >= MAX_RESULT_OBJECTS:
                    progress(f"  stopped at {MAX_RESULT_OBJECTS} result objects (bound)")
                    return count
    return count


def read_reports(run: RunDir) -> dict[str, ReportLine]:
    reports: list[ReportLine] = []
    for path in sorted((run.logs_dir / "cloudwatch").glob("*.log")):
        reports.extend(iter_report_lines(path))
    return reports_by_id(reports)


def rewrite_records(path: Path, records: list[RequestRecord]) -> None:
    """Replace a records file atomically (a crash leaves the old file or the new one, never half)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    with RecordWriter(tmp) as writer:
        writer.write_all(records)
    os.replace(tmp, path)


def join_run(run: RunDir, progress: Callable[[str], None]) -> dict[str, int]:
    """Fill every records file from the REPORT lines; add s3-infer records for unjoined result documents."""
    reports = read_reports(run)
    matched_total, uploads, inferred = 0, {}, set()
    for path in run.record_files():
        if path.stem == RESULT_RECORDS:
            continue
        records, matched = join_reports(list(iter_records(path)), reports)
        if matched:
            rewrite_records(path, records)
        matched_total += matched
        for r in records:
            if r.operation == "s3-put" and r.ok and r.object_key:
                uploads.setdefault(r.object_key, r)
            if r.operation == "s3-infer" and r.object_key:
                inferred.add(r.object_key)
    docs = _read_docs(run.logs_dir / RESULTS_LOG)
    new = [
        result_record(doc, run.run_id, uploads.get(key), reports.get(str(doc.get("function_request_id") or "")))
        for key, doc in docs.items()
        if key not in inferred
    ]
    if new:
        rewrite_records(run.records_dir / f"{RESULT_RECORDS}.csv", new)
    progress(
        f"joined: {matched_total} records matched a REPORT line ({len(reports)} lines); "
        f"{len(new)} s3-infer records from result objects"
    )
    return {"report_lines": len(reports), "records_matched": matched_total, "result_records": len(new)}


def _read_docs(path: Path) -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            doc = json.loads(line)
            if isinstance(doc, dict) and isinstance(doc.get("input_key"), str):
                docs.setdefault(doc["input_key"], doc)
    return docs
