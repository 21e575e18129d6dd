"""The peers bench_analysis measures ours against, in the same run: pandas (subset and full) and polars (full).

Each takes the records (a frame in memory, or a run dir whose records/*.csv it reads itself) and returns the
10 s windows' p99 of latency_ms per target ({target: [p99 per window, in window order]}), which the bench
compares with ours. What each computes: see bench_analysis's module doc.
"""

from __future__ import annotations

from pathlib import Path

QUANTILES = (0.5, 0.9, 0.95, 0.99, 0.999)
WINDOWS_S = (10.0, 60.0)
LATENCY = ["latency_ms", "service_latency_ms"]
FULL_COLUMNS = ["target", "intended_send_unix_s", *LATENCY, "send_lag_ms", "ok", "error_kind", "cold_start"]


def _peer(frame) -> dict:
    """pandas: per-window percentiles of successful requests per target, windows from the target's first send."""
    import numpy as np

    t_s = frame["intended_send_unix_s"].to_numpy(dtype=float)
    origin = frame.groupby("target", observed=True)["intended_send_unix_s"].transform("min").to_numpy(dtype=float)
    ok = frame["ok"].fillna(False).to_numpy(dtype=bool)
    data = frame.loc[ok, ["target", "latency_ms"]]  # target stays as it is (categorical: no text per row)
    out = {}
    for window_s in WINDOWS_S:
        data["window"] = np.floor((t_s[ok] - origin[ok]) / window_s).astype(np.int64)
        table = data.groupby(["target", "window"], observed=True)["latency_ms"].quantile(list(QUANTILES))
        if window_s == 10.0:
            p99 = table.xs(0.99, level=2)
            out = {str(t): p99.xs(t, level=0).tolist() for t in p99.index.get_level_values(0).unique()}
    return out


def _full_overall(data, ok) -> dict:
    """Per target: counts, errors by kind, stats of both latency columns (ok rows), send lag quantiles."""
    import pandas as pd

    by_target = data.groupby("target", observed=True, sort=False)
    counts = by_target.agg(
        count=("ok", "size"), ok=("ok", "sum"), cold_starts=("cold", "sum"), cold_known=("cold_known", "sum")
    )
    counts["cold_start_rate"] = counts["cold_starts"] / counts["cold_known"].where(counts["cold_known"] > 0)
    kinds = data.loc[~ok, "error_kind"].astype("string").replace("", pd.NA).fillna("unknown")
    good = data.loc[ok, ["target", *LATENCY]].groupby("target", observed=True, sort=False)
    return {
        "counts": counts,
        "errors": kinds.groupby(data.loc[~ok, "target"], observed=True, sort=False).value_counts(),
        "latency": good.agg(["mean", "min", "max"]),
        "latency_quantiles": good.quantile(list(QUANTILES)),
        "send_lag_quantiles": by_target["send_lag_ms"].quantile(list(QUANTILES)),
    }


def _full_windows(data, ok, window_s: float) -> dict:
    """Per target and window: requests, errors, cold starts, cold known; quantiles and max of ok rows' latency."""
    import numpy as np

    data["window"] = ((data["intended_send_unix_s"] - data["origin"]) // window_s).astype(np.int64)
    keys = ["target", "window"]
    counts = data.groupby(keys, observed=True, sort=False).agg(
        requests=("ok", "size"), errors=("failed", "sum"), cold_starts=("cold", "sum"), cold_known=("cold_known", "sum")
    )
    good = data.loc[ok, [*keys, *LATENCY]].groupby(keys, observed=True, sort=False)
    return {"counts": counts, "quantiles": good.quantile(list(QUANTILES)), "max": good.max()}


def _peer_full(frame) -> dict:
    """pandas, like-for-like: the core figures of ours (see module doc); the 10 s windows' p99 per target."""
    ok = frame["ok"].fillna(False).to_numpy(dtype=bool)
    cold = frame["cold_start"]
    data = frame[["target", "intended_send_unix_s", *LATENCY, "send_lag_ms", "error_kind"]].assign(
        ok=ok, failed=~ok, cold=cold.fillna(False).to_numpy(dtype=bool), cold_known=cold.notna().to_numpy()
    )
    data["origin"] = data.groupby("target", observed=True, sort=False)["intended_send_unix_s"].transform("min")
    figures = {"overall": _full_overall(data, ok)} | {f"{w:g}": _full_windows(data, ok, w) for w in WINDOWS_S}
    p99 = figures["10"]["quantiles"].xs(0.99, level=2)["latency_ms"].sort_index()
    return {str(t): p99.xs(t, level=0).tolist() for t in p99.index.get_level_values(0).unique()}


def _read_csv(run_dir: Path, usecols: list[str], dtype: dict[str, str]):
    """The run's CSV files by pandas.read_csv (C engine: faster here than engine="pyarrow", see module doc)."""
    import pandas as pd

    paths = sorted((run_dir / "records").glob("*.csv"))
    return pd.concat([pd.read_csv(p, usecols=usecols, dtype=dtype) for p in paths], ignore_index=True)


def _peer_disk(run_dir: Path) -> dict:
    frame = _read_csv(run_dir, ["target", "intended_send_unix_s", "latency_ms", "ok"], {"target": "category"})
    return _peer(frame)


def _peer_full_disk(run_dir: Path) -> dict:
    dtype = {"target": "category", "error_kind": "category", "ok": "boolean", "cold_start": "boolean"}
    return _peer_full(_read_csv(run_dir, FULL_COLUMNS, dtype))


def _polars_quantiles(column: str) -> list:
    import polars as pl

    return [pl.col(column).quantile(q, interpolation="linear").alias(f"{column}_q{q:g}") for q in QUANTILES]


def _polars_overall(data, ok) -> dict:
    """Per target: counts, errors by kind, stats of both latency columns (ok rows), send lag quantiles."""
    import polars as pl

    failed = data.filter(~ok).with_columns(
        pl.col("error_kind").cast(pl.String).replace("", None).fill_null("unknown").alias("kind")
    )
    good = (
        data.filter(ok)
        .group_by("target")
        .agg(
            *(getattr(pl.col(c), f)().alias(f"{c}_{f}") for c in LATENCY for f in ("mean", "min", "max")),
            *(e for c in LATENCY for e in _polars_quantiles(c)),
        )
    )
    counts = data.group_by("target").agg(
        count=pl.len(), ok=pl.col("ok").sum(), cold_starts=pl.col("cold").sum(), cold_known=pl.col("cold_known").sum()
    )
    return {
        "counts": counts.with_columns(cold_start_rate=pl.col("cold_starts") / pl.col("cold_known")),
        "errors": failed.group_by("target", "kind").len(),
        "latency": good,
        "send_lag_quantiles": data.group_by("target").agg(*_polars_quantiles("send_lag_ms")),
    }


def _polars_windows(data, ok, window_s: float) -> dict:
    """Per target and window: requests, errors, cold starts, cold known; quantiles and max of ok rows' latency."""
    import polars as pl

    data = data.with_columns(window=((pl.col("intended_send_unix_s") - pl.col("origin")) // window_s).cast(pl.Int64))
    counts = data.group_by("target", "window").agg(
        requests=pl.len(), errors=(~pl.col("ok")).sum(), cold_starts=pl.col("cold").sum(),
        cold_known=pl.col("cold_known").sum(),
    )  # fmt: skip
    good = (
        data.filter(ok)
        .group_by("target", "window")
        .agg(*(e for c in LATENCY for e in _polars_quantiles(c)), *(pl.col(c).max().alias(f"{c}_max") for c in LATENCY))
    )
    return {"counts": counts, "quantiles": good}


def _peer_polars(frame) -> dict:
    """polars, like-for-like with peer-full (the same figures; group_by over the whole frame, multi-threaded)."""
    import polars as pl

    data = frame.select(FULL_COLUMNS).with_columns(
        ok=pl.col("ok").fill_null(False),
        cold=pl.col("cold_start").fill_null(False),
        cold_known=pl.col("cold_start").is_not_null(),
        origin=pl.col("intended_send_unix_s").min().over("target"),
    )
    ok = pl.col("ok")
    figures = {"overall": _polars_overall(data, ok)} | {f"{w:g}": _polars_windows(data, ok, w) for w in WINDOWS_S}
    p99 = figures["10"]["quantiles"].sort("target", "window")
    return {
        str(t): p99.filter(pl.col("target") == t)["latency_ms_q0.99"].to_list()
        for t in p99["target"].unique().sort().to_list()
    }


def polars_frame(frame):
    """The columns peer-polars reads, as a polars frame (target and error_kind categorical, as read from disk)."""
    import polars as pl

    data = pl.from_pandas(frame[FULL_COLUMNS])
    return data.with_columns(pl.col("target", "error_kind").cast(pl.String).cast(pl.Categorical))


def _peer_polars_disk(run_dir: Path) -> dict:
    """peer-polars on the run's CSV files, read by polars' own (multi-threaded) reader: only the columns it needs."""
    import polars as pl

    schema = {"target": pl.Categorical, "error_kind": pl.Categorical, "ok": pl.Boolean, "cold_start": pl.Boolean}
    paths = sorted(str(p) for p in (run_dir / "records").glob("*.csv"))
    frame = pl.scan_csv(paths, schema_overrides=schema).select(FULL_COLUMNS)
    return _peer_polars(frame.collect())


PEER_WORK = {
    "peer-subset-memory": _peer,
    "peer-full-memory": _peer_full,
    "peer-polars-memory": _peer_polars,
    "peer-subset-disk": _peer_disk,
    "peer-full-disk": _peer_full_disk,
    "peer-polars-disk": _peer_polars_disk,
}
