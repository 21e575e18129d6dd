import numpy as np
import pytest
from analysis_helpers import rec, write_run

from analysis.frame import load_frame
from analysis.summary import summarize


def test_summary_per_target_with_cold_starts_and_errors(tmp_path):
    records = [rec(i, "faas", 100.0 + i, cold_start=i < 2, instance_id=f"e{i % 2}") for i in range(10)]
    records += [rec(i, "server", 50.0) for i in range(5)]
    records.append(rec(20, "server", 5.0, ok=False, status_code=503, error_kind="http_5xx"))
    frame = load_frame(write_run(tmp_path, records).record_files())
    groups = {g["target"]: g for g in summarize(frame)}
    faas, server = groups["faas"], groups["server"]
    cold = faas["cold_starts"]
    assert faas["count"] == 10 and (cold["known"], cold["cold"], cold["rate"]) == (10, 2, 0.2)
    assert cold["source"] == "function flag" and cold["cold_latency_ms"]["count"] == 2
    assert faas["latency_ms"]["p50"] == pytest.approx(np.percentile([100.0 + i for i in range(10)], 50))
    assert faas["instances"] == 2
    assert server["errors"] == {"http_5xx": 1} and server["error_rate"] == pytest.approx(1 / 6)
    assert server["latency_ms"]["count"] == 5  # failed requests are not in the latency figures
    assert server["cold_starts"]["source"] == "inferred from latency (> 3 x median)"


def test_windows_count_offered_and_achieved_rates(tmp_path):
    records = [rec(i, "server", 20.0, gap_s=0.5) for i in range(40)]  # 2 req/s for 20 s
    frame = load_frame(write_run(tmp_path, records).record_files())
    group = summarize(frame)[0]
    windows = group["windows"]["10"]
    assert [w["requests"] for w in windows] == [20, 20]
    assert [w["offered_rps"] for w in windows] == pytest.approx([2.0, 2.0])
    assert group["throughput"]["offered_rps"] == pytest.approx(2.0)
    assert group["throughput"]["achieved_rps"] == pytest.approx(2.0)


def test_models_and_window_rows_are_plain_python_whatever_the_text_encoding():
    import pandas as pd

    from analysis.summary import _models
    from analysis.windows import window_records

    names = ["resnet50", "mobilenetv2", "resnet50", "", "resnet50"]
    weights = ["random", "imagenet", "random", "", ""]
    as_text = pd.DataFrame({"model_name": pd.array(names, dtype="string"), "weights": pd.array(weights, "string")})
    as_codes = as_text.astype("category")
    expected = ["mobilenetv2 (imagenet weights)", "resnet50 (random weights)", "resnet50 (unknown weights)"]
    assert _models(as_text) == expected
    assert _models(as_codes) == expected

    rows = window_records(pd.DataFrame({"window": np.arange(3), "p99": [1.5, np.nan, 2.0]}))
    assert rows == [{"window": 0, "p99": 1.5}, {"window": 1, "p99": None}, {"window": 2, "p99": 2.0}]
    assert all(type(row["window"]) is int for row in rows)


def test_memory_sizes_are_the_distinct_recorded_sizes_sorted():
    import pandas as pd

    from analysis.summary import _memory_sizes

    assert _memory_sizes(pd.Series([1024.0] * 5 + [np.nan])) == [1024]  # one size (the usual): one comparison
    assert _memory_sizes(pd.Series([2048.0, np.nan, 512.0, 2048.0, 1024.0])) == [512, 1024, 2048]
    assert _memory_sizes(pd.Series([np.nan, np.nan])) == []
    assert _memory_sizes(pd.Series([], dtype=float)) == []
