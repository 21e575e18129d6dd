"""`load_trace`: one entry point that recognises a trace file's kind and calls its loader.

Detection (``kind="auto"``) looks at the (decompressed) first 4 KiB: binary data is the ITA WorldCup98
raw format; text whose header is ``HashOwner,HashApp,HashFunction,Trigger,1,...`` is the Azure
Functions format; other text with two comma-separated columns is a count series; one value per line is
a list of arrival timestamps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labkit.errors import ConfigError, InputError
from traces.azure import load_azure_counts, looks_like_azure
from traces.counts import load_counts_csv
from traces.fileio import head_bytes, looks_like_text
from traces.ita import load_ita_counts
from traces.series import CountSeries, Timestamps
from traces.timestamps import load_timestamps

KINDS = ("ita", "counts", "azure", "timestamps")


def detect_kind(path: str | Path) -> str:
    """Which of `KINDS` a file is, from its content (see the module docstring)."""
    if not Path(path).is_file():
        raise InputError(f"{path}: no such trace file")
    sample = head_bytes(path)
    if not sample:
        raise InputError(f"{path}: empty file")
    if not looks_like_text(sample):
        return "ita"
    lines = (raw.strip().lstrip("\ufeff") for raw in sample.decode("utf-8", "replace").splitlines())
    first = next((s for s in lines if s and not s.startswith("#")), "")
    if looks_like_azure(first):
        return "azure"
    if "," in first:
        return "counts"
    if first:
        return "timestamps"
    raise InputError(f"{path}: cannot tell the trace kind from the first {len(sample)} bytes; pass kind=")


def load_trace(path: str | Path, kind: str = "auto", **options: Any) -> CountSeries | Timestamps:
    """Load any supported trace; `options` go to the kind's loader.

    ita -> `load_ita_counts` (bin_s=1 default; 60 for minutes), counts -> `load_counts_csv` (bin_s),
    azure -> `load_azure_counts` (functions, trigger, top, day, origin), timestamps -> `load_timestamps`
    (sort). Returns a `CountSeries`, or `Timestamps` for arrival-time files.
    """
    if kind == "auto":
        kind = detect_kind(path)
    loaders = {
        "ita": load_ita_counts,
        "counts": load_counts_csv,
        "azure": load_azure_counts,
        "timestamps": load_timestamps,
    }
    if kind not in loaders:
        raise ConfigError(f"unknown trace kind {kind!r}; expected 'auto' or one of {', '.join(KINDS)}")
    try:
        return loaders[kind](path, **options)
    except TypeError as exc:
        raise ConfigError(f"bad option for a {kind!r} trace: {exc}") from exc
