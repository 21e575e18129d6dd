"""Request payload images: ones the project generates (deterministic) or any folder of JPEG/PNG files."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from labkit.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
DEFAULT_SIZES_PX = ((640, 480), (500, 375), (800, 600), (320, 240), (1024, 768))
GENERATED_PREFIX = "generated:"  # images: generated:224x224 = generated JPEGs of that one size


@dataclass(frozen=True)
class PayloadImage:
    name: str
    data: bytes
    content_type: str


def synthetic_jpeg(width_px: int, height_px: int, seed: int, quality: int = 85) -> bytes:
    """A photo-like JPEG: smooth colour gradients with shapes and noise, so it compresses like a photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height_px, 0:width_px].astype(np.float32)
    channels = []
    for _ in range(3):
        fx, fy, phase = rng.uniform(0.002, 0.02), rng.uniform(0.002, 0.02), rng.uniform(0, 6.3)
        channels.append(127 + 100 * np.sin(fx * x + fy * y + phase))
    pixels = np.stack(channels, axis=-1)
    for _ in range(6):
        cx, cy, r = rng.uniform(0, width_px), rng.uniform(0, height_px), rng.uniform(20, 120)
        mask = (x - cx) ** 2 + (y - cy) ** 2 < r * r
        pixels[mask] = rng.uniform(0, 255, size=3)
    pixels += rng.normal(0, 8, size=pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def generated_images(
    count: int = 5, seed: int = 1998, sizes_px: tuple[tuple[int, int], ...] = DEFAULT_SIZES_PX
) -> list[PayloadImage]:
    """`count` deterministic synthetic JPEGs of assorted sizes (or of the sizes given)."""
    out = []
    for i in range(count):
        width_px, height_px = sizes_px[i % len(sizes_px)]
        data = synthetic_jpeg(width_px, height_px, seed + i)
        out.append(PayloadImage(f"generated-{i:03d}-{width_px}x{height_px}.jpg", data, "image/jpeg"))
    return out


def load_images(folder: Path, limit: int = 1000) -> list[PayloadImage]:
    """JPEG/PNG files from `folder` (sorted by name, at most `limit`)."""
    if not folder.is_dir():
        raise InputError(f"{folder}: image folder not found")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not paths:
        raise InputError(f"{folder}: no .jpg, .jpeg or .png files in this folder")
    out = []
    for path in paths:
        content_type = "image/png" if path.suffix.lower() == ".png" else "image/jpeg"
        out.append(PayloadImage(path.name, path.read_bytes(), content_type))
    return out


def generated_size(spec: str) -> tuple[int, int]:
    """`generated:WxH` -> (W, H) (InputError saying what is expected otherwise)."""
    text = spec.removeprefix(GENERATED_PREFIX)
    try:
        width_px, height_px = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise InputError(f"images {spec!r}: expected a folder, or {GENERATED_PREFIX}WIDTHxHEIGHT (e.g. "
                         f"{GENERATED_PREFIX}224x224)") from None  # fmt: skip
    if not (16 <= width_px <= 4096 and 16 <= height_px <= 4096):
        raise InputError(f"images {spec!r}: generated sizes go from 16 to 4096 px a side")
    return width_px, height_px


def image_set(folder: str | Path | None, count: int = 5) -> list[PayloadImage]:
    """Images from `folder` when given (`generated:WxH`: `count` generated ones of that size), else `count`
    generated ones of assorted photo sizes."""
    if folder and str(folder).startswith(GENERATED_PREFIX):
        return generated_images(count, sizes_px=(generated_size(str(folder)),))
    return load_images(Path(folder)) if folder else generated_images(count)
