"""`python -m analysis RUN --export-parquet FILE`: the run's records, every field, as one Parquet file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from analysis_helpers import rec, write_run

from analysis.__main__ import main
from analysis.frame import TEXT_COLUMNS, load_frame
from labkit.records import FIELD_KINDS, FIELD_NAMES, ReadCounts, RequestRecord
from labkit.rundir import RunDir


def _records(n: int, target: str = "faas") -> list[RequestRecord]:
    out = []
    for i in range(n):
        out.append(rec(i, target, 20.0 + (i * 37) % 101 + i / 7, gap_s=0.1, cold_start=(None, True, False)[i % 3],
                       ok=i % 5 != 0, status_code=None if i % 4 == 0 else 200 + i % 3, hops=i if i % 2 else None,
                       memory_mb=1024 if i % 2 else None, duration_ms=None if i % 3 else 12.5 + i,
                       instance_id="" if i % 6 == 0 else f"env-{i % 4}", model_name="mobilenetv2",
                       error_message='a "quoted", multi\nline message' if i == 3 else ""))  # fmt: skip
    return out


def _run(tmp_path: Path, torn: bool = True) -> tuple[RunDir, list[RequestRecord]]:
    first, second = _records(40), _records(25, "server")
    run = write_run(tmp_path, first)
    with run.writer("y") as writer:
        writer.write_all(second)
    if torn:  # a writer killed mid-row: no final newline
        with run.record_files()[1].open("ab") as handle:
            handle.write(b"r,server-99,locust,constant-load,server,predict,1795434000.5")
    return run, first + second


def _export(run: RunDir, out: Path, *extra: str) -> int:
    return main([str(run.path), "--export-parquet", str(out), *extra])


def test_export_round_trips_every_field_of_every_record(tmp_path, capsys):
    run, records = _run(tmp_path)
    out = tmp_path / "records.parquet"
    assert _export(run, out) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "rows: 65 (1 torn skipped)" in printed
    table = pq.read_table(out)
    assert table.column_names == list(FIELD_NAMES) and table.num_rows == len(records)
    for name in FIELD_NAMES:
        expected = [getattr(r, name) for r in records]
        assert table.column(name).to_pylist() == expected, name  # None stays null, "" stays "", floats exact
    assert not (run.path / "report.md").exists() and not (run.path / "summary.json").exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_export_equals_the_frame_the_report_reads(tmp_path):
    run, _ = _run(tmp_path)
    counts = ReadCounts()
    frame = load_frame(run.record_files(), counts=counts)
    assert counts.torn == 1
    for attempt in ("first", "cached"):  # the second export reads the records' cache
        out = tmp_path / f"{attempt}.parquet"
        assert _export(run, out) == 0
        table = pq.read_table(out)
        assert table.num_rows == len(frame)
        for name in FIELD_NAMES:
            theirs = [None if pd.isna(v) else v for v in frame[name].tolist()]
            assert table.column(name).to_pylist() == theirs, (attempt, name)


def test_export_types_compression_and_row_groups(tmp_path):
    run, _ = _run(tmp_path, torn=False)
    out = tmp_path / "records.parquet"
    assert _export(run, out) == 0
    schema = pq.read_schema(out)
    kinds = {"float": pa.float64(), "int": pa.int64(), "bool": pa.bool_(), "str": pa.string()}
    assert [schema.field(n).type for n in FIELD_NAMES] == [kinds[FIELD_KINDS[n]] for n in FIELD_NAMES]
    meta = pq.ParquetFile(out).metadata
    assert meta.num_row_groups == 1 and meta.metadata[b"loadlab.run_id"] == run.run_id.encode()
    group = meta.row_group(0)
    for index, name in enumerate(FIELD_NAMES):
        column = group.column(index)
        assert column.compression == "ZSTD", name
        if name in TEXT_COLUMNS:
            assert column.has_dictionary_page and "RLE_DICTIONARY" in column.encodings, name


def test_bad_rows_stop_the_export_or_are_skipped_and_counted(tmp_path, capsys):
    run, records = _run(tmp_path, torn=False)
    path = run.record_files()[0]
    lines = path.read_text().splitlines(keepends=True)
    cells = lines[10].rstrip("\n").split(",")  # past the record with a multi-line message
    cells[list(FIELD_NAMES).index("latency_ms")] = "fast"
    lines[10] = ",".join(cells) + "\n"
    path.write_text("".join(lines))
    out = tmp_path / "records.parquet"
    assert _export(run, out) == 3 and not out.exists()
    assert "latency_ms" in capsys.readouterr().err
    assert _export(run, out, "--skip-bad-rows") == 0
    assert "rows: 64 (1 bad skipped)" in capsys.readouterr().out
    assert pq.read_table(out).num_rows == len(records) - 1


def test_an_empty_run_exports_an_empty_file_with_every_field(tmp_path):
    run = write_run(tmp_path, [])
    out = tmp_path / "records.parquet"
    assert _export(run, out) == 0
    table = pq.read_table(out)
    assert table.num_rows == 0 and table.column_names == list(FIELD_NAMES)


@pytest.mark.parametrize("case", ["two runs", "no run", "folder", "no parent", "not a run"])
def test_export_refuses_what_it_cannot_do_with_a_clear_error(tmp_path, capsys, case):
    run, _ = _run(tmp_path, torn=False)
    out = tmp_path / "records.parquet"
    argv = {
        "two runs": [str(run.path), str(run.path), "--export-parquet", str(out)],
        "no run": ["--export-parquet", str(out)],
        "folder": [str(run.path), "--export-parquet", str(tmp_path)],
        "no parent": [str(run.path), "--export-parquet", str(tmp_path / "missing" / "x.parquet")],
        "not a run": [str(tmp_path / "nowhere"), "--export-parquet", str(out)],
    }[case]
    assert main(argv) == (3 if case == "not a run" else 2)
    assert "--export-parquet" in capsys.readouterr().err or case == "not a run"
    assert not out.exists() and not (run.path / "report.md").exists()
