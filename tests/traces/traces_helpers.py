"""Helpers for the traces tests: synthetic ITA records, a tiny Azure Functions file, shared-data paths."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np

# Import the working tree's `traces` package: an editable install made before traces/__init__.py existed
# maps `traces` to a namespace package (no re-exports) unless the repo root precedes it on sys.path.
REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
if getattr(sys.modules.get("traces"), "__file__", "") is None:
    for name in [m for m in sys.modules if m == "traces" or m.startswith("traces.")]:
        del sys.modules[name]

from traces.azure import HEADER  # noqa: E402
from traces.ita import RECORD_DTYPE  # noqa: E402

SHARED_FIFA98 = Path("/work/shared/data/fifa98")


def make_records(n: int, start_ts: int = 893_971_817, seed: int = 0) -> np.ndarray:
    """`n` plausible records with non-decreasing timestamps."""
    rng = np.random.default_rng(seed)
    records = np.zeros(n, dtype=RECORD_DTYPE)
    records["timestamp"] = start_ts + np.cumsum(rng.integers(0, 3, n))
    records["client_id"] = rng.integers(0, 100_000, n)
    records["object_id"] = rng.integers(0, 5_000, n)
    records["size"] = rng.integers(0, 100_000, n)
    records["status"] = 66
    records["type"] = rng.integers(0, 13, n)
    records["server"] = rng.choice([32, 96, 97], n)
    return records


def write_ita(path: Path, records: np.ndarray, *, extra: bytes = b"", gz: bool = True) -> Path:
    data = records.astype(RECORD_DTYPE).tobytes() + extra
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


FUNCTIONS = [
    ("own1", "appA", "f00aaa", "http", 1),
    ("own1", "appA", "f00bbb", "timer", 2),
    ("own2", "appB", "f11ccc", "http", 3),
]


def azure_file(tmp_path: Path, name: str = "invocations_per_function_md.anon.d03.csv", rows=None) -> Path:
    lines = [",".join(HEADER)]
    for owner, app, function, trigger, k in FUNCTIONS:
        counts = (np.arange(1440) % 5) * k
        lines.append(",".join([owner, app, function, trigger, *map(str, counts)]))
    lines += rows or []
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path
