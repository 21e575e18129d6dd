"""A plan's workloads on one wall-clock axis: seconds since the plan's common start (plan.json + the manifest's
sub-runs), each workload's planned start and end, and the replay also in trace time (the GMT of the trace
minute being replayed). Pure functions from a run dir's files and the record frame to plain dicts, and one
figure drawn from them.

    timeline = plan_timeline(run_path, frame)   # None for a run that was not made from a plan
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPLAY_OPERATIONS = ("s3-put", "s3-infer")
# the record columns the timeline reads
TIMELINE_COLUMNS = ("scenario", "operation", "intended_send_unix_s", "completion_unix_s", "ok", "latency_ms")
MAX_BINS = 120


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _trace_clock(run_path: Path, tag: str, start_unix_s: float) -> dict[str, Any] | None:
    """How wall-clock maps to trace time for a replay workload: trace_unix_s = origin + (t - start) * speedup."""
    status = _read_json(run_path / "workloads" / f"{tag}.json") or {}
    schedule = (status.get("config") or {}).get("schedule") or {}
    window_start, speedup = schedule.get("window_start_utc"), schedule.get("speedup")
    if not window_start or not speedup:
        return None
    origin = datetime.fromisoformat(str(window_start).replace("Z", "+00:00")).timestamp()
    return {"workload_start_unix_s": start_unix_s, "trace_origin_unix_s": origin, "speedup": float(speedup),
            "window_start_utc": window_start, "window_end_utc": schedule.get("window_end_utc")}  # fmt: skip


def workload_spans(run_path: Path, manifest: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    """(t0 unix s, one span per workload and sub-run) from the manifest's sub_runs."""
    sub_runs = manifest.get("sub_runs") or []
    starts = [w["start_unix_s"] for s in sub_runs for w in (s.get("workloads") or {}).values()]
    if not starts:
        return 0.0, []
    t0 = min(float(s.get("start_unix_s") or min(starts)) for s in sub_runs)
    spans = []
    for sub in sub_runs:
        for tag, facts in sorted((sub.get("workloads") or {}).items()):
            start = float(facts["start_unix_s"])
            span = {"tag": tag, "workload": facts.get("workload", tag), "kind": facts.get("kind", ""),
                    "sub_run": sub.get("index", 0), "sweep": sub.get("sweep") or {}, "start_s": start - t0,
                    "planned_end_s": float(facts.get("planned_end_unix_s", start)) - t0}  # fmt: skip
            if facts.get("size") is not None:  # a burst's size
                span["size"] = int(facts["size"])
            if span["kind"] == "s3-replay":
                span["trace_clock"] = _trace_clock(run_path, tag, start)
            spans.append(span)
    return t0, spans


def _members(frame: pd.DataFrame, span: dict[str, Any]) -> pd.DataFrame:
    mine = frame[frame["scenario"] == span["tag"]]
    if span["kind"] == "s3-replay" and mine.empty:  # records of runs made before replays were named by workload
        return frame[frame["operation"].isin(REPLAY_OPERATIONS) & frame["scenario"].str.startswith("replay-")]
    return mine


def _bins(t: np.ndarray, width_s: float, span_s: float) -> np.ndarray:
    return np.floor(np.clip(t, 0.0, span_s) / width_s).astype(int)


def series(members: pd.DataFrame, t0: float, width_s: float, span_s: float) -> list[dict[str, Any]]:
    """Per bin of wall-clock time: offered req/s (intended sends), achieved ok/s, p50 and p99 latency (ms)."""
    if members.empty:
        return []
    count = int(np.ceil(span_s / width_s)) or 1
    t = members["intended_send_unix_s"].to_numpy(dtype=float) - t0
    ok = members["ok"].to_numpy(dtype=bool)
    latency = members["latency_ms"].to_numpy(dtype=float)
    index = _bins(t, width_s, span_s)
    rows = []
    for b in range(count):
        mine = index == b
        good = latency[mine & ok & np.isfinite(latency)]
        rows.append({"start_s": b * width_s, "offered_rps": float(mine.sum()) / width_s,
                     "achieved_rps": float((mine & ok).sum()) / width_s,
                     "p50_ms": float(np.percentile(good, 50)) if good.size else None,
                     "p99_ms": float(np.percentile(good, 99)) if good.size else None})  # fmt: skip
    return rows


def _plan_run(run_path: Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(plan.json, manifest.json) of a run made from a plan whose sub-runs the manifest records; else None."""
    manifest = _read_json(run_path / "manifest.json") or {}
    plan = _read_json(run_path / "plan.json")
    return (plan, manifest) if plan is not None and manifest.get("sub_runs") else None


def has_plan_timeline(run_path: Path) -> bool:
    """Whether the run has a plan timeline to draw (else `plan_timeline` gives None)."""
    return _plan_run(run_path) is not None


def plan_timeline(run_path: Path, frame: pd.DataFrame) -> dict[str, Any] | None:
    """The plan's timeline (spans, per-operation series on one axis), or None for a run without a plan."""
    found = _plan_run(run_path)
    if found is None:
        return None
    plan, manifest = found
    t0, spans = workload_spans(run_path, manifest)
    if not spans:
        return None
    last = max([s["planned_end_s"] for s in spans] + [float(frame["intended_send_unix_s"].max() - t0)])
    width_s = max(1.0, float(np.ceil(last / MAX_BINS)))
    for span in spans:
        members = _members(frame, span)
        span["records"] = len(members)
        span["first_send_s"] = float(members["intended_send_unix_s"].min() - t0) if len(members) else None
        span["last_completion_s"] = float(members["completion_unix_s"].max() - t0) if len(members) else None
        span["series"] = {str(op): series(g, t0, width_s, last) for op, g in members.groupby("operation")}
    return {"plan": plan.get("name"), "published": plan.get("published") or [], "t0_unix_s": t0, "bin_s": width_s,
            "span_s": last, "workloads": spans, "overlap": overlap(spans),
            "calibration": _read_json(run_path / "calibration.json")}  # fmt: skip


def plan_rates(run_path: Path) -> dict[tuple[str, str], float]:
    """(run_id, scenario) -> req/s of the plan's constant-rate http workloads (ramps and traces have no single
    rate: their offered rate per window is the reference)."""
    manifest = _read_json(run_path / "manifest.json") or {}
    plan = _read_json(run_path / "plan.json") or {}
    run_id, out = str(manifest.get("run_id", run_path.name)), {}
    tags = {t: w for s in manifest.get("sub_runs") or [] for t, w in (s.get("workloads") or {}).items()}
    for workload in plan.get("workloads") or []:
        shape = workload.get("shape") or {}
        if workload.get("kind") != "http" or shape.get("kind") != "constant":
            continue
        for tag, facts in tags.items():
            if facts.get("workload") == workload.get("name"):
                out[(run_id, tag)] = float(shape["peak_rps"])
    return out


def overlap(spans: list[dict[str, Any]]) -> dict[str, Any]:
    """Seconds during which every workload of the first sub-run was sending, vs the shortest one's span."""
    first = [s for s in spans if s["sub_run"] == 0]
    if len(first) < 2:
        return {}
    lo = max(s["start_s"] for s in first)
    hi = min(s["planned_end_s"] for s in first)
    shortest = min(s["planned_end_s"] - s["start_s"] for s in first)
    together = max(0.0, hi - lo)
    return {"together_s": together, "shortest_s": shortest, "share": together / shortest if shortest > 0 else None}


def trace_time(clock: dict[str, Any], t_s: float, t0_unix_s: float) -> str:
    """The GMT trace minute a replay was replaying at wall-clock second `t_s` of the plan."""
    unix = clock["trace_origin_unix_s"] + (t0_unix_s + t_s - clock["workload_start_unix_s"]) * clock["speedup"]
    return datetime.fromtimestamp(unix, UTC).strftime("%H:%M")
