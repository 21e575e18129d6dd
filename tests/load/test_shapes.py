import numpy as np
import pytest

from labkit.errors import ConfigError
from locustfiles.shapes import constant, make_shape, ramp


def test_constant_rate_is_evenly_paced():
    offsets = constant(5.0, 10.0).arrival_offsets_s()
    assert len(offsets) == 50
    assert np.allclose(np.diff(offsets), 0.2, atol=0.011)
    assert 0 < offsets[0] < 0.2 and offsets[-1] <= 10.0


def test_ramp_holds_its_area_and_accelerates():
    offsets = ramp(100.0, 60.0).arrival_offsets_s()
    assert len(offsets) == 3000  # area of 0 -> 100 rps over 60 s
    per_10s = np.histogram(offsets, bins=np.arange(0, 61, 10))[0]
    expected = [100 * ((b + 10) ** 2 - b**2) / 120 for b in range(0, 60, 10)]
    assert np.allclose(per_10s, expected, atol=2)
    assert np.all(np.diff(offsets) > 0)


def test_bad_shapes_are_config_errors():
    with pytest.raises(ConfigError, match="rate_rps must be > 0"):
        constant(0, 10)
    with pytest.raises(ConfigError, match="unknown shape 'sine'"):
        make_shape("sine", 1, 1)
