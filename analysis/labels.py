"""Names of groups that say what defines them: target, model, weights, runtime, memory, scenario, operation.

A label names only the fields that differ between the groups shown (so a memory sweep reads "512 MB",
"1024 MB"), plus the model and its weights always ("mobilenetv2, random weights"): a reader must never
mistake a random-weights graph for a trained model. The run id is added only when two groups would
otherwise read the same (the same setup run twice); the scenario only when the other fields do not already
tell the groups apart; the operation only when it is not the default "predict".
"""

from __future__ import annotations

from typing import Any

from analysis.cost import target_kind

SEP = " · "


def identity(group: dict[str, Any]) -> dict[str, str]:
    """The fields that define a group, as text ("" when unknown)."""
    ident = group.get("identity") or {}
    # a function's memory setting defines it; a server's recorded memory is its machine's, named by the target
    memory = [] if target_kind(str(group.get("target", ""))) == "server" else group.get("memory_mb") or []
    return {
        "target": str(group.get("target", "")),
        "model": ident.get("model_name", ""),
        "weights": ident.get("weights", ""),
        "runtime": ident.get("runtime", ""),
        "memory": f"{memory[0]} MB" if len(memory) == 1 else "/".join(f"{m}" for m in memory) + " MB" * bool(memory),
        "scenario": str(group.get("scenario", "")),
        "operation": str(group.get("operation", "")),
    }


def _model(ident: dict[str, str]) -> str:
    if not ident["model"]:
        return "no model" if ident["operation"] == "s3-put" else "model not recorded"
    return f"{ident['model']}, {ident['weights'] or 'unknown'} weights"


def _differing(idents: list[dict[str, str]]) -> set[str]:
    return {key for key in idents[0] if len({ident[key] for ident in idents}) > 1}


def _one(ident: dict[str, str], differ: set[str]) -> str:
    parts = [ident["target"]] if "target" in differ or len(differ - {"model", "weights"}) == 0 else []
    if "operation" in differ and ident["operation"] != "predict":  # predict is the default: named only otherwise
        parts.append(ident["operation"])
    parts.append(_model(ident))
    if "runtime" in differ and ident["runtime"]:
        parts.append(f"runtime {ident['runtime']}")
    if "memory" in differ and ident["memory"]:
        parts.append(ident["memory"])
    if "scenario" in differ:
        parts.append(f"scenario {ident['scenario']}")
    return SEP.join(parts)


def group_labels(groups: list[dict[str, Any]]) -> list[str]:
    """One label per group (same order), naming what tells the groups apart (see module doc)."""
    if not groups:
        return []
    idents = [identity(g) for g in groups]
    differ = _differing(idents)
    labels = [_one(ident, differ) for ident in idents]
    shorter = [_one(ident, differ - {"scenario"}) for ident in idents]
    if len(set(shorter)) == len(shorter):  # the scenario adds nothing the other fields do not already say
        labels = shorter
    if len(set(labels)) < len(labels):
        labels = [f"{label} ({g['run_id']})" for label, g in zip(labels, groups, strict=True)]
    return labels


def defining_fields(groups: list[dict[str, Any]]) -> list[str]:
    """Which fields differ between the groups (what a comparison varies), in label order."""
    if len(groups) < 2:
        return []
    idents = [identity(g) for g in groups]
    differ = _differing(idents)
    if len({_one(ident, differ - {"scenario"}) for ident in idents}) == len(idents):
        differ.discard("scenario")  # as in the labels: the other fields already tell the groups apart
    keys = ("target", "model", "weights", "runtime", "memory", "scenario", "operation")
    return [key for key in keys if key in differ]
