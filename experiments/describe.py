"""The resolved plan in words and one table (what `--dry-run` prints; nothing is started)."""

from __future__ import annotations

from experiments.checks import http_arrivals
from experiments.plan import BurstWorkload, ColdProbeWorkload, HttpWorkload, Plan, S3ReplayWorkload


def _replay_row(w: S3ReplayWorkload) -> tuple[int, float]:
    schedule = w.schedule()
    return len(schedule), float(schedule.peak_rps)


def workload_row(plan: Plan, w: object) -> list[str]:
    """kind, target, requests, peak req/s, duration s, start s, what."""
    if isinstance(w, HttpWorkload):
        shape = w.shape
        return ["http", w.target, f"{http_arrivals(w):,}", f"{shape.peak_rps:g}", f"{shape.duration_s:g}",
                f"{w.start_s:g}", f"{shape.kind}, {w.processes} process(es)"]  # fmt: skip
    if isinstance(w, S3ReplayWorkload):
        count, peak = _replay_row(w)
        return ["s3-replay", "s3 -> function", f"{count:,}", f"{peak:.3g}", f"{w.window_duration_s or 0:.3g}",
                f"{w.start_s:g}", f"{w.trace} {w.window} x{w.speedup:g} ({w.process})"]  # fmt: skip
    if isinstance(w, BurstWorkload):
        return ["burst", w.function, f"{w.size * w.repeats:,}", f"{w.size} at once", f"{w.repeats * w.interval_s:g}",
                f"{w.start_s:g}", f"{w.repeats} x {w.size}{', cold' if w.cold else ''}"]  # fmt: skip
    assert isinstance(w, ColdProbeWorkload)
    return ["cold-probe", w.function, f"{w.count * (1 + w.warm_after):,}", f"1 per {w.interval_s:g} s",
            f"{w.count * w.interval_s:g}", f"{w.start_s:g}", f"forced by {w.force}"]  # fmt: skip


def describe(plan: Plan) -> str:
    header = ["workload", "kind", "target", "requests", "peak req/s", "duration s", "start s", "what"]
    rows = [[w.name, *workload_row(plan, w)] for w in plan.workloads]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"plan {plan.name} ({'quick, ' if plan.quick else ''}target {plan.target}): {plan.description}".strip(),
             "  ".join(h.ljust(widths[i]) for i, h in enumerate(header))]  # fmt: skip
    lines += ["  ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)) for r in rows]
    if plan.sweeps():
        axes = " x ".join(f"{s.parameter} {s.values}" for s in plan.sweeps())
        lines.append(f"sweep: {axes} ({plan.sub_run_count()} sub-runs, all workloads in each)")
    total_s = plan.span_s() * plan.sub_run_count()
    lines.append(f"traffic: {plan.span_s():g} s per sub-run, {total_s:g} s in all; workloads run concurrently")
    if plan.cloud.model and plan.target == "local":
        lines.append(f"local cloud model: {plan.cloud.model}")
    return "\n".join(lines)
