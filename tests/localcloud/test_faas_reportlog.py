"""REPORT lines: the exact Lambda format we write, and real CloudWatch variants we must read."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.reportlog import (
    billed_duration_ms,
    format_report_line,
    iter_report_lines,
    parse_report_line,
)

RID = "8f507cfc-xmpl-4697-b07a-ac58fc914c95"


def test_format_matches_lambda_exactly() -> None:
    line = format_report_line(RID, 12.341, 1024, 87, init_duration_ms=345.672)
    assert line == (
        f"REPORT RequestId: {RID}\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 1024 MB\t"
        "Max Memory Used: 87 MB\tInit Duration: 345.67 ms\t"
    )
    warm = format_report_line(RID, 2.0, 128, 40)
    assert "Init Duration" not in warm
    assert warm.endswith("Max Memory Used: 40 MB\t")


@pytest.mark.parametrize(("duration_ms", "billed"), [(0.04, 1), (1.0, 1), (1.0001, 2), (12.34, 13), (999.5, 1000)])
def test_billed_duration_rounds_up_to_the_millisecond(duration_ms: float, billed: int) -> None:
    assert billed_duration_ms(duration_ms) == billed


def test_round_trip() -> None:
    line = format_report_line(RID, 3003.52, 512, 41, 180.0, status="timeout")
    report = parse_report_line(line)
    assert report is not None
    assert report.request_id == RID
    assert report.duration_ms == pytest.approx(3003.52)
    assert report.billed_duration_ms == 3004
    assert (report.memory_size_mb, report.max_memory_used_mb) == (512, 41)
    assert report.init_duration_ms == pytest.approx(180.0)
    assert report.cold_start
    assert report.status == "timeout"


# Real CloudWatch samples (AWS documentation and console exports); the ids are the docs' own.
CLOUDWATCH_SAMPLES = [
    "REPORT RequestId: 3604209a-e9a3-11e6-939a-754dd98c7be3\tDuration: 12.34 ms\tBilled Duration: 100 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 18 MB",
    f"REPORT RequestId: {RID}\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 56 MB\tInit Duration: 130.49 ms\tXRAY TraceId: 1-5e34a614-10bdxmplf1fb44f07bc535a1\t"
    "SegmentId: 07f5xmpl2d1f6f85\tSampled: true\t",
    "2020-01-31T22:41:58.234Z REPORT RequestId: 1ff5c1f5-xmpl-4ba5-9fd0-5a5ab1c56bbb Duration: 1006.11 ms "
    "Billed Duration: 1251 ms Memory Size: 1024 MB Max Memory Used: 139 MB Restore Duration: 474.16 ms "
    "Billed Restore Duration: 244 ms",
    "REPORT RequestId: 5e3xmpl9-2c3c-4b0a-9f5a-6fe3b7a2c1d4\tDuration: 3003.52 ms\tBilled Duration: 3000 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 40 MB\tStatus: timeout",
    "REPORT RequestId: 0a1bxmpl-7d2e-4c11-9a55-88b0f1e2d3c4\tDuration: 41.07 ms\tBilled Duration: 42 ms\t"
    "Memory Size: 256 MB\tMax Memory Used: 74 MB\tStatus: error\tError Type: Runtime.ExitError",
    '{"time":"2023-11-15T19:50:19.545Z","type":"platform.report","record":{"requestId":"6d68ca91-'
    'xmpl-4d2a-b2b5-1e0c3ad0c4b2","metrics":{"durationMs":2.19,"billedDurationMs":3,"memorySizeMB":128,'
    '"maxMemoryUsedMB":63,"initDurationMs":158.83},"status":"success"}}',
]


def test_parses_real_cloudwatch_variants() -> None:
    reports = [parse_report_line(line) for line in CLOUDWATCH_SAMPLES]
    assert all(report is not None for report in reports)
    plain, xray, snapstart, timeout, crashed, as_json = reports
    assert plain.billed_duration_ms == 100 and plain.init_duration_ms is None and not plain.cold_start
    assert xray.init_duration_ms == pytest.approx(130.49)
    assert xray.xray_trace_id == "1-5e34a614-10bdxmplf1fb44f07bc535a1"
    assert snapstart.restore_duration_ms == pytest.approx(474.16)
    assert snapstart.billed_restore_duration_ms == 244
    assert snapstart.billed_duration_ms == 1251 and snapstart.prefix == "2020-01-31T22:41:58.234Z"
    assert timeout.status == "timeout"
    assert crashed.status == "error" and crashed.error_type == "Runtime.ExitError"
    assert as_json.max_memory_used_mb == 63 and as_json.init_duration_ms == pytest.approx(158.83)
    assert as_json.status is None


def test_non_report_lines_are_none() -> None:
    for line in ("START RequestId: x Version: $LATEST", "END RequestId: x", "", "REPORT RequestId: x"):
        assert parse_report_line(line) is None


def test_iter_report_lines_from_file_and_lines(tmp_path: Path) -> None:
    lines = [
        f"START RequestId: {RID} Version: $LATEST",
        "hello from the function",
        f"END RequestId: {RID}",
        format_report_line(RID, 5.0, 1024, 50, 100.0),
        "XRAY TraceId: 1-5e34a614-10bdxmplf1fb44f07bc535a1\tSegmentId: 07f5xmpl2d1f6f85\tSampled: true\t",
        f"2024-01-01T00:00:00.000Z\tfn\tstream\t{format_report_line(RID, 6.0, 1024, 51)}",
    ]
    log = tmp_path / "stream.log"
    log.write_text("\n".join(lines) + "\n")
    from_file = list(iter_report_lines(log))
    assert [r.duration_ms for r in from_file] == [5.0, 6.0]
    assert from_file[1].prefix == "2024-01-01T00:00:00.000Z\tfn\tstream"
    assert list(iter_report_lines(lines)) == from_file
