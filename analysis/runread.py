"""A run dir's records for its report: prepared, run_id the dir's, REPORT lines joined; a part at a time.

    records = open_run_records(run)           # the manifest, REPORT lines and the files' parts (analysis.parts)
    for frame in records.frames():             # one part's records alive at a time, if the caller lets go of each
        ...
    records.finish()                           # what was skipped or missing, said in `records.missing`

A run whose files are not all clean is read whole at open (the exact reader counts and skips what it finds);
`records.extents` is each (run_id, target, operation)'s extent of t_s either way, before any part is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.coldstart import attach_report_lines, report_frame
from analysis.cost import target_kind
from analysis.frame import load_frame, prepare
from analysis.groups import RECORD_COLUMNS, Extents, extents
from analysis.inputs import run_report_lines
from analysis.parts import file_parts
from labkit.errors import InputError
from labkit.records import ReadCounts
from labkit.reportlog import iter_report_lines
from labkit.rundir import RunDir

EXTENT_KEYS = ("run_id", "target", "operation")


@dataclass
class RunRecords:
    run: RunDir
    info: dict[str, Any]  # the manifest's facts (summary.json's runs[]); counts filled by `finish`
    missing: list[str]  # what the report says is missing or skipped, in order
    reports: pd.DataFrame  # the REPORT lines (analysis.coldstart.report_frame)
    log_files: list[Path]
    columns: list[str]  # the record columns read
    skip_bad_rows: bool
    parts: list[list[Path]]  # files read together, a part at a time (none when the run was read at open)
    has_files: bool = False
    extents: Extents = field(default_factory=dict)
    whole: pd.DataFrame | None = None  # the run read at open (not in parts), until handed out
    counts: ReadCounts = field(default_factory=ReadCounts)
    records: int = 0
    matched: int = 0
    functions: bool = False

    def frames(self) -> Iterator[pd.DataFrame]:
        """Each part's records, prepared (none for a part without records)."""
        if self.whole is not None:
            frame, self.whole = self.whole, None
            yield frame
        for files in self.parts:
            frame = load_frame(files, skip_bad_rows=self.skip_bad_rows, counts=self.counts, columns=self.columns)
            if len(frame):
                frame = self._prepared(frame)
                yield frame
            frame = None  # let go of the part before the next is read (the caller too: see analysis.partwise)

    def _prepared(self, frame: pd.DataFrame) -> pd.DataFrame:
        self.records += len(frame)
        frame, matched, functions = prepare_run(frame, self.run.run_id, self.reports)
        self.matched, self.functions = self.matched + matched, self.functions or functions
        return frame

    def read_again(self) -> pd.DataFrame:
        """All the run's records in one frame, prepared (read once already: nothing counted or said again)."""
        frame = load_frame(self.run.record_files(), skip_bad_rows=self.skip_bad_rows, columns=self.columns)
        return prepare_run(frame, self.run.run_id, self.reports)[0]

    def finish(self) -> None:
        """Count what was read in `info` and say what was skipped or missing (after every part was read)."""
        self.info["records"] = self.records
        self.info["records_skipped"] = _skipped(self.counts, self.missing)
        if self.has_files and not self.records:
            self.missing.append(f"{self.run.records_dir}: record files hold no records")
        self.info["report_lines"] = {"report_lines": len(self.reports), "matched": self.matched,
                                     "files": [str(p) for p in self.log_files]}  # fmt: skip
        if self.functions and self.reports.empty:
            self.missing.append(f"{self.run.logs_dir}: no REPORT lines; billed durations come from the records only "
                                "(or give --report-log FILE)")  # fmt: skip


def open_run_records(
    run: RunDir, extra_logs: tuple[Path, ...] = (), skip_bad_rows: bool = False, whole: bool = False
) -> RunRecords:
    """The run's records ready to read (see the module doc); `whole`: read at once, not in parts."""
    files = run.record_files()
    missing = [] if files else [f"{run.records_dir}: no record files"]
    lines, log_files = run_report_lines(run.logs_dir)
    for path in extra_logs:
        lines.extend(iter_report_lines(path))
        log_files.append(path)
    # function_request_id only joins REPORT lines: without any, not read (a string a record)
    columns = [name for name in RECORD_COLUMNS if lines or name != "function_request_id"]
    info = _run_info(run, missing)
    found = None if whole else file_parts(files, columns)
    records = RunRecords(run, info, missing, report_frame(lines), log_files, columns, skip_bad_rows,
                         found.files if found else [], bool(files))  # fmt: skip
    if found is not None:
        records.extents = {(run.run_id, *key): span for key, span in found.extents.items()}
        return records
    frame = load_frame(files, skip_bad_rows=skip_bad_rows, counts=records.counts, columns=columns)
    if len(frame):
        records.whole = records._prepared(frame)
        records.extents = extents(records.whole, EXTENT_KEYS, "t_s")
    return records


def prepare_run(frame: pd.DataFrame, run_id: str, reports: pd.DataFrame) -> tuple[pd.DataFrame, int, bool]:
    """Records of a run prepared (analysis.frame.prepare), run_id the run dir's, REPORT lines joined; the rows
    joined, and whether any is a function's."""
    frame = prepare(frame)
    frame["run_id"] = _one_value(run_id, len(frame))
    frame, joined = attach_report_lines(frame, reports)
    functions = frame["target"].map(target_kind).isin(["function"]) | (frame["operation"] == "s3-infer")
    return frame, joined["matched"], bool(functions.any())


def load_run(
    run: RunDir, missing: list[str], extra_logs: tuple[Path, ...] = (), skip_bad_rows: bool = False
) -> tuple[pd.DataFrame, dict]:
    """The run's records in one frame (prepared, REPORT lines joined) and its facts; `missing` extended."""
    records = open_run_records(run, extra_logs, skip_bad_rows, whole=True)
    frame = next(records.frames(), None)
    records.finish()
    missing.extend(records.missing)
    return (prepare(load_frame([])) if frame is None else frame), records.info


def read_manifest(run: RunDir) -> dict[str, Any]:
    """The run's manifest.json, checked to be an object whose config, machine and versions are objects."""
    try:
        manifest = run.read_manifest()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{run.manifest_path}: cannot read the run's manifest ({exc})") from None
    if not isinstance(manifest, dict):
        raise InputError(
            f"{run.manifest_path}: expected a JSON object (run_id, status, config, ...), got {type(manifest).__name__}"
            "; restore the run's manifest.json from a copy"
        )
    for key in ("config", "machine", "versions"):
        if manifest.get(key) is not None and not isinstance(manifest[key], dict):
            raise InputError(f"{run.manifest_path}: {key!r}: expected a JSON object, got {manifest[key]!r}")
    return manifest


def _run_info(run: RunDir, missing: list[str]) -> dict[str, Any]:
    manifest = read_manifest(run)
    if manifest.get("status") != "complete":
        missing.append(f"{run.path}: the run did not complete (status {manifest.get('status')!r}); figures are partial")
    keys = ("run_id", "scenario", "status", "git_sha", "started_unix_s", "ended_unix_s", "machine", "versions")
    return {**{k: manifest.get(k) for k in keys}, "run_id": run.run_id, "manifest": manifest}


def _skipped(counts: ReadCounts, missing: list[str]) -> dict[str, int]:
    """Say what the reader skipped (in the report's missing-inputs list) and count it for summary.json."""
    if counts.torn:
        what = f"{counts.torn} torn record{'s' if counts.torn > 1 else ''} skipped (a writer stopped mid-row)"
        missing.append(f"{what}: " + ", ".join(counts.torn_at))
    if counts.bad:
        what = f"{counts.bad} bad row{'s' if counts.bad > 1 else ''} skipped (--skip-bad-rows)"
        missing.append(f"{what}: " + "; ".join(counts.bad_at) + ("; ..." if counts.bad > len(counts.bad_at) else ""))
    return {"torn": counts.torn, "bad_rows": counts.bad}


def _one_value(value: str, n: int) -> pd.Categorical:
    """`value` n times, as one code a row (a column of n strings: ~9 bytes a row more, and slow to group by)."""
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), dtype=pd.CategoricalDtype(pd.Index([value])))
