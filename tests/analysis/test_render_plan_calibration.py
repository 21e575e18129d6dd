"""The plan report's latency floor: shown when the run dir has a calibration.json (`--calibrate`), else absent."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis.doc import Doc, to_markdown
from analysis.render_plan import calibration_rows, plan_section
from analysis.timeline import plan_timeline

CALIBRATION = {
    "rate_rps": 50.0, "duration_s": 5.0, "processes": 1, "scheduled": 250, "count": 250, "errors": 0,
    "from_intended": {"p50_ms": 1.5, "p90_ms": 2.0, "p99_ms": 2.5},
    "from_actual": {"p50_ms": 0.8, "p90_ms": 0.9, "p99_ms": None}, "server_p50_ms": 0.12,
}  # fmt: skip
TIMELINE = {"plan": "demo", "workloads": [], "overlap": {}}


def _markdown(timeline: dict) -> str:
    doc = Doc()
    plan_section(doc, timeline, {}, [])
    return to_markdown(doc)


def test_the_floor_table_has_one_row_per_origin() -> None:
    assert calibration_rows(CALIBRATION) == [
        ["intended send", "1.50", "2.00", "2.50"],
        ["actual send", "0.80", "0.90", "-"],
    ]


def test_the_plan_section_shows_the_floor_only_with_a_calibration() -> None:
    shown = _markdown({**TIMELINE, "calibration": CALIBRATION})
    assert "Latency floor (this tool on this machine)" in shown and "50 req/s" in shown and "250 of 250" in shown
    assert "Latency floor" not in _markdown(TIMELINE)
    assert "Latency floor" not in _markdown({**TIMELINE, "calibration": None})


def test_the_timeline_reads_calibration_json(tmp_path: Path) -> None:
    start = 1_000.0
    (tmp_path / "plan.json").write_text(json.dumps({"name": "demo"}))
    sub_run = {"index": 0, "sweep": {}, "start_unix_s": start,
               "workloads": {"load": {"workload": "load", "kind": "http", "start_unix_s": start,
                                      "planned_end_unix_s": start + 10}}}  # fmt: skip
    (tmp_path / "manifest.json").write_text(json.dumps({"sub_runs": [sub_run]}))
    frame = pd.DataFrame({"scenario": ["load"], "operation": ["predict"], "intended_send_unix_s": [start + 1],
                          "completion_unix_s": [start + 1.1], "ok": [True], "latency_ms": [100.0]})  # fmt: skip
    assert plan_timeline(tmp_path, frame)["calibration"] is None
    (tmp_path / "calibration.json").write_text(json.dumps(CALIBRATION))
    assert plan_timeline(tmp_path, frame)["calibration"] == CALIBRATION
