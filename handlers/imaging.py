"""Pure image handling: bytes -> decoded RGB image -> normalised float32 tensor; base64 decoding.

Preprocessing is the standard ImageNet evaluation transform (resize the shorter side to
`resize_px`, centre-crop `size_px`, scale to [0, 1], normalise with the ImageNet mean/std).
The resize and crop are done in one step (`Image.resize(box=...)` on the source region that the
crop would keep), which gives the same pixels as resize-then-crop without ever materialising a
huge intermediate for extreme aspect ratios.
"""

from __future__ import annotations

import base64
import binascii
import io
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from handlers.errors import BadInput, PayloadTooLarge

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MAX_IMAGE_PIXELS = 50_000_000  # decompression-bomb guard (a 50 MP photo is accepted)
MAX_IMAGE_SIDE_PX = 16_384  # and per side: a 1 x 49,000,000 px strip is rejected, not decoded

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, slots=True)
class InputSpec:
    """What a model expects: crop size, resize size, normalisation and layout."""

    size_px: int = 224
    resize_px: int = 256
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    layout: str = "NCHW"  # or "NHWC"

    @classmethod
    def for_size(cls, size_px: int, layout: str = "NCHW") -> InputSpec:
        """The standard spec for a crop size: resize = size * 256/224 (224->256, 299->342)."""
        return cls(size_px=size_px, resize_px=round(size_px * 256 / 224), layout=layout)


@dataclass(frozen=True, slots=True)
class DecodedImage:
    image: Image.Image
    width_px: int
    height_px: int
    format: str  # "JPEG" | "PNG"


def sniff_format(data: bytes) -> str:
    """'JPEG' or 'PNG' from the magic bytes; BadInput for empty data or any other format."""
    if not data:
        raise BadInput("empty_image", "the image is empty (0 bytes); send a JPEG or PNG image")
    if data.startswith(JPEG_MAGIC):
        return "JPEG"
    if data.startswith(PNG_MAGIC):
        return "PNG"
    head = data[:8].hex(" ")
    raise BadInput(
        "unsupported_image_format",
        f"expected a JPEG or PNG image, but the data starts with bytes {head} ({len(data)} bytes)",
    )


def png_header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk (bytes 8-24), or None if the header is not well formed."""
    if len(data) < 24 or data[8:16] != b"\x00\x00\x00\x0dIHDR":
        return None
    width_px, height_px = struct.unpack(">II", data[16:24])
    return width_px, height_px


def check_image_size(width_px: int, height_px: int) -> None:
    """PayloadTooLarge (413 `image_too_large`) past MAX_IMAGE_PIXELS or MAX_IMAGE_SIDE_PX (header sizes)."""
    if width_px * height_px > MAX_IMAGE_PIXELS or max(width_px, height_px) > MAX_IMAGE_SIDE_PX:
        raise PayloadTooLarge(
            "image_too_large",
            f"the image is {width_px}x{height_px} px; at most {MAX_IMAGE_PIXELS} pixels and "
            f"{MAX_IMAGE_SIDE_PX} px per side are accepted (checked before decoding)",
        )


def decode_image(data: bytes, draft_px: int | None = None) -> DecodedImage:
    """Decode JPEG/PNG bytes to an RGB image (EXIF orientation applied).

    `draft_px` lets the JPEG decoder scale down by DCT while keeping both sides >= draft_px.
    Raises BadInput for empty/unsupported/truncated/corrupt data, PayloadTooLarge (`image_too_large`)
    over MAX_IMAGE_PIXELS or MAX_IMAGE_SIDE_PX, decided from the header before any pixel is decoded.
    """
    fmt = sniff_format(data)
    png_size = png_header_size(data) if fmt == "PNG" else None
    if png_size is not None:  # before Pillow's own bomb check, so the answer names the size
        check_image_size(*png_size)
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as opened:  # reads the header only
            width_px, height_px = opened.size
            check_image_size(width_px, height_px)
            if fmt == "JPEG" and draft_px:
                opened.draft("RGB", (draft_px, draft_px))
            opened.load()
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except Image.DecompressionBombError as exc:  # Pillow's own check, on open, past 2x its MAX_IMAGE_PIXELS
        raise PayloadTooLarge("image_too_large", f"the {fmt} image is too large to decode: {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadInput(
            "corrupt_image",
            f"the {fmt} image could not be decoded (truncated or corrupt): {exc}",
        ) from exc
    return DecodedImage(image=image, width_px=width_px, height_px=height_px, format=fmt)


def crop_box(width_px: int, height_px: int, spec: InputSpec) -> tuple[float, float, float, float]:
    """The source-pixel box that 'resize shorter side to resize_px, centre-crop size_px' keeps."""
    scale = spec.resize_px / min(width_px, height_px)
    half_src = spec.size_px / scale / 2.0
    centre_x, centre_y = width_px / 2.0, height_px / 2.0
    return (centre_x - half_src, centre_y - half_src, centre_x + half_src, centre_y + half_src)


def to_tensor(image: Image.Image, spec: InputSpec) -> np.ndarray:
    """Resize+crop to spec.size_px square, normalise, and lay out as float32 [1,3,H,W] (or NHWC)."""
    box = crop_box(image.width, image.height, spec)
    cropped = image.resize((spec.size_px, spec.size_px), Image.Resampling.BILINEAR, box=box)
    pixels = np.asarray(cropped, dtype=np.float32) / 255.0
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    normalised = (pixels - mean) / std
    if spec.layout == "NHWC":
        return np.ascontiguousarray(normalised[np.newaxis, ...])
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[np.newaxis, ...])


def preprocess(data: bytes, spec: InputSpec) -> tuple[np.ndarray, DecodedImage]:
    """Bytes -> (model input tensor, decoded image metadata)."""
    decoded = decode_image(data, draft_px=spec.resize_px)
    return to_tensor(decoded.image, spec), decoded


def decode_base64(text: str | bytes) -> bytes:
    """Decode standard or URL-safe base64 (a `data:...;base64,` prefix, whitespace and missing
    padding are tolerated). BadInput if it is not base64 or decodes to nothing."""
    raw = text.encode("ascii", errors="replace") if isinstance(text, str) else bytes(text)
    if raw[:5].lower() == b"data:" and b"," in raw:
        raw = raw.split(b",", 1)[1]
    compact = b"".join(raw.split())
    if not compact:
        raise BadInput("empty_image", "the base64 image string is empty")
    if b"-" in compact or b"_" in compact:
        compact = compact.replace(b"-", b"+").replace(b"_", b"/")
    compact += b"=" * (-len(compact) % 4)
    try:
        decoded = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadInput("bad_base64", f"the image is not valid base64: {exc}") from exc
    if not decoded:
        raise BadInput("empty_image", "the base64 image decodes to 0 bytes")
    return decoded
