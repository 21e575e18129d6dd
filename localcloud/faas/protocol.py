"""The private pipe protocol between the platform and an execution environment.

A frame is an 8-byte header (two big-endian uint32: JSON length, body length), a UTF-8 JSON
object (the metadata) and an opaque body (the event or result payload, never re-encoded).
Requests go down one pipe, replies come up another; the function's own stdout/stderr are not
involved (they are its log stream). This module is stdlib-only: the environment process imports
it during its cold start.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

_HEADER = struct.Struct(">II")
_CHUNK_BYTES = 1 << 20


class PeerClosed(Exception):
    """The other end closed the pipe (the environment process died, or the platform went away)."""


class FrameTimeout(Exception):
    """No complete frame arrived before the deadline."""


def encode_frame(meta: dict[str, Any], body: bytes = b"") -> bytes:
    """One frame as bytes."""
    meta_bytes = json.dumps(meta, separators=(",", ":")).encode()
    return _HEADER.pack(len(meta_bytes), len(body)) + meta_bytes + body


def write_frame(fd: int, meta: dict[str, Any], body: bytes = b"", deadline_s: float | None = None) -> None:
    """Write a whole frame to `fd`; PeerClosed if the reader is gone, FrameTimeout past `deadline_s`.

    With a deadline, `fd` should be non-blocking (the platform side); without, it may block forever.
    """
    view = memoryview(encode_frame(meta, body))
    try:
        while view:
            _wait(fd, select.POLLOUT, deadline_s)
            try:
                written = os.write(fd, view[:_CHUNK_BYTES])
            except BlockingIOError:
                continue
            view = view[written:]
    except OSError as exc:  # BrokenPipeError and friends: the environment process is gone
        raise PeerClosed(str(exc)) from exc


def _wait(fd: int, event: int, deadline_s: float | None) -> None:
    """Wait until `fd` is ready for `event` (or hung up); FrameTimeout past the deadline."""
    if deadline_s is None:
        return
    remaining_s = deadline_s - time.monotonic()
    if remaining_s <= 0:
        raise FrameTimeout("deadline passed")
    poller = select.poll()
    poller.register(fd, event | select.POLLHUP | select.POLLERR)
    if not poller.poll(remaining_s * 1000.0):
        raise FrameTimeout("deadline passed")


def _read_exact(fd: int, size: int, deadline_s: float | None) -> bytes:
    chunks: list[bytes] = []
    missing = size
    while missing > 0:
        _wait(fd, select.POLLIN, deadline_s)
        chunk = os.read(fd, min(missing, _CHUNK_BYTES))
        if not chunk:
            raise PeerClosed("end of stream")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, deadline_s: float | None = None) -> tuple[dict[str, Any], bytes]:
    """Read one frame; `deadline_s` is a time.monotonic() instant (None waits forever).

    Raises FrameTimeout past the deadline and PeerClosed at end of stream.
    """
    meta_len, body_len = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline_s))
    meta = json.loads(_read_exact(fd, meta_len, deadline_s))
    body = _read_exact(fd, body_len, deadline_s) if body_len else b""
    return meta, body
