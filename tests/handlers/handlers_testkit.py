"""Helpers for the handlers tests (images, events, a fake Lambda context); fixtures are in conftest."""

from __future__ import annotations

import base64
import copy
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


def make_image_bytes(width_px: int = 320, height_px: int = 240, fmt: str = "JPEG", seed: int = 0) -> bytes:
    """A real photo-like (smooth gradient + noise) image encoded with Pillow."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height_px, 0:width_px]
    base = np.stack([x / max(width_px, 1), y / max(height_px, 1), (x + y) / (width_px + height_px)], axis=-1)
    pixels = np.clip(base * 200 + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, fmt)
    return buffer.getvalue()


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of a sample event from tests/events/."""
    return copy.deepcopy(json.loads((EVENTS_DIR / name).read_text()))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class FakeLambdaContext:
    """The attributes of a Lambda context object that the handlers read."""

    aws_request_id: str = "8f5d0e7a-1111-2222-3333-444455556666"
    function_name: str = "loadlab-predict"
    memory_limit_in_mb: str = "2048"
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
