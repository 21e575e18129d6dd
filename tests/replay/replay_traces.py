"""Small trace files for the replay tests (a module of its own: test files import it by name)."""

from __future__ import annotations

from pathlib import Path


def write_counts(path: Path, counts: list[int], bin_s: int = 60, start: str = "1998-06-30T12:00") -> Path:
    """A `time,count` trace with one bin of `bin_s` per count, from `start` (GMT)."""
    from datetime import datetime, timedelta

    first = datetime.fromisoformat(start)
    lines = ["time,count"] + [
        f"{(first + timedelta(seconds=i * bin_s)).isoformat()},{count}" for i, count in enumerate(counts)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
