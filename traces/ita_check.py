"""The statistics the archive publishes beside each raw log (``wc_dayX_Y.check``), computed by streaming.

`compute_check(path)` returns an `ItaCheck`; `parse_check(path)` reads an official ``.check`` file into
the same shape, so a decoded file can be compared with its published statistics field by field.
Sizes of 0xFFFFFFFF (unknown) are left out of the byte total and of min/max size, as the archive does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labkit.errors import InputError
from traces.ita import UNKNOWN_SIZE, iter_records


@dataclass
class ItaCheck:
    """Summary statistics of a raw ITA log; `servers` maps the raw server byte to its request count."""

    total_requests: int = 0
    total_bytes: int = 0
    min_client_id: int = 0
    max_client_id: int = 0
    min_object_id: int = 0
    max_object_id: int = 0
    min_size: int = 0
    max_size: int = 0
    min_time: int = 0
    max_time: int = 0
    start_time: int = 0
    finish_time: int = 0
    out_of_order: int = 0
    servers: dict[int, int] = field(default_factory=dict)

    @property
    def mean_transfer_size(self) -> float:
        return self.total_bytes / self.total_requests if self.total_requests else 0.0


_LABELS = {
    "Total Requests": "total_requests",
    "Total Bytes": "total_bytes",
    "Min Client ID": "min_client_id",
    "Max Client ID": "max_client_id",
    "Min Object ID": "min_object_id",
    "Max Object ID": "max_object_id",
    "Min Size": "min_size",
    "Max Size": "max_size",
    "Min Time": "min_time",
    "Max Time": "max_time",
    "Start Time": "start_time",
    "Finish Time": "finish_time",
    "Out of Order": "out_of_order",
}


def compute_check(path: str | Path) -> ItaCheck:
    """Stream a raw log (sorted or not) and compute its `.check` statistics."""
    stats: ItaCheck | None = None
    servers = np.zeros(256, dtype=np.int64)
    last_ts = -1
    for records in iter_records(path, require_sorted=False):
        ts = records["timestamp"].astype(np.int64)
        part = _chunk_stats(records, ts, last_ts)
        stats = part if stats is None else _merge(stats, part)
        servers += np.bincount(records["server"], minlength=256)
        last_ts = int(ts[-1])
    if stats is None:
        raise InputError(f"{path}: empty file (no records)")
    stats.servers = {int(s): int(servers[s]) for s in np.flatnonzero(servers)}
    return stats


def _chunk_stats(records: np.ndarray, ts: np.ndarray, last_ts: int) -> ItaCheck:
    sizes = records["size"]
    known = sizes[sizes != UNKNOWN_SIZE].astype(np.int64)
    previous = np.concatenate(([last_ts if last_ts >= 0 else ts[0]], ts[:-1]))
    return ItaCheck(
        total_requests=int(records.size),
        total_bytes=int(known.sum()),
        min_client_id=int(records["client_id"].min()),
        max_client_id=int(records["client_id"].max()),
        min_object_id=int(records["object_id"].min()),
        max_object_id=int(records["object_id"].max()),
        min_size=int(known.min()) if known.size else 0,
        max_size=int(known.max()) if known.size else 0,
        min_time=int(ts.min()),
        max_time=int(ts.max()),
        start_time=int(ts[0]),
        finish_time=int(ts[-1]),
        out_of_order=int(np.count_nonzero(ts < previous)),
    )


def _merge(a: ItaCheck, b: ItaCheck) -> ItaCheck:
    return ItaCheck(
        total_requests=a.total_requests + b.total_requests,
        total_bytes=a.total_bytes + b.total_bytes,
        min_client_id=min(a.min_client_id, b.min_client_id),
        max_client_id=max(a.max_client_id, b.max_client_id),
        min_object_id=min(a.min_object_id, b.min_object_id),
        max_object_id=max(a.max_object_id, b.max_object_id),
        min_size=min(a.min_size, b.min_size),
        max_size=max(a.max_size, b.max_size),
        min_time=min(a.min_time, b.min_time),
        max_time=max(a.max_time, b.max_time),
        start_time=a.start_time,
        finish_time=b.finish_time,
        out_of_order=a.out_of_order + b.out_of_order,
    )


def parse_check(path: str | Path) -> ItaCheck:
    """Read an official `.check` file (the "Label: value" lines and the "Server N: count" lines)."""
    text = Path(path).read_text(encoding="ascii", errors="replace")
    stats = ItaCheck()
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() == "Check:":
            break  # the trailer repeats totals already read
        match = re.fullmatch(r"\s*([A-Za-z][A-Za-z ]*?|Server \d+)\s*:\s*([0-9.]+)\s*", line)
        if not match:
            continue
        label, value = match.groups()
        if label.startswith("Server "):
            stats.servers[int(label.split()[1])] = int(value)
        elif label in _LABELS:
            setattr(stats, _LABELS[label], int(value))
            seen.add(label)
        elif label not in ("Mean Transfer Size", "Unique Servers"):
            raise InputError(f"{path}:{number}: unknown .check label {label!r}")
    missing = sorted(set(_LABELS) - seen)
    if missing:
        raise InputError(f"{path}: .check file lacks {', '.join(missing)}")
    return stats


def format_check(stats: ItaCheck) -> str:
    """Render statistics in the archive's `.check` layout (right-aligned labels)."""
    lines = [f"{label:>18}: {getattr(stats, name)}" for label, name in list(_LABELS.items())[:2]]
    lines.append(f"{'Mean Transfer Size':>18}: {stats.mean_transfer_size:.6f}")
    lines += [f"{label:>18}: {getattr(stats, name)}" for label, name in list(_LABELS.items())[2:]]
    lines.append(f"{'Unique Servers':>18}: {len(stats.servers)}")
    lines += [f"Server {server}: {count}" for server, count in sorted(stats.servers.items())]
    lines += ["Check:", f"Total Requests: {sum(stats.servers.values())}", f"Unique Servers: {len(stats.servers)}"]
    return "\n".join(lines) + "\n"
