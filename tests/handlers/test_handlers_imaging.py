"""Pure image handling: decoding, preprocessing, base64, bad inputs."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from handlers_testkit import make_image_bytes
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from handlers.errors import BadInput, PayloadTooLarge
from handlers.imaging import IMAGENET_MEAN, IMAGENET_STD, InputSpec, decode_base64, decode_image, preprocess


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(("fmt", "size"), [("JPEG", (320, 240)), ("PNG", (200, 300))])
def test_decode_reports_original_size_and_rgb(fmt: str, size: tuple[int, int]) -> None:
    decoded = decode_image(make_image_bytes(*size, fmt))
    assert (decoded.width_px, decoded.height_px) == size
    assert decoded.format == fmt
    assert decoded.image.mode == "RGB"


@pytest.mark.parametrize(("spec", "size_px"), [(InputSpec.for_size(224), 224), (InputSpec.for_size(299), 299)])
def test_preprocess_shape_dtype_and_resize_from_spec(spec: InputSpec, size_px: int) -> None:
    tensor, decoded = preprocess(make_image_bytes(640, 480), spec)
    assert tensor.shape == (1, 3, size_px, size_px)
    assert tensor.dtype == np.float32
    assert np.isfinite(tensor).all()
    assert decoded.width_px == 640
    assert spec.resize_px == {224: 256, 299: 342}[size_px]


def test_normalisation_uses_imagenet_mean_and_std() -> None:
    gray = Image.new("RGB", (300, 260), (128, 128, 128))
    tensor, _ = preprocess(_encode(gray, "PNG"), InputSpec.for_size(224))
    expected = (128 / 255 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(tensor[0, :, 100, 100], expected, rtol=1e-5)


def test_one_step_crop_matches_resize_then_centre_crop() -> None:
    data = make_image_bytes(640, 480, "PNG", seed=3)
    image = Image.open(io.BytesIO(data)).convert("RGB")
    resized = image.resize((341, 256), Image.Resampling.BILINEAR)  # shorter side 256
    left, top = (341 - 224) // 2, (256 - 224) // 2
    reference = np.asarray(resized.crop((left, top, left + 224, top + 224)), np.float32) / 255.0
    tensor, _ = preprocess(data, InputSpec.for_size(224))
    ours = tensor[0].transpose(1, 2, 0) * np.array(IMAGENET_STD) + np.array(IMAGENET_MEAN)
    assert float(np.abs(ours - reference).mean()) < 0.02


def test_nhwc_layout() -> None:
    tensor, _ = preprocess(make_image_bytes(100, 100), InputSpec.for_size(96, layout="NHWC"))
    assert tensor.shape == (1, 96, 96, 3)


def test_extreme_aspect_ratio_and_tiny_images_are_fine() -> None:
    for size in [(4000, 3), (1, 1), (3, 2000)]:
        tensor, _ = preprocess(_encode(Image.new("RGB", size, (10, 200, 30)), "PNG"), InputSpec.for_size(224))
        assert tensor.shape == (1, 3, 224, 224)


def test_grayscale_and_rgba_are_converted_to_rgb() -> None:
    for mode in ("L", "RGBA", "P"):
        decoded = decode_image(_encode(Image.new(mode, (50, 40)), "PNG"))
        assert decoded.image.mode == "RGB"


@pytest.mark.parametrize(
    ("data", "kind", "fragment"),
    [
        (b"", "empty_image", "empty"),
        (b"hello, this is not an image", "unsupported_image_format", "JPEG or PNG"),
        (_encode(Image.new("RGB", (20, 20)), "GIF"), "unsupported_image_format", "47 49 46"),
        (make_image_bytes(320, 240, "JPEG")[:2000], "corrupt_image", "truncated"),
        (make_image_bytes(320, 240, "PNG")[:3000], "corrupt_image", "PNG"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "corrupt_image", "JPEG"),
    ],
)
def test_bad_images_raise_bad_input_with_clear_message(data: bytes, kind: str, fragment: str) -> None:
    with pytest.raises(BadInput) as info:
        decode_image(data)
    assert info.value.kind == kind
    assert fragment in info.value.message
    assert info.value.status_code == 400


def test_decode_base64_variants() -> None:
    payload = bytes(range(256)) * 3
    standard = base64.b64encode(payload).decode()
    assert decode_base64(standard) == payload
    assert decode_base64(standard.rstrip("=")) == payload
    assert decode_base64("data:image/png;base64," + standard) == payload
    assert decode_base64(base64.urlsafe_b64encode(payload)) == payload
    assert decode_base64("\n".join(standard[i : i + 76] for i in range(0, len(standard), 76))) == payload


@pytest.mark.parametrize(
    ("text", "kind"), [("not base64 at all!!", "bad_base64"), ("", "empty_image"), ("a", "bad_base64")]
)
def test_decode_base64_errors(text: str, kind: str) -> None:
    with pytest.raises(BadInput) as info:
        decode_base64(text)
    assert info.value.kind == kind


@settings(max_examples=25, deadline=None)
@given(
    width_px=st.integers(1, 700),
    height_px=st.integers(1, 700),
    fmt=st.sampled_from(["JPEG", "PNG"]),
    size_px=st.sampled_from([64, 224, 299]),
)
def test_any_valid_image_gives_a_finite_tensor_of_the_spec_size(
    width_px: int, height_px: int, fmt: str, size_px: int
) -> None:
    tensor, decoded = preprocess(make_image_bytes(width_px, height_px, fmt), InputSpec.for_size(size_px))
    assert tensor.shape == (1, 3, size_px, size_px)
    assert np.isfinite(tensor).all()
    assert (decoded.width_px, decoded.height_px) == (width_px, height_px)


@pytest.mark.parametrize("size", [(16_385, 8), (8, 16_385), (7_100, 7_100)])
def test_jpeg_past_the_side_or_pixel_limit_is_413_image_too_large(size: tuple[int, int]) -> None:
    data = _encode(Image.new("L", size), "JPEG")
    with pytest.raises(PayloadTooLarge) as info:
        decode_image(data)
    assert (info.value.kind, info.value.status_code) == ("image_too_large", 413)
    assert f"{size[0]}x{size[1]}" in info.value.message
