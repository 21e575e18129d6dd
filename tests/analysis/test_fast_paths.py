"""The fast paths give the same figures as the plain ones: vectorised percentiles vs numpy, the one-sort
group split vs pandas groupby (the pyarrow reader vs the exact reader: test_fast_reader.py)."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import mixed_records, rec
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.coldstart import idle_gap_s, in_flight_at_send
from analysis.figures import cdfs
from analysis.frame import prepare
from analysis.groups import extents, longest_extent, merged_extents, split_groups
from analysis.latency import (
    PERCENTILES,
    grouped_percentiles,
    percentile_key,
    sorted_percentiles,
    sorted_quantiles,
)
from analysis.plots import label
from analysis.summary import analyse, iter_groups, latency_curve
from analysis.windows import (
    LATENCY_COLUMNS,
    _nan_as_zero,
    sorted_latencies,
    window_columns,
    window_frame,
    window_frames,
    window_records,
)
from labkit.records import FIELD_NAMES


@pytest.mark.parametrize("seed", range(5))
def test_grouped_percentiles_equal_numpy_exactly_per_group_and_window(seed):
    rng = np.random.default_rng(seed)
    n, groups, windows = int(rng.integers(1, 3000)), int(rng.integers(1, 5)), int(rng.integers(1, 40))
    group = rng.integers(0, groups, n)
    window = rng.integers(0, windows, n)
    values = np.round(rng.lognormal(3.0, 1.0, n), int(rng.integers(0, 4)))  # rounding makes ties
    values[rng.random(n) < 0.05] = np.nan
    codes = group * windows + window
    out = grouped_percentiles(codes, values, groups * windows)
    keep = ~np.isnan(values)
    shared = grouped_percentiles(codes[keep], values[keep], groups * windows, value_order=np.argsort(values[keep]))
    for code in range(groups * windows):
        mine = values[(codes == code) & keep]
        assert out["count"][code] == shared["count"][code] == mine.size
        for p in PERCENTILES:
            key = percentile_key(p)
            expected = np.percentile(mine, p) if mine.size else np.nan
            np.testing.assert_array_equal([out[key][code], shared[key][code]], [expected, expected])
        if mine.size:
            assert out["max"][code] == mine.max()


def test_sorted_percentiles_equal_numpy_bit_for_bit_on_awkward_sizes():
    rng = np.random.default_rng(11)
    for n in (1, 2, 3, 7, 10, 999, 1000, 1001):
        values = np.sort(rng.standard_normal(n) * 1e3)
        out = sorted_percentiles(values, np.array([0]), np.array([n]), (0.0, 1.0, 33.3, 50.0, 99.9, 100.0))
        for p in (0.0, 1.0, 33.3, 50.0, 99.9, 100.0):
            assert out[percentile_key(p)][0] == np.percentile(values, p)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=300),
    st.sampled_from([2, 3, 7, 2000]),
)
def test_sorted_quantiles_equal_numpys_quantile_bit_for_bit(values, levels):
    ordered = np.sort(np.array(values))
    grid = np.linspace(0, 1, levels)
    np.testing.assert_array_equal(sorted_quantiles(ordered, grid), np.quantile(ordered, grid))
    assert sorted_quantiles(ordered, np.array([0.5]))[0] == np.quantile(ordered, 0.5)


def test_split_groups_is_groupby_without_copies():
    frame = prepare(pd.DataFrame([{n: getattr(r, n) for n in FIELD_NAMES} for r in mixed_records()]))
    ours = list(iter_groups(frame))
    theirs = list(frame.groupby(["run_id", "target", "scenario", "operation"], sort=True))
    assert [keys["target"] for keys, _ in ours] == [str(values[1]) for values, _ in theirs]
    for (_, mine), (_, expected) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine["latency_ms"].to_numpy(), expected["latency_ms"].to_numpy())
        assert mine["instance_id"].astype(str).tolist() == expected["instance_id"].astype(str).tolist()


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.sampled_from("xy"), st.one_of(st.none(), st.floats(0, 1e6))),
        max_size=40,
    ),
    st.booleans(),
    st.integers(0, 40),
)
def test_extents_are_the_groupby_min_and_max_whole_or_merged_from_parts(rows, categorical, cut):
    frame = pd.DataFrame(rows, columns=["target", "operation", "t_s"], dtype=object).astype({"t_s": float})
    frame["run_id"] = "r"
    if categorical:
        frame = frame.astype({"target": "category", "operation": "category", "run_id": "category"})
    names = ("run_id", "target", "operation")
    found = frame.groupby(list(names), observed=True)["t_s"].agg(["min", "max"]).dropna()
    expected = {key: (row["min"], row["max"]) for key, row in found.iterrows()}
    assert extents(frame, names, "t_s") == expected
    # a report reading a run in parts merges each part's extents: the same as the whole frame's
    parts = [extents(frame.iloc[:cut], names, "t_s"), extents(frame.iloc[cut:], names, "t_s")]
    assert merged_extents(parts) == expected
    spans = [high - low for low, high in expected.values()]
    assert longest_extent(merged_extents(parts)) == max(spans, default=0.0)


def test_report_cdfs_are_each_groups_sorted_successful_latencies():
    records = [*mixed_records(), *(rec(i, "bucket", 5.0, operation="s3-put") for i in range(20))]
    records += [rec(i, "down", 9.0, ok=False, error_kind="http_5xx") for i in range(5)]  # no success: no curve
    records[10].latency_ms = None  # a success without a latency
    frame = prepare(pd.DataFrame([{n: getattr(r, n) for n in FIELD_NAMES} for r in records]))
    frame = frame.iloc[np.random.default_rng(3).permutation(len(frame))].reset_index(drop=True)  # groups apart
    found: dict = {}
    groups = analyse(frame, curves=found)
    curves = cdfs(groups, found)
    ok = frame[frame["ok_bool"] & frame["operation"].isin(["predict", "invoke", "s3-infer"])]
    expected = {
        label(g): np.sort(rows["latency_ms"].dropna().to_numpy())
        for g in groups
        for key, rows in ok.groupby(["run_id", "target", "scenario", "operation"], observed=True)
        if tuple(str(k) for k in key) == (g["run_id"], g["target"], g["scenario"], g["operation"])
    }
    assert list(curves) == list(expected) and len(curves) == 3  # three inference targets; not the bucket, not down
    for name, values in expected.items():
        np.testing.assert_array_equal(curves[name], values)


def test_windows_with_shared_latencies_equal_windows_alone():
    frame = prepare(pd.DataFrame([{n: getattr(r, n) for n in FIELD_NAMES} for r in mixed_records()]))
    _, group = next(split_groups(frame))
    latencies = sorted_latencies(group)
    for prefix, (rows, values) in latencies.items():
        column = group[LATENCY_COLUMNS[prefix]].to_numpy()
        np.testing.assert_array_equal(values, np.sort(column[group["ok_bool"].to_numpy() & ~np.isnan(column)]))
        assert rows.size == values.size > 0
    for window_s in (1.0, 5.0):
        pd.testing.assert_frame_equal(window_frame(group, window_s, latencies=latencies), window_frame(group, window_s))


@pytest.mark.parametrize("service_missing", [False, True])
def test_sorted_latencies_share_their_rows_only_when_the_columns_have_the_same_rows(service_missing):
    """One rows array for both latency columns when they hold values on the same successful rows; each its own
    rows (and values) when the service latency is missing on some of them."""
    frame = prepare(pd.DataFrame([{n: getattr(r, n) for n in FIELD_NAMES} for r in mixed_records(300)]))
    _, group = next(split_groups(frame))
    group = group.copy()
    group["service_latency_ms"] = group["latency_ms"] - 1.0
    if service_missing:
        group.loc[group.index[::7], "service_latency_ms"] = np.nan
    latencies = sorted_latencies(group)
    ok = group["ok_bool"].to_numpy()
    for prefix, (rows, values) in latencies.items():
        column = group[LATENCY_COLUMNS[prefix]].to_numpy()
        np.testing.assert_array_equal(rows, np.flatnonzero(ok & ~np.isnan(column)))
        np.testing.assert_array_equal(values, np.sort(column[rows]))
    shared = latencies["latency"][0] is latencies["service"][0]
    assert shared is not service_missing
    for window_s in (1.0, 5.0):
        pd.testing.assert_frame_equal(window_frame(group, window_s, latencies=latencies), window_frame(group, window_s))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_window_tables_are_the_same_whatever_the_row_order(seed):
    """Rows out of send order (two producer files one after the other, or shuffled) give the tables of the rows in
    send order: the latencies are put in send order once, for every window length."""
    frame = prepare(pd.DataFrame([{n: getattr(r, n) for n in FIELD_NAMES} for r in mixed_records(600)]))
    _, group = next(split_groups(frame))
    in_order = window_columns(group, (1.0, 5.0, 7.5))
    two_files = np.concatenate([np.arange(0, len(group), 2), np.arange(1, len(group), 2)])
    order = two_files if seed == 0 else np.random.default_rng(seed).permutation(len(group))
    moved = window_columns(group.iloc[order].reset_index(drop=True), (1.0, 5.0, 7.5))
    assert moved.keys() == in_order.keys()
    for size, table in in_order.items():
        assert moved[size].keys() == table.keys()
        for name, column in table.items():
            np.testing.assert_array_equal(moved[size][name], column, err_msg=f"{size} {name}")


def test_groups_analysed_side_by_side_give_the_same_summary(monkeypatch):
    from analysis import summary

    frame = prepare(pd.DataFrame([{n: getattr(r, n) for n in FIELD_NAMES} for r in mixed_records()]))
    monkeypatch.setattr(summary, "ANALYSIS_THREADS", 1)
    alone = json.dumps(analyse(frame), default=str, sort_keys=True)
    monkeypatch.setattr(summary, "ANALYSIS_THREADS", 2)
    assert json.dumps(analyse(frame), default=str, sort_keys=True) == alone


def test_groups_come_sorted_by_value_whatever_the_category_order():
    frame = prepare(pd.DataFrame([{n: getattr(r, n) for n in FIELD_NAMES} for r in mixed_records(30)]))
    frame["target"] = pd.Categorical(frame["target"].astype(str), categories=["server", "faas-b", "faas"])
    assert [keys["target"] for keys, _ in split_groups(frame)] == ["faas", "faas-b", "server"]


@pytest.mark.parametrize("seed", range(3))
def test_in_flight_and_idle_gap_equal_plain_searches(seed):
    rng = np.random.default_rng(seed)
    for _ in range(50):
        n = int(rng.integers(1, 60))
        sent = np.round(rng.random(n) * 5, 1)  # rounded: ties
        done = sent + np.round(rng.random(n), 1)
        sent[rng.random(n) < 0.1], done[rng.random(n) < 0.1] = np.nan, np.nan
        group = pd.DataFrame({"actual_send_unix_s": sent, "t_s": sent, "completion_unix_s": done})
        ends = np.sort(np.where(np.isnan(done), np.inf, done))
        expected = np.searchsorted(np.sort(sent), sent, "left") - np.searchsorted(ends, sent, "right")
        np.testing.assert_array_equal(in_flight_at_send(group), np.maximum(expected, 0))
        recorded = np.sort(done[~np.isnan(done)])
        index = np.searchsorted(recorded, sent, "left") - 1
        previous = np.where(index >= 0, recorded[np.maximum(index, 0)] if recorded.size else np.nan, np.nan)
        np.testing.assert_array_equal(idle_gap_s(group), sent - previous)


def test_sla_checks_from_sorted_latencies_equal_the_plain_ones():
    from analysis.sla import PERCENTILE_BOUNDS, SlaSpec, check_bound

    frame = prepare(pd.DataFrame([{n: getattr(r, n) for n in FIELD_NAMES} for r in mixed_records()]))
    _, group = next(split_groups(frame))
    spec = SlaSpec({})
    _, sorted_ms = sorted_latencies(group)["latency"]
    for key in (*PERCENTILE_BOUNDS, "max_ms"):
        for bound in (30.0, 80.0, 200.0):
            assert check_bound(group, key, bound, spec, sorted_ms) == check_bound(group, key, bound, spec)


@pytest.mark.parametrize("windows", [1, 7, 300, 5000])  # few large segments (sorted one by one) to many tiny ones
@pytest.mark.parametrize("in_time_order", [True, False])
def test_window_percentiles_are_numpys_whichever_way_they_are_sorted(windows, in_time_order):
    rng = np.random.default_rng(windows)
    n = 20_000
    codes = np.sort(rng.integers(0, windows, n)) if in_time_order else rng.integers(0, windows, n)
    values = np.round(rng.lognormal(3.0, 1.0, n), 1)  # ties
    out = grouped_percentiles(codes, values, windows)
    present = np.flatnonzero(np.bincount(codes, minlength=windows))
    for code in present[:: max(1, present.size // 50)]:
        mine = values[codes == code]
        expected = [np.percentile(mine, p) for p in PERCENTILES]
        np.testing.assert_array_equal([out[percentile_key(p)][code] for p in PERCENTILES], expected)
        assert out["max"][code] == mine.max() and out["count"][code] == mine.size


@pytest.mark.parametrize("runs", [["c", "a", "b"], ["a", "b", "a"], ["b", "a", "c", "b"]])
def test_groups_are_slices_when_their_rows_come_together_and_equal_groupby_anyway(runs):
    rng = np.random.default_rng(len(runs))
    parts = [pd.DataFrame({"target": t, "latency_ms": rng.random(50), "t_s": np.arange(50.0)}) for t in runs]
    frame = pd.concat(parts, ignore_index=True).assign(run_id="r", scenario="s", operation="o")
    ours = list(split_groups(frame))
    theirs = list(frame.groupby(["run_id", "target", "scenario", "operation"], sort=True))
    assert [keys["target"] for keys, _ in ours] == sorted(set(runs))
    together = len(set(runs)) == len(runs)
    source = frame["latency_ms"].to_numpy()
    for (_, mine), (_, expected) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine["latency_ms"].to_numpy(), expected["latency_ms"].to_numpy())
        np.testing.assert_array_equal(mine["t_s"].to_numpy(), expected["t_s"].to_numpy())
        assert np.shares_memory(mine["latency_ms"].to_numpy(), source) == together


def test_window_tables_of_every_length_at_once_equal_plain_pandas_per_window():
    rng = np.random.default_rng(3)
    n = 5_000
    t_s = 1_800_000_000.0 + np.sort(rng.uniform(0, 200, n))
    latency = np.round(rng.lognormal(3.0, 0.5, n), 2)
    ok = rng.random(n) > 0.02
    cold = rng.random(n) < 0.05
    frame = pd.DataFrame({"intended_send_unix_s": t_s, "actual_send_unix_s": t_s + 0.001, "ok": ok,
                          "completion_unix_s": t_s + latency / 1000, "latency_ms": latency,
                          "service_latency_ms": latency - 1.0, "cold_start": cold})  # fmt: skip
    frame.loc[::101, "completion_unix_s"] = np.nan
    group = prepare(frame)
    tables = window_frames(group, (1.0, 10.0, 60.0))
    columns = window_columns(group, (1.0, 10.0, 60.0))
    for window_s, table in tables.items():
        pd.testing.assert_frame_equal(table, window_frame(group, window_s))
        pd.testing.assert_frame_equal(pd.DataFrame(columns[window_s]), table)  # the summary's plain columns
        assert window_records(columns[window_s]) == window_records(table)
        window = np.floor((t_s - t_s[0]) / window_s).astype(int)
        by_window = pd.DataFrame({"w": window, "ok": ok, "cold": cold, "latency": latency}).groupby("w")
        np.testing.assert_array_equal(table["requests"].to_numpy(), by_window.size().to_numpy())
        np.testing.assert_array_equal(table["cold_starts"].to_numpy(), by_window["cold"].sum().to_numpy())
        p99 = pd.Series(latency[ok]).groupby(window[ok]).quantile(0.99)
        np.testing.assert_allclose(table["latency_p99"].to_numpy(), p99.to_numpy(), rtol=1e-12)
        done = frame["completion_unix_s"].to_numpy()
        done_window = np.floor((done - t_s[0]) / window_s)
        achieved = np.bincount(done_window[ok & ~np.isnan(done)].astype(int), minlength=len(table))[: len(table)]
        np.testing.assert_allclose(
            table["achieved_rps"].to_numpy() * table["duration_s"].to_numpy(), achieved, rtol=1e-12
        )


def test_grouped_percentiles_without_the_mean_give_the_same_figures():
    rng = np.random.default_rng(11)
    codes, values = np.sort(rng.integers(0, 40, 3_000)), rng.lognormal(3.0, 1.0, 3_000)
    full, lean = grouped_percentiles(codes, values, 41), grouped_percentiles(codes, values, 41, with_mean=False)
    assert "mean" in full and "mean" not in lean
    for key, column in lean.items():
        np.testing.assert_array_equal(column, full[key])


def test_a_raw_frame_is_analysed_from_views_of_the_columns_it_reads():
    from analysis import summary

    raw = pd.DataFrame([{n: getattr(r, n) for n in FIELD_NAMES} for r in mixed_records()])
    assert {"status_code", "object_key", "worker"} <= set(raw.columns) - summary.READ_COLUMNS  # never read
    read = summary._read_columns(raw)
    assert list(read.columns) == [name for name in raw.columns if name in summary.READ_COLUMNS]
    for name in ("latency_ms", "completion_unix_s", "intended_send_unix_s"):  # views, not copies
        assert np.shares_memory(read[name].to_numpy(), raw[name].to_numpy())
    whole = json.dumps(analyse(prepare(raw), prepared=True), default=str, sort_keys=True)
    assert json.dumps(analyse(raw), default=str, sort_keys=True) == whole


def test_a_latency_curve_is_every_value_or_exact_quantiles():
    values = np.sort(np.random.default_rng(5).lognormal(3.0, 0.5, 5_000))
    thinned = latency_curve(values, points=300)
    np.testing.assert_array_equal(thinned, np.quantile(values, np.linspace(0, 1, 300)))
    assert thinned[0] == values[0] and thinned[-1] == values[-1]
    np.testing.assert_array_equal(latency_curve(values[:300], points=300), values[:300])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(math.nan), st.just(math.inf), st.just(-math.inf)), max_size=30))
def test_nan_as_zero_is_nan_to_num(values):
    array = np.array(values, dtype=float)
    np.testing.assert_array_equal(_nan_as_zero(array.copy()), np.nan_to_num(array, nan=0.0))
