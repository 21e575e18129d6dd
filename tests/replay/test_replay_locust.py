"""The Locust engine of the replay (`--engine locust`): signed PUTs, one record per scheduled upload across the
per-process files, on schedule, objects in moto, errors as data. Locust always runs as a subprocess."""

from __future__ import annotations

import calendar
import hashlib
import json
import re
import time
from pathlib import Path

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from replay_traces import write_counts

from labkit.records import RequestRecord
from labkit.runctx import RunContext
from labkit.rundir import RunDir
from localcloud.s3 import MotoS3Server
from localcloud.s3.moto_server import DUMMY_REGION
from replay.__main__ import main
from replay.locustengine import (
    Cluster,
    RowCounter,
    UploadSpec,
    locust_argvs,
    run_uploads,
    upload_record_files,
    upload_records,
)
from replay.options import ScheduleSpec, build_trace_schedule, file_sha256
from replay.signedput import PutMaker, SigV4, error_of, s3_place

pytestmark = pytest.mark.timeout(120)
AUTH = re.compile(r"^AWS4-HMAC-SHA256 Credential=[A-Z0-9]+/\d{8}/[a-z0-9-]+/s3/aws4_request, "
                  r"SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date(;x-amz-security-token)?, "
                  r"Signature=[0-9a-f]{64}$")  # fmt: skip
INDEX = re.compile(r"/(\d{8})-[^/]+$")


def _index(record: RequestRecord) -> int:
    match = INDEX.search(record.object_key)
    assert match, record.object_key
    return int(match.group(1))


@pytest.mark.parametrize("token", ["", "SESSION-TOKEN"])
@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:5000", "https://s3.example:443", ""])
def test_put_is_signed_as_botocore_signs_it(endpoint: str, token: str) -> None:
    place = s3_place(endpoint, "my-bucket", "eu-west-1")
    body = b"\xff\xd8 not quite a jpeg" * 50
    maker = PutMaker(place, SigV4(lambda: ("AKIDEXAMPLE", "SECRET/KEY", token), "eu-west-1"), [(body, "image/jpeg")])
    unix_s = 1_764_547_200.0  # 2025-12-01T00:00:00Z
    raw = maker.request("uploads/run-1/00000007-a b.jpg", 0, unix_s)
    head, _, sent_body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert sent_body == body and headers["Content-Length"] == str(len(body))
    assert lines[0] == f"PUT {place.path_prefix}/uploads/run-1/00000007-a%20b.jpg HTTP/1.1"
    assert AUTH.match(headers["Authorization"]), headers["Authorization"]
    assert headers["X-Amz-Content-SHA256"] == hashlib.sha256(body).hexdigest()
    reference = AWSRequest(method="PUT", url=place.base_url + lines[0].split(" ")[1], data=body,
                           headers={"Content-Type": "image/jpeg"})  # fmt: skip
    S3SigV4Auth(Credentials("AKIDEXAMPLE", "SECRET/KEY", token or None), "s3", "eu-west-1").add_auth(reference)
    reference_s = calendar.timegm(time.strptime(reference.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
    again = dict(
        line.split(": ", 1)
        for line in maker.request("uploads/run-1/00000007-a b.jpg", 0, reference_s)
        .partition(b"\r\n\r\n")[0]
        .decode()
        .split("\r\n")[1:]
    )
    assert again["Authorization"] == reference.headers["Authorization"]
    assert again["Host"] == (place.host if endpoint else "my-bucket.s3.eu-west-1.amazonaws.com")


def test_s3_error_replies_are_data() -> None:
    body = b"<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>"
    assert error_of(404, body, "") == ("http_4xx", "HTTP 404 NoSuchBucket The specified bucket does not exist")
    assert error_of(503, b"<Code>SlowDown</Code>", "")[0] == "throttled"
    assert error_of(0, b"", "TimeoutError: timed out")[0] == "timeout"
    assert error_of(0, b"", "ConnectionRefusedError: [Errno 111]")[0] == "connection"
    assert error_of(200, b"", "") == ("", "")


def test_row_counter_reads_only_new_complete_rows(tmp_path: Path) -> None:
    (tmp_path / "replay-p0of2-h-1.csv").write_text("header\na\nb\n")
    (tmp_path / "replay-p1of2-h-2.csv").write_text("header\nc\nd-torn")
    (tmp_path / "s3-results.csv").write_text("header\nx\n")
    counter = RowCounter(tmp_path, "")
    assert counter.count() == 3
    with (tmp_path / "replay-p1of2-h-2.csv").open("a") as handle:
        handle.write("\ne\n")
    assert counter.count() == 5
    assert [p.name for p in upload_record_files(tmp_path)] == ["replay-p0of2-h-1.csv", "replay-p1of2-h-2.csv"]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--processes", "2"], "--processes is for --engine locust"),
     (["--engine", "locust", "--processes", "0"], "--processes must be >= 1"),
     (["--engine", "locust", "--resume", "runs/x"], "drop --engine locust"),
     (["--remote-workers", "4"], "--remote-workers is for --engine locust"),
     (["--engine", "locust", "--remote-workers", "4"], "--remote-workers needs --master-bind-host")],
)  # fmt: skip
def test_engine_options_are_checked(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["traces/fifa98.csv", *args])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_replay_on_two_locust_processes_against_moto(
    tmp_path: Path, moto: MotoS3Server, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = "locust-engine"
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=bucket)
    trace = write_counts(tmp_path / "t.csv", [100] * 5)
    schedule_args = ["--window", "all", "--speedup", "60", "--peak-rps", "15", "--process", "poisson", "--seed", "7"]
    code = main([str(trace), *schedule_args, "--s3-endpoint", moto.endpoint_url, "--bucket", bucket, "--engine",
                 "locust", "--processes", "2", "--runs", str(tmp_path / "runs"), "--no-report"])  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err[-3000:]
    [run_dir] = (tmp_path / "runs").iterdir()
    spec = ScheduleSpec(trace=str(trace.resolve()), trace_sha256=file_sha256(trace), window="all", speedup=60,
                        peak_rps=15, process="poisson", seed=7)  # fmt: skip
    schedule = build_trace_schedule(spec)
    files = upload_record_files(run_dir / "records")
    assert [re.sub(r"-[^-]+-\d+\.csv$", "", p.name) for p in files] == ["replay-p0of2", "replay-p1of2"]
    records = list(upload_records(run_dir / "records"))
    assert sorted(_index(r) for r in records) == list(range(len(schedule)))  # one record per upload, none lost
    assert all(r.ok and r.operation == "s3-put" and r.status_code == 200 for r in records)
    start_s = json.loads((run_dir / "manifest.json").read_text())["segments"][0]["rebase"]["start_unix_s"]
    for record in records:
        assert record.intended_send_unix_s == pytest.approx(
            start_s + schedule.offsets_s[_index(record)] - schedule.offsets_s[0], abs=1e-6
        )
        assert record.worker.startswith(f"replay-p{_index(record) % 2}of2-")  # arrival i on process i mod 2
    keys = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in page["Contents"]}
    assert keys == {r.object_key for r in records}
    assert f"uploads: {len(schedule)} of {len(schedule)} ok" in out.out


def test_missing_bucket_gives_an_error_record_per_upload(tmp_path: Path, moto: MotoS3Server) -> None:
    run = RunDir.create(tmp_path / "runs", "no-bucket")
    spec = UploadSpec(run_dir=str(run.path.resolve()), run_id=run.run_id, scenario="no-bucket", target="local-s3",
                      key_scope=run.run_id, bucket="no-such-bucket", endpoint_url=moto.endpoint_url,
                      region=DUMMY_REGION, constant_rps=20.0, constant_s=2.0, max_attempts=2)  # fmt: skip
    with RunContext(run) as ctx:
        run_uploads(ctx, spec, Cluster(processes=2), duration_s=2.0)
    records = list(upload_records(run.records_dir))
    assert sorted(_index(r) for r in records) == list(range(40))  # a 4xx is not retried: one record each
    for record in records:
        assert (record.ok, record.status_code, record.error_kind) == (False, 404, "http_4xx")
        assert "NoSuchBucket" in record.error_message and record.latency_ms is not None


def test_remote_workers_make_a_master_that_waits_for_them(tmp_path: Path) -> None:
    cluster = Cluster(processes=2, remote_workers=6, bind_host="10.0.0.5", port=5557)
    (master_name, master), (workers_name, workers) = locust_argvs(tmp_path / "spec.json", tmp_path, cluster)
    assert (master_name, workers_name) == ("uploads", "uploads-workers")
    assert "--master" in master and master[master.index("--expect-workers") + 1] == "8"
    assert master[master.index("--master-bind-host") + 1] == "10.0.0.5" and "--headless" in master
    assert workers[workers.index("--processes") + 1] == "2" and "--worker" in workers
    assert workers[workers.index("--master-host") + 1] == "127.0.0.1" and "--master-port 5557" in " ".join(workers)
    assert "--worker --processes P --master-host" in cluster.remote_command()
    [(_, single)] = locust_argvs(tmp_path / "spec.json", tmp_path, Cluster(processes=1))
    assert "--processes" not in single and "--master" not in single
