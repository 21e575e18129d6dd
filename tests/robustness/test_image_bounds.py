"""Image decoding is bounded by pixels AND by side, checked from the header before any pixel is decoded.

Issue "Trustworthy runs": a 1 x 49,000,000 px PNG passed the 50-megapixel guard and cost hundreds of MB
to decode; a 20000 x 20000 PNG tripped Pillow's own bomb check and came back as a 400 `corrupt_image`.
Both must be a 413 `image_too_large`, at the cost of reading the header only.

The PNGs are crafted: a real IHDR and a zlib stream of zero rows (a 1-row image compresses 1000:1, and for
the 20000 x 20000 one only the first rows are written, since nothing past the header may be read).
"""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

from handlers.errors import PayloadTooLarge
from handlers.http_io import error_response
from handlers.imaging import MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE_PX, InputSpec, decode_image, preprocess

ROOT = Path(__file__).resolve().parents[2]


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def crafted_png(width_px: int, height_px: int, rows_written: int | None = None) -> bytes:
    """An 8-bit grayscale PNG of zeros; only `rows_written` rows in the IDAT stream (all by default)."""
    rows = height_px if rows_written is None else rows_written
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + width_px)  # filter byte + one byte per pixel
    idat = b"".join(compressor.compress(row) for _ in range(rows)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width_px, height_px, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("width_px", "height_px", "rows"),
    [(49_000_000, 1, None), (1, 49_000_000, 16), (20_000, 20_000, 16), (MAX_IMAGE_SIDE_PX + 1, 2, None)],
)
def test_oversized_png_is_413_image_too_large(width_px: int, height_px: int, rows: int | None) -> None:
    data = crafted_png(width_px, height_px, rows)
    with pytest.raises(PayloadTooLarge) as caught:
        preprocess(data, InputSpec.for_size(224))
    assert caught.value.kind == "image_too_large"
    assert f"{width_px}x{height_px}" in caught.value.message
    status, body = error_response(caught.value)
    assert (status, body["error"]["kind"]) == (413, "image_too_large")


def test_limits_are_the_documented_ones() -> None:
    assert MAX_IMAGE_PIXELS == 50_000_000
    assert MAX_IMAGE_SIDE_PX == 16_384


def test_image_at_the_side_limit_still_decodes() -> None:
    decoded = decode_image(crafted_png(MAX_IMAGE_SIDE_PX, 2))
    assert (decoded.width_px, decoded.height_px) == (MAX_IMAGE_SIDE_PX, 2)


def test_rejecting_the_1_row_png_costs_no_decode_memory(tmp_path: Path) -> None:
    """In a fresh process, peak RSS grows by < 32 MB while the 1 x 49,000,000 PNG is rejected."""
    image = tmp_path / "row.png"
    image.write_bytes(crafted_png(49_000_000, 1))
    script = textwrap.dedent(
        f"""
        import resource, sys
        from handlers.imaging import InputSpec, preprocess
        from handlers.errors import PayloadTooLarge
        data = open({str(image)!r}, "rb").read()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            preprocess(data, InputSpec.for_size(224))
        except PayloadTooLarge as exc:
            print(exc.kind, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    kind, grown_mb = done.stdout.split()
    assert kind == "image_too_large", done.stderr
    assert int(grown_mb) < 32
