"""The typed plan: validation with file, line and key; safety caps; --quick; plan.json round trip; dry runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from experiments.__main__ import main
from experiments.planfile import EXPERIMENTS_DIR, QUICK_TOTAL_S, load_plan, read_plan_json, write_plan_json
from labkit.errors import ConfigError

SHIPPED = sorted(EXPERIMENTS_DIR.glob("*.yaml"))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_errors_name_file_line_key_and_value(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """name: bad
workloads:
  - name: a
    kind: http
    shape: {kind: ramp, peak_rps: -5, duration_s: 10}
  - name: b
    kind: s3-replay
    speeed: 3
""",
    )
    with pytest.raises(ConfigError) as caught:
        load_plan(path)
    message = str(caught.value)
    assert f"{path}:5: workloads[0].shape.peak_rps: Input should be greater than 0 (got -5)" in message
    assert f"{path}:8: workloads[1].speeed: Extra inputs are not permitted" in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("shape: {kind: constant, peak_rps: 5000, duration_s: 10}", "above safety.max_rate_rps 1000"),
        ("shape: {kind: constant, peak_rps: 10, duration_s: 7200}", "above safety.max_duration_s 3600"),
        ("processes: 500", "above safety.max_processes"),
        ("target: ftp://example.com", "is not function, server or an http(s):// URL"),
    ],
)
def test_safety_rules_refuse_before_anything_starts(tmp_path: Path, body: str, expected: str) -> None:
    path = _write(tmp_path, f"name: p\nworkloads:\n  - name: a\n    kind: http\n    {body}\n")
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_plan(path)


def test_duplicate_workload_names_and_missing_workloads(tmp_path: Path) -> None:
    dup = _write(tmp_path, "name: p\nworkloads:\n  - {name: a, kind: http}\n  - {name: a, kind: http}\n")
    with pytest.raises(ConfigError, match="unique; repeated: a"):
        load_plan(dup)
    with pytest.raises(ConfigError, match="workloads: Field required"):
        load_plan(_write(tmp_path, "name: p\n"))


def test_quick_compresses_time_and_keeps_shapes_and_rates() -> None:
    full = load_plan(EXPERIMENTS_DIR / "fifa98-mixed.yaml")
    quick = load_plan(EXPERIMENTS_DIR / "fifa98-mixed.yaml", quick=True)
    assert quick.quick and quick.span_s() <= QUICK_TOTAL_S + 1e-6 < full.span_s()
    for a, b in zip(full.http_workloads(), quick.http_workloads(), strict=True):
        assert (a.shape.kind, a.shape.peak_rps) == (b.shape.kind, b.shape.peak_rps)
    replay_full, replay_quick = full.workload("fifa98"), quick.workload("fifa98")
    assert replay_quick.speedup == pytest.approx(replay_full.speedup * full.span_s() / QUICK_TOTAL_S)


def test_quick_keeps_each_sweep_axis_ends_and_the_order_of_workloads() -> None:
    full = load_plan(EXPERIMENTS_DIR / "study-memory-sweep.yaml")
    quick = load_plan(EXPERIMENTS_DIR / "study-memory-sweep.yaml", quick=True)
    for a, b in zip(full.sweeps(), quick.sweeps(), strict=True):
        assert b.parameter == a.parameter and b.values == [a.values[0], a.values[-1]]
    assert quick.sub_run_count() == 4 < full.sub_run_count()
    cold, ramp = quick.workload("cold"), quick.workload("ramp")
    assert full.workload("ramp").start_s >= full.workload("cold").end_s()
    assert ramp.start_s >= cold.end_s()  # the cold probes' 1 s floor does not let the ramp overlap them


def test_plan_json_round_trip(tmp_path: Path) -> None:
    plan = load_plan(EXPERIMENTS_DIR / "fifa98-mixed.yaml", quick=True)
    write_plan_json(tmp_path, plan)
    assert read_plan_json(tmp_path) == plan


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_plan_dry_runs(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    plan = load_plan(path)
    for workload in plan.workloads:
        assert workload.name in out
    assert "requests" in out and "start s" in out


def test_aws_needs_yes_and_bad_plan_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "demo", "--target", "aws", "--dry-run"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "no such plan file" in capsys.readouterr().err
