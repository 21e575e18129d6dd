"""Payload images: a folder, generated assorted photo sizes, or `generated:WxH` of one size."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from labkit.errors import InputError
from labkit.images import image_set


def test_generated_size_spec_gives_images_of_that_size() -> None:
    images = image_set("generated:224x160", count=3)
    assert [Image.open(io.BytesIO(i.data)).size for i in images] == [(224, 160)] * 3
    assert image_set("generated:224x160", count=3) == images  # deterministic


@pytest.mark.parametrize("spec", ["generated:big", "generated:10x10", "generated:224x99999"])
def test_bad_generated_size_specs_are_input_errors(spec: str) -> None:
    with pytest.raises(InputError, match="generated"):
        image_set(spec)
