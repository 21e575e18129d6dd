"""Run the bench scripts `--repeat` times each and summarise their headline figures (issue 13).

Each `bench/bench_*.py` runs `--repeat` times in sequence (script after script, each script's repeats back to
back), as a subprocess of this Python with its own defaults; its output (stdout and stderr) is streamed to the
console and saved to runs/bench/<UTC stamp>/<script>.<i>.log. The `FIGURE <name>: <value> <unit>` lines the
scripts print (bench/_common.figure) are collected, and at the end one table gives each figure's median, min,
max and n over the repeats, followed by the MISSED lines seen (grouped when only their numbers differ; a
number that varied is shown as its min..max). The table is also written as summary.json and summary.md
beside the logs. Exit status: 1 when a script failed (after the table of what ran), 130 on Ctrl-C.

    .venv/bin/python bench/run.py                          # every script, 3 times (make bench)
    .venv/bin/python bench/run.py --repeat 1 --only analysis --only traces
    .venv/bin/python bench/run.py --list
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
FIGURE_RE = re.compile(r"^FIGURE (?P<name>\S+): (?P<value>\S+)(?: (?P<unit>.*))?$")
NUMBER_RE = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")


@dataclass
class Run:
    """One run of one script."""

    script: str
    index: int
    log: Path
    returncode: int | None = None
    seconds: float = 0.0
    figures: list[tuple[str, float, str]] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)


def bench_scripts(patterns: list[str]) -> list[Path]:
    """bench/bench_*.py, sorted; with patterns, those whose name contains one or matches it as a glob."""
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if not patterns:
        return scripts
    return [s for s in scripts if any(p in s.name or fnmatch.fnmatch(s.name, p) for p in patterns)]


def parse_line(line: str, run: Run) -> None:
    """Collect a FIGURE or MISSED line into `run`."""
    text = line.strip()
    match = FIGURE_RE.match(text)
    if match:
        try:
            value = float(match["value"])
        except ValueError:
            value = math.nan
        run.figures.append((match["name"], value, (match["unit"] or "").strip()))
    elif text.startswith("MISSED"):
        run.missed.append(text)


def run_script(script: Path, run: Run) -> None:
    """Run one script, its output streamed to the console and to `run.log`, FIGURE and MISSED lines collected."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # stream lines as they come (stdout is a pipe here)
    started = time.monotonic()
    with run.log.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert process.stdout is not None
        try:
            for line in process.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                log.write(line)
                parse_line(line, run)
            run.returncode = process.wait()
        except KeyboardInterrupt:
            process.terminate()
            try:
                run.returncode = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                run.returncode = process.wait()
            raise
        finally:
            run.seconds = time.monotonic() - started


def figure_rows(runs: list[Run]) -> list[dict[str, Any]]:
    """One row per figure name (in order of first appearance): unit, median, min, max, n (finite values)."""
    values: dict[str, list[float]] = {}
    units: dict[str, str] = {}
    scripts: dict[str, str] = {}
    for run in runs:
        for name, value, unit in run.figures:
            values.setdefault(name, []).append(value)
            units.setdefault(name, unit)
            scripts.setdefault(name, run.script)
    rows = []
    for name, seen in values.items():
        finite = [v for v in seen if math.isfinite(v)]
        rows.append({
            "figure": name, "unit": units[name], "script": scripts[name],
            "median": statistics.median(finite) if finite else math.nan,
            "min": min(finite) if finite else math.nan, "max": max(finite) if finite else math.nan,
            "n": len(finite), "values": seen,
        })  # fmt: skip
    return rows


def missed_rows(runs: list[Run]) -> list[dict[str, Any]]:
    """MISSED lines grouped by script and text with the numbers masked; a varying number shown as min..max."""
    groups: dict[tuple[str, str], list[str]] = {}
    for run in runs:
        for line in run.missed:
            groups.setdefault((run.script, NUMBER_RE.sub("#", line)), []).append(line)
    rows = []
    for (script, template), lines in groups.items():
        slots = list(zip(*(NUMBER_RE.findall(line) for line in lines), strict=True))
        parts = template.split("#")
        text = parts[0]
        for part, numbers in zip(parts[1:], slots, strict=True):
            ordered = sorted(set(numbers), key=lambda s: float(s.replace(",", "")))
            text += ordered[0] if len(ordered) == 1 else f"{ordered[0]}..{ordered[-1]}"
            text += part
        rows.append({"script": script, "line": text, "count": len(lines)})
    return rows


def number(value: float) -> str:
    """A figure for the table: 4 significant digits, thousands separated."""
    if not math.isfinite(value):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"


def _aligned(cells: list[str], widths: list[int]) -> str:
    """Two left-aligned columns (figure, unit), the numbers right-aligned."""
    parts = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
    return "  ".join(parts).rstrip()


def summary_lines(figures: list[dict[str, Any]], missed: list[dict[str, Any]], runs: list[Run]) -> list[str]:
    """The plain-text summary: the figure table, the MISSED lines, the scripts' wall times and failures."""
    headers = ("figure", "unit", "median", "min", "max", "n")
    cells = [[r["figure"], r["unit"], number(r["median"]), number(r["min"]), number(r["max"]), str(r["n"])]
             for r in figures]  # fmt: skip
    widths = [max(len(row[i]) for row in [list(headers), *cells]) for i in range(len(headers))]
    lines = [_aligned(list(headers), widths), "  ".join("-" * w for w in widths)]
    lines += [_aligned(row, widths) for row in cells]
    lines.append("")
    lines.append(f"MISSED lines ({sum(m['count'] for m in missed)}):" if missed else "MISSED lines: none")
    lines += [f"  {m['count']}x {m['script']}: {m['line']}" for m in missed]
    lines.append("")
    lines.append("wall time per script (s, each run):")
    for script in dict.fromkeys(run.script for run in runs):
        own = [run for run in runs if run.script == script]
        times = ", ".join(f"{run.seconds:.0f}" + ("" if run.returncode == 0 else f" (exit {run.returncode})")
                          for run in own)  # fmt: skip
        lines.append(f"  {script}: {times}")
    return lines


def markdown(figures: list[dict[str, Any]], missed: list[dict[str, Any]], runs: list[Run], repeat: int) -> str:
    """summary.md: the figure table (median (min-max)), the MISSED lines and the wall times."""
    lines = [
        f"# Bench summary ({repeat} run(s) per script)",
        "",
        "| figure | unit | median | min | max | n | median (min-max) |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in figures:
        median, low, high = number(r["median"]), number(r["min"]), number(r["max"])
        lines.append(
            f"| `{r['figure']}` | {r['unit']} | {median} | {low} | {high} | {r['n']} | {median} ({low}-{high}) |"
        )
    lines += ["", "## MISSED lines", ""]
    lines += [f"- {m['count']}x `{m['script']}`: {m['line']}" for m in missed] or ["none"]
    lines += ["", "## Wall time per run", ""]
    lines += [f"- `{run.script}` #{run.index}: {run.seconds:.0f} s, exit {run.returncode}" for run in runs]
    return "\n".join(lines) + "\n"


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def write_summary(out_dir: Path, runs: list[Run], repeat: int) -> list[str]:
    """Write summary.json and summary.md; the plain-text summary to print."""
    figures, missed = figure_rows(runs), missed_rows(runs)
    runs_json = [{"script": r.script, "index": r.index, "returncode": r.returncode, "seconds": round(r.seconds, 1),
                  "log": r.log.name} for r in runs]  # fmt: skip
    document = {"repeat": repeat, "python": sys.version.split()[0], "cpus": os.cpu_count(), "figures": figures,
                "missed": missed, "runs": runs_json}  # fmt: skip
    (out_dir / "summary.json").write_text(json.dumps(_json_safe(document), indent=2) + "\n", encoding="utf-8")
    (out_dir / "summary.md").write_text(markdown(figures, missed, runs, repeat), encoding="utf-8")
    return summary_lines(figures, missed, runs)


def run_all(scripts: list[Path], repeat: int, out_dir: Path) -> tuple[list[Run], bool]:
    """Every script `repeat` times; the runs, and whether it was interrupted (Ctrl-C)."""
    runs: list[Run] = []
    for number_of_script, script in enumerate(scripts, start=1):
        for index in range(1, repeat + 1):
            print(f"\n== [{index}/{repeat}] {script.name} (script {number_of_script}/{len(scripts)}) ...", flush=True)
            run = Run(script.name, index, out_dir / f"{script.stem}.{index}.log")
            runs.append(run)
            try:
                run_script(script, run)
            except KeyboardInterrupt:
                print(f"\ninterrupted: {script.name} run {index}", flush=True)
                return runs, True
            verdict = "ok" if run.returncode == 0 else f"FAILED (exit {run.returncode})"
            print(f"== {script.name} run {index}: {verdict} in {run.seconds:.0f} s, {len(run.figures)} figures",
                  flush=True)  # fmt: skip
    return runs, False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each script (default 3)")
    parser.add_argument("--only", action="append", nargs="+", default=[], metavar="PATTERN",
                        help="only the scripts whose name contains PATTERN or matches it as a glob")  # fmt: skip
    parser.add_argument("--list", action="store_true", help="list the scripts that would run, and exit")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "runs" / "bench", help="parent of the run folder")
    args = parser.parse_args(argv)
    scripts = bench_scripts([p for group in args.only for p in group])
    if args.list:
        print("\n".join(s.name for s in scripts))
        return 0
    if not scripts or args.repeat < 1:
        print("nothing to run (no script matched --only, or --repeat < 1)", file=sys.stderr)
        return 2
    out_dir = args.out / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir.mkdir(parents=True, exist_ok=False)
    print(f"bench: {len(scripts)} scripts x {args.repeat}; logs and summary in {out_dir}", flush=True)
    runs, interrupted = run_all(scripts, args.repeat, out_dir)
    print(f"\n== summary: median (min-max) of {args.repeat} run(s) per script; {out_dir}/summary.md")
    print("\n".join(write_summary(out_dir, runs, args.repeat)))
    failed = [run for run in runs if run.returncode != 0]
    if failed:
        print("FAILED: " + ", ".join(f"{run.script} run {run.index} (exit {run.returncode})" for run in failed))
    return 130 if interrupted else (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main())
