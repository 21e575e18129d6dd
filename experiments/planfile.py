"""Reading a plan: YAML file -> validated `Plan` (errors name file, line, key and what was expected), the
plan's derived facts (each workload's schedule length), `--quick` compression, and plan.json in a run dir.

    plan = load_plan(Path("experiments/fifa98-mixed.yaml"), target="local", quick=False)
    write_plan_json(run_dir, plan); read_plan_json(run_dir) == plan
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from experiments.plan import (
    BurstWorkload,
    ColdProbeWorkload,
    HttpWorkload,
    Plan,
    S3ReplayWorkload,
)
from labkit.config import SAFE_LOADER, invalid_yaml
from labkit.errors import ConfigError, InputError, LabError

PLAN_JSON = "plan.json"
WORKLOAD_TAGS = ("http", "s3-replay", "burst", "cold-probe")
QUICK_TOTAL_S = 30.0  # --quick: at most this many seconds of traffic over all sub-runs
QUICK_SWEEP_VALUES = 2  # --quick: each sweep axis keeps its first and last value
EXPERIMENTS_DIR = Path(__file__).resolve().parent


def _node_line(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at `loc` (the deepest one found along the path)."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if getattr(k, "value", None) == part]
            if not match:
                if part in WORKLOAD_TAGS:
                    continue  # the discriminated union's tag in the loc: stay on this node
                break
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in WORKLOAD_TAGS:
            continue  # the discriminated union's tag: not a key the user wrote
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def validation_message(exc: ValidationError, source: str, root: yaml.Node | None = None) -> str:
    """One line per problem: `file:line: key.path: what was wrong (got value)`."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        line = _node_line(root, loc) if root is not None else None
        where = f"{source}:{line}" if line else source
        got = err.get("input")
        shown = "" if err["type"] in ("missing", "value_error") or isinstance(got, dict | list) else f" (got {got!r})"
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {_format_loc(loc)}: {message}{shown}")
    return "\n".join(lines)


def parse_plan(data: Any, source: str, root: yaml.Node | None = None) -> Plan:
    """Validate a plain mapping into a Plan (ConfigError with every problem, by file, line and key)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a plan is a mapping with at least 'name' and 'workloads'")
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_message(exc, source, root)) from None


def _read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        known = ", ".join(sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml")))
        raise ConfigError(f"{path}: no such plan file (shipped plans in experiments/: {known})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the plan ({exc})") from None
    loader = SAFE_LOADER(text)  # parsed once: the node tree (for line numbers in errors), then the data from it
    try:
        root = loader.get_single_node()
        return (loader.construct_document(root) if root is not None else None), root
    except yaml.YAMLError as exc:
        raise invalid_yaml(path, exc) from None
    finally:
        loader.dispose()


def find_plan(name_or_path: str) -> Path:
    """A plan by path, or by name among the shipped ones (`fifa98-mixed` = experiments/fifa98-mixed.yaml)."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return EXPERIMENTS_DIR / f"{name_or_path}.yaml"


def load_plan(path: Path, *, target: str | None = None, quick: bool = False) -> Plan:
    """The plan file validated, with CLI choices applied (target, --quick) and derived facts filled in."""
    data, root = _read_yaml(path)
    plan = parse_plan(data, str(path), root)
    if target is not None:
        plan = revalidate(plan, {"target": target}, str(path))
    plan = resolve_windows(plan, str(path))
    return compress(plan, str(path)) if quick else plan


def revalidate(plan: Plan, update: dict[str, Any], source: str) -> Plan:
    """`plan` with `update` applied and every rule checked again."""
    return parse_plan({**plan.model_dump(mode="json"), **update}, source)


def resolve_windows(plan: Plan, source: str) -> Plan:
    """Fill in each s3-replay workload's schedule length (trace window / speedup), then re-check safety."""
    workloads = []
    for w in plan.workloads:
        if isinstance(w, S3ReplayWorkload):
            try:
                schedule = w.schedule()
            except LabError as exc:
                raise type(exc)(f"{source}: workload {w.name!r}: {exc}") from None
            workloads.append({**w.model_dump(mode="json"), "window_duration_s": float(schedule.duration_s)})
        else:
            workloads.append(w.model_dump(mode="json"))
    return revalidate(plan, {"workloads": workloads}, source)


def _compress_workload(w: Any, factor: float) -> dict[str, Any]:
    data = w.model_dump(mode="json")
    data["start_s"] = w.start_s * factor
    if isinstance(w, HttpWorkload):
        shape = data["shape"]
        shape["duration_s"] = w.shape.duration_s * factor
        for key in ("spike_at_s", "spike_s"):
            if shape.get(key) is not None:
                shape[key] = shape[key] * factor
    elif isinstance(w, S3ReplayWorkload):
        data["speedup"] = w.speedup / factor
        data["window_duration_s"] = None
    elif isinstance(w, BurstWorkload):
        data["repeats"] = min(w.repeats, 2)
        data["interval_s"] = w.interval_s * factor
    elif isinstance(w, ColdProbeWorkload):
        data["count"] = min(w.count, 3)
        data["interval_s"] = max(1.0, w.interval_s * factor)
    return data


def _ends_of_sweeps(plan: Plan) -> list[dict[str, Any]] | None:
    """Each sweep axis cut to its first and last value (the range's ends, where a trend shows)."""
    if plan.sweep is None:
        return None
    return [
        {**s.model_dump(mode="json"), "values": [s.values[0], s.values[-1]] if len(s.values) > 2 else s.values}
        for s in plan.sweeps()
    ]


def compress(plan: Plan, source: str) -> Plan:
    """--quick: each sweep axis cut to its first and last value, then every time in the plan scaled by one
    factor so all sub-runs together hold at most QUICK_TOTAL_S of traffic; shapes and rates are kept."""
    trimmed = revalidate(plan, {"sweep": _ends_of_sweeps(plan)}, source) if plan.sweep is not None else plan
    total_s = trimmed.span_s() * trimmed.sub_run_count()
    factor = min(1.0, QUICK_TOTAL_S / total_s) if total_s > 0 else 1.0
    workloads = [_compress_workload(w, factor) for w in trimmed.workloads]
    quick = resolve_windows(revalidate(trimmed, {"workloads": workloads, "quick": True}, source), source)
    return resolve_windows(revalidate(quick, {"workloads": _keep_order(trimmed, quick)}, source), source)


def _keep_order(full: Plan, quick: Plan) -> list[dict[str, Any]]:
    """A workload that began after another ended still does so once compressed (a floor such as the
    cold probes' 1 s interval can stretch the earlier one past the later one's scaled start)."""
    workloads = []
    for before, after in zip(full.workloads, quick.workloads, strict=True):
        ended = [q.end_s() for f, q in zip(full.workloads, quick.workloads, strict=True) if f.end_s() <= before.start_s]
        workloads.append({**after.model_dump(mode="json"), "start_s": max([after.start_s, *ended])})
    return workloads


def write_plan_json(run_path: Path, plan: Plan) -> Path:
    """plan.json in the run dir: the resolved plan, exactly as validated (read back by `read_plan_json`)."""
    path = run_path / PLAN_JSON
    tmp = path.with_suffix(".tmp")
    tmp.write_text(plan.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_plan_json(run_path: Path) -> Plan:
    """The plan a run was made from (InputError naming the file when it is missing or not a plan)."""
    path = run_path / PLAN_JSON if run_path.is_dir() else run_path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no plan.json in this run dir") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable plan ({exc})") from None
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise InputError(validation_message(exc, str(path))) from None
