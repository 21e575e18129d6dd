"""The pyarrow reader reads what the exact reader reads (columns, values, the analysis of them), merges files and
keeps only the asked columns, encodes text as pandas would, and leaves files or cells it cannot read cleanly to the
exact reader (torn last lines, bad cells, quoted newlines across parser blocks)."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import mixed_records, rec, write_run

from analysis.fastread import read_all_clean, read_clean
from analysis.frame import _read_exact, load_frame, prepare
from analysis.groups import _encoded
from analysis.summary import analyse
from labkit.records import FIELD_NAMES, ReadCounts


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_fast_reader_reads_what_the_exact_reader_reads(tmp_path):
    path = write_run(tmp_path, mixed_records()).record_files()[0]
    fast, exact = read_clean(path), _read_exact(path, False, None)
    assert fast is not None and list(fast.columns) == list(exact.columns)
    for name in exact.columns:
        if isinstance(fast[name].dtype, pd.CategoricalDtype):
            assert fast[name].astype(str).tolist() == exact[name].astype(str).tolist(), name
        else:
            pd.testing.assert_series_equal(fast[name], exact[name], check_dtype=False, obj=name)
    a, b = analyse(prepare(fast)), analyse(prepare(exact))
    assert _same(json.loads(json.dumps(a, default=str)), json.loads(json.dumps(b, default=str)))


def test_fast_reader_keeps_only_asked_columns_and_merges_files(tmp_path):
    run = write_run(tmp_path, mixed_records())
    with run.writer("y") as writer:
        writer.write_all(mixed_records(30))
    frame = load_frame(run.record_files(), columns=["target", "latency_ms", "ok"])
    assert list(frame.columns) == ["target", "latency_ms", "ok"] and len(frame) == 270
    assert sorted(frame["target"].astype(str).unique()) == ["faas", "faas-b", "server"]


@pytest.mark.parametrize(
    ("tail", "torn"),
    [
        (b"r,x,locust,s,faas,predict,1.0", 1),  # no final newline: a torn record
        (b"", 0),
    ],
)
def test_unclean_files_take_the_exact_path(tmp_path, tail, torn):
    path = write_run(tmp_path, mixed_records(12)).record_files()[0]
    with path.open("ab") as handle:
        handle.write(tail)
    counts = ReadCounts()
    frame = load_frame([path], counts=counts)
    assert len(frame) == 12 and counts.torn == torn
    assert (read_clean(path) is None) == bool(torn)


@pytest.mark.parametrize(("field", "bad"), [("ok", ""), ("latency_ms", "nan"), ("status_code", "2.5"), ("ok", "1")])
def test_cells_the_exact_reader_rejects_are_left_to_it(tmp_path, field, bad):
    path = write_run(tmp_path, mixed_records(12)).record_files()[0]
    lines = path.read_text().splitlines(keepends=True)
    cells = lines[3].rstrip("\n").split(",")
    cells[list(FIELD_NAMES).index(field)] = bad
    lines[3] = ",".join(cells) + "\n"
    path.write_text("".join(lines))
    assert read_clean(path) is None
    counts = ReadCounts()
    assert len(load_frame([path], skip_bad_rows=True, counts=counts)) == 11 and counts.bad == 1


def test_quoted_newlines_across_parser_blocks_are_read_right(tmp_path, monkeypatch):
    from analysis import fastread

    monkeypatch.setattr(fastread, "CSV_BLOCK_BYTES", 1 << 20)  # small blocks: some quoted newline straddles two
    records = mixed_records(300) * 70  # over 2 blocks
    for i, record in enumerate(records):
        record.error_message = f'line one,\n"line" two {i}' if i % 3 == 0 else ""
    path = write_run(tmp_path, records).record_files()[0]
    assert path.stat().st_size > 2 << 20
    fast, exact = read_clean(path), _read_exact(path, False, None)
    assert fast is not None and len(fast) == len(exact) == len(records)
    assert fast["error_message"].tolist() == exact["error_message"].tolist()
    np.testing.assert_array_equal(fast["latency_ms"].to_numpy(), exact["latency_ms"].to_numpy())


def test_no_files_read_together_is_no_frame():
    assert read_all_clean([]) is None  # nothing to read: the caller's exact path decides


@pytest.mark.parametrize(
    "values",
    [["b", "a", "b", "c"], ["x"] * 5, [], ["", "a", ""], ["é", "e", "z"], ["b"] * 300 + [str(i) for i in range(300)]],
)
def test_arrow_text_is_encoded_as_pandas_factorize_does(values):
    column = pd.Series(values, dtype="string[pyarrow]")
    codes, uniques = _encoded(column)
    expected_codes, expected_uniques = pd.factorize(column, sort=True, use_na_sentinel=False)
    assert codes.tolist() == expected_codes.tolist() and list(uniques) == list(expected_uniques)
    assert codes.dtype == (np.int8 if len(expected_uniques) < 128 else np.int16)


def test_categorical_codes_from_arrow_are_small_and_sorted(tmp_path):
    kinds = ["", "timeout", "", "http_5xx"]
    pairs = enumerate(zip("baba", kinds, strict=True))
    records = [rec(i, target=t, latency_ms=5.0, error_kind=k) for i, (t, k) in pairs]
    frame = read_clean(write_run(tmp_path, records).record_files()[0])
    assert frame is not None
    for name, expected in (("target", list("baba")), ("error_kind", kinds)):
        assert frame[name].cat.codes.dtype == np.int8
        assert frame[name].astype(str).tolist() == expected
        assert list(frame[name].cat.categories) == sorted(set(expected))
