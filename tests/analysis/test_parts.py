"""A report reads a run a part at a time (analysis.parts, analysis.runread): the same report as the run read whole,
one part's records alive at a time; segments say which groups they hold (colcache spans)."""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
import sys
import weakref
from pathlib import Path

import pandas as pd
import pytest
from analysis_helpers import faas_records, mixed_records, platform_log_line, rec

from analysis import colcache
from analysis.fastread import file_spans, header_of
from analysis.frame import load_frame, prepare
from analysis.groups import RECORD_COLUMNS, extents
from analysis.parts import file_parts
from analysis.report import ReportOptions, write_report, write_reports
from analysis.runread import load_run
from labkit.rundir import RunDir

COLUMNS = list(RECORD_COLUMNS)


def _run(root: Path) -> RunDir:
    """Files a (faas, with REPORT lines), b (server), c (faas-b and more faas: joins a's part), d (a header alone)."""
    run = RunDir.create(root, "parts", config={"demo": {"rate_rps": 4.0}})
    faas = faas_records(60)
    with run.writer("a") as writer:
        writer.write_all(faas[:40])
    with run.writer("b") as writer:
        writer.write_all([rec(i, "server", 10.0 + i % 7, gap_s=0.5) for i in range(50)])
    with run.writer("c") as writer:
        writer.write_all([r for r in mixed_records(90) if r.target == "faas-b"] + faas[40:])
    with run.writer("d"):
        pass
    log = run.logs_dir / "functions" / "platform.log"
    log.parent.mkdir(parents=True)
    log.write_text("\n".join(platform_log_line(r, "inference-api", None) for r in faas) + "\n")
    run.finish()
    return run


def test_files_are_parted_by_the_groups_they_share_with_the_extents_of_the_whole(tmp_path: Path) -> None:
    run = _run(tmp_path)
    files = run.record_files()
    found = file_parts(files, COLUMNS)
    assert found is not None
    assert [[p.stem for p in part] for part in found.files] == [["a", "c"], ["b"]]  # d: no rows, in no part
    whole, _ = load_run(run, [])
    assert found.extents == {key[1:]: span for key, span in extents(whole, ("run_id", "target", "operation"),
                                                                     "t_s").items()}  # fmt: skip
    assert file_parts(files, COLUMNS) == found  # the second time from the segments' metadata alone
    with files[1].open("ab") as handle:  # a torn last row: the run is read whole, the exact way
        handle.write(b"torn,row")
    assert file_parts(files, COLUMNS) is None


def test_a_report_read_in_parts_is_the_report_of_the_run_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _run(tmp_path)
    analysed: list[weakref.ref] = []
    from analysis import partwise, runread

    analyse, load_frame_of = partwise.analyse, runread.load_frame

    def seen(frame: pd.DataFrame, *args, **kwargs):
        analysed.append(weakref.ref(frame))
        return analyse(frame, *args, **kwargs)

    def read_with_no_part_alive(*args, **kwargs) -> pd.DataFrame:
        gc.collect()
        assert all(part() is None for part in analysed), "a part read earlier is still in memory"
        return load_frame_of(*args, **kwargs)

    monkeypatch.setattr(partwise, "analyse", seen)
    monkeypatch.setattr(runread, "load_frame", read_with_no_part_alive)
    in_parts = write_report(run.path).summary_json.read_text()
    assert len(analysed) == 2
    monkeypatch.setattr("analysis.runread.file_parts", lambda *args: None)  # the whole run at once
    whole = write_report(run.path).summary_json.read_text()
    assert len(analysed) == 3 and in_parts == whole
    summary = json.loads(whole)
    assert [g["target"] for g in summary["groups"]] == ["faas-b", "local-faas", "server"]
    assert summary["runs"][0]["report_lines"]["matched"] == 60 and summary["record_count"] == 60 + 50 + 30


def test_two_run_dirs_of_one_name_make_one_group_per_key_as_before(tmp_path: Path) -> None:
    run = _run(tmp_path / "one")
    copy = tmp_path / "two" / run.path.name
    shutil.copytree(run.path, copy)
    files = write_reports([run.path, copy], ReportOptions(plots=False), tmp_path / "out")
    groups = files.summary["groups"]
    assert [g["target"] for g in groups] == ["faas-b", "local-faas", "server"]  # each once, with both runs' rows
    assert [g["count"] for g in groups] == [2 * 30, 2 * 60, 2 * 50]


def test_segments_say_which_groups_they_hold_and_older_segments_are_parsed_again(tmp_path: Path) -> None:
    run = _run(tmp_path)
    path = run.records_dir / "c.csv"
    spans = file_spans(path, COLUMNS)
    frame = prepare(load_frame([path]))
    expected = frame.groupby(["target", "scenario", "operation"], observed=True)["t_s"].agg(["min", "max"])
    assert sorted(spans) == [(*key, row["min"], row["max"]) for key, row in expected.iterrows()]
    [segment] = colcache.segments(path).values()
    header, start = header_of(path)
    names = [name for name in header if name in COLUMNS]  # the columns a report reads
    with path.open("rb") as handle:
        [link] = colcache.chain(handle, path, names, start)
    assert sorted(link.spans) == sorted(spans)
    # a segment of an older version (no spans): parsed again, and left with them
    import pyarrow as pa
    from pyarrow import ipc

    with pa.memory_map(str(segment)) as source:
        table = ipc.open_file(source).read_all()
    meta = {k: v for k, v in table.schema.metadata.items() if k != b"spans"}
    with pa.OSFile(str(segment), "wb") as sink, ipc.new_file(sink, table.schema.with_metadata(meta)) as writer:
        writer.write_table(table.replace_schema_metadata(meta))
    with path.open("rb") as handle:
        assert colcache.chain(handle, path, names, start)[0].spans is None
    assert sorted(file_spans(path, COLUMNS)) == sorted(spans)
    with path.open("rb") as handle:
        assert sorted(colcache.chain(handle, path, names, start)[0].spans) == sorted(spans)


def test_the_analysis_imports_no_plotting_and_the_report_only_once_the_parts_are_analysed(tmp_path: Path) -> None:
    """matplotlib (~30 MB) is not beside a part's records: the analysis' modules do not import it, the report's
    module does not either, and a report imports it when it draws (after the analysis)."""
    run = _run(tmp_path)
    code = (
        "import sys\n"
        "import analysis.partwise, analysis.runread, analysis.summary, analysis.report\n"
        "print('matplotlib' in sys.modules)\n"
        "from analysis import partwise\n"
        "analyse = partwise.analyse\n"
        "seen = []\n"
        "partwise.analyse = lambda *a, **k: seen.append('matplotlib' in sys.modules) or analyse(*a, **k)\n"
        f"analysis.report.write_report(__import__('pathlib').Path({str(run.path)!r}))\n"
        "print(seen, 'matplotlib' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split("\n")[:2] == ["False", "[False, False] True"], out.stdout + out.stderr
