"""A run's records files in parts that share no group, so that a report holds one part's rows at a time.

A part is a set of files no other part shares a (target, scenario, operation) with: every analysis group (run,
target, scenario, operation) has all its rows in one part. A run's producers write a file each (a Locust process
of one workload, the replay's uploads, its results), so a run of four workloads, or one workload on four targets,
is read in four parts, each about a quarter of the memory of the whole.

Finding the parts reads no rows of the columnar copy (analysis.colcache): each segment's metadata says which
(target, scenario, operation) its rows hold and their extent of t_s (the intended send, else the actual send,
else the completion, as `frame.prepare` makes it), which the report's window sizes depend on; the CSV past
the copy (or past a segment written before segments said so) is parsed and left as a segment, so the part's
read that follows parses nothing.

    found = file_parts(paths, columns)   # None: read the files together (a file to read the exact way)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from analysis.fastread import file_spans
from analysis.groups import Extents, merged_extents


@dataclass(frozen=True)
class FileFacts:
    links: frozenset[tuple[str, str, str]]  # the (target, scenario, operation) of its rows
    extents: Extents  # (target, operation) -> (min, max) of t_s over its rows that have one


@dataclass(frozen=True)
class Parts:
    files: list[list[Path]]  # the parts, each its files in the order given; files without rows left out
    extents: Extents  # (target, operation) -> (min, max) of t_s over every file


def file_facts(path: Path, columns: list[str]) -> FileFacts | None:
    """The keys and extents of a clean file's rows (empty for an empty file or one of a header alone); None for a
    file to be read the exact way or one without every key column and a time column."""
    if path.stat().st_size == 0:
        return FileFacts(frozenset(), {})
    spans = file_spans(path, columns)  # a header alone: no spans
    if spans is None:
        return None
    links = frozenset((target, scenario, operation) for target, scenario, operation, _, _ in spans)
    extents = [{(target, operation): (low, high)} for target, _, operation, low, high in spans if low is not None]
    return FileFacts(links, merged_extents(extents))


def file_parts(paths: list[Path], columns: list[str]) -> Parts | None:
    """`paths` in parts (see the module doc), or None when a file must be read the exact way (the whole run is
    then read at once, as the exact reader counts and skips what it finds)."""
    facts = []
    for path in paths:
        found = file_facts(path, columns)
        if found is None:
            return None
        facts.append(found)
    root = list(range(len(paths)))  # union-find over the files: one set per part

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    owner: dict[tuple[str, str, str], int] = {}
    for i, found in enumerate(facts):
        for link in found.links:
            root[find(i)] = find(owner.setdefault(link, i))
    parts: dict[int, list[Path]] = {}
    for i, path in enumerate(paths):
        if facts[i].links:
            parts.setdefault(find(i), []).append(path)
    return Parts(list(parts.values()), merged_extents([f.extents for f in facts]))
