"""Runs analysed a part at a time (analysis.runread's parts: files that share no group), no plotting imported:
what a report computes, and what the analysis bench measures, without matplotlib's ~30 MB and 0.5 s."""

from __future__ import annotations

from itertools import chain
from typing import Any

import pandas as pd

from analysis.colcache import release_read_memory
from analysis.groups import GROUP_KEYS
from analysis.runread import RunRecords
from analysis.summary import AnalysisOptions, Curves, analyse
from analysis.timeline import TIMELINE_COLUMNS


def analyse_parts(readings: list[RunRecords], extra: list[pd.DataFrame], options: AnalysisOptions, curves: Curves,
                  timeline: bool) -> tuple[list[dict[str, Any]], int, list[pd.DataFrame]]:  # fmt: skip
    """Every run's groups, a part at a time (analysis.runread), then the outside inputs' groups, sorted by their
    keys as one analysis of everything sorts them; the records counted; with `timeline`, the columns the plan's
    timeline reads, of every part. A group found in two parts (two run dirs of one name) is analysed once over all
    its rows: everything read again and analysed at once."""
    groups, count, kept = [], 0, []
    for frame in chain(*(reading.frames() for reading in readings), extra):
        count += len(frame)
        groups += analyse(frame, options, prepared=True, curves=curves)
        if timeline:  # a copy: a view would keep the part's columns alive
            kept.append(frame[list(TIMELINE_COLUMNS)].copy())
        del frame  # the part's memory let go of, and handed back, before the next part is read
        release_read_memory()
    for reading in readings:
        reading.finish()
    keys = [tuple(group[k] for k in GROUP_KEYS) for group in groups]
    if len(set(keys)) < len(keys):
        curves.clear()
        frames = [reading.read_again() for reading in readings] + extra
        whole = pd.concat([f for f in frames if len(f)], ignore_index=True)
        return analyse(whole, options, prepared=True, curves=curves), count, kept
    return [groups[i] for i in sorted(range(len(groups)), key=keys.__getitem__)], count, kept
