"""Opening trace files: transparent gunzip, numbered data lines, and a text/binary sniff for `load_trace`."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from labkit.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 4096


@contextmanager
def open_binary(path: str | Path) -> Iterator[BinaryIO]:
    """Open a file for reading, transparently gunzipping it if it starts with the gzip magic."""
    try:
        with open(path, "rb") as probe:
            gzipped = probe.read(2) == GZIP_MAGIC
        handle: BinaryIO = gzip.open(path, "rb") if gzipped else open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror or exc})") from exc
    with handle:
        yield handle


def read_bytes(path: str | Path, handle: BinaryIO, size: int = -1) -> bytes:
    """`handle.read(size)`, with gzip corruption reported as `InputError` naming the file."""
    try:
        return handle.read(size)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: corrupt or truncated gzip stream ({exc})") from exc


def head_bytes(path: str | Path, size: int = SNIFF_BYTES) -> bytes:
    """The first `size` (decompressed) bytes of a file."""
    with open_binary(path) as handle:
        return read_bytes(path, handle, size)


def looks_like_text(sample: bytes) -> bool:
    """True if a sample is plausibly a text file (no NUL bytes, decodes as UTF-8 apart from a cut tail)."""
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(sample) - 4  # a multi-byte character cut by the sample's end
    return True


def data_lines(path: str | Path) -> list[tuple[int, str]]:
    """(1-based line number, stripped text) of every line that is neither blank nor a '#' comment."""
    with open_binary(path) as handle:
        raw = read_bytes(path, handle)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{path}:{line}: not UTF-8 text (byte offset {exc.start})") from exc
    numbered = enumerate(text.splitlines(), start=1)
    return [(n, s) for n, raw_line in numbered if (s := raw_line.strip()) and not s.startswith("#")]


def split_fields(path: str | Path, line: int, text: str, expected: int, columns: str) -> list[str]:
    """Split a CSV line into exactly `expected` stripped fields, else `InputError` naming the line."""
    fields = [f.strip() for f in text.split(",")]
    if len(fields) != expected:
        raise InputError(f"{path}:{line}: expected {expected} columns ({columns}), found {len(fields)}: {text!r}")
    return fields
