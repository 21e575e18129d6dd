import numpy as np
import pytest

from labkit.errors import ConfigError
from locustfiles.shapes import (
    DEFAULT_TRACE,
    ShapeSpec,
    build_shape,
    constant,
    make_shape,
    partition,
    ramp,
    spike,
    steps,
)


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


def test_default_shape_is_the_published_ramp():
    shape = build_shape(ShapeSpec())
    assert (shape.name, shape.duration_s, shape.peak_rps) == ("ramp", 60.0, 100.0)
    assert shape.target_rate_rps(30.0) == pytest.approx(50.0)


def test_steps_climb_in_equal_plateaus():
    shape = steps(50.0, 20.0, step_count=4)
    per_plateau = np.histogram(shape.arrival_offsets_s(), bins=[0, 5, 10, 15, 20])[0]
    assert np.allclose(per_plateau, [62.5, 125, 187.5, 250], atol=1.5)
    assert shape.target_rate_rps(19.9) == 50.0 and shape.peak_rps == 50.0


def test_spike_is_base_rate_with_one_burst():
    shape = spike(100.0, 30.0, base_rps=5.0, spike_at_s=10.0, spike_s=2.0)
    counts = np.histogram(shape.arrival_offsets_s(), bins=[0, 10, 12, 30])[0]
    assert np.allclose(counts, [50, 200, 90], atol=1.5)
    defaults = build_shape(ShapeSpec(name="spike", rate_rps=100.0, duration_s=30.0))
    assert defaults.target_rate_rps(1.0) == 10.0 and defaults.target_rate_rps(16.0) == 100.0


def test_trace_is_compressed_into_the_duration_and_scaled_to_the_peak():
    spec = ShapeSpec(name="trace", rate_rps=40.0, duration_s=30.0, trace_path=str(DEFAULT_TRACE),
                     trace_start="1998-06-30 12:00:00", trace_end="1998-06-30 13:00:00")  # fmt: skip
    shape = build_shape(spec)
    offsets = shape.arrival_offsets_s()
    assert shape.duration_s == pytest.approx(30.0)
    assert shape.peak_rps == pytest.approx(40.0)
    assert offsets[0] >= 0 and offsets[-1] < 30.0 and np.all(np.diff(offsets) >= 0)
    assert 0.3 * 40 * 30 < len(offsets) <= 40 * 30  # the busiest minute sets the peak: the mean is below it
    again = build_shape(spec).arrival_offsets_s()
    assert np.array_equal(offsets, again)  # deterministic: every process derives the same schedule


def test_poisson_trace_is_the_same_in_every_process_for_a_seed():
    spec = ShapeSpec(name="trace", rate_rps=20.0, duration_s=10.0, trace_process="poisson", seed=7)
    assert np.array_equal(build_shape(spec).arrival_offsets_s(), build_shape(spec).arrival_offsets_s())


def test_partition_takes_every_arrival_exactly_once():
    offsets = ramp(30.0, 10.0).arrival_offsets_s()
    parts = [partition(offsets, i, 3) for i in range(3)]
    assert sum(len(p) for p in parts) == len(offsets)
    assert np.array_equal(np.sort(np.concatenate(parts)), offsets)
    with pytest.raises(ConfigError, match="process index 3"):
        partition(offsets, 3, 3)


def test_bad_shapes_are_config_errors():
    with pytest.raises(ConfigError, match="rate_rps must be > 0"):
        constant(0, 10)
    with pytest.raises(ConfigError, match="unknown shape 'sine'"):
        make_shape("sine", 1, 1)
    with pytest.raises(ConfigError, match="step_count must be > 0"):
        steps(10, 10, step_count=0)
    with pytest.raises(ConfigError, match="base_rps must be within"):
        spike(10, 10, base_rps=20, spike_at_s=1, spike_s=1)
    with pytest.raises(ConfigError, match="spike_at_s must be within"):
        spike(10, 10, base_rps=1, spike_at_s=11, spike_s=1)
    with pytest.raises(ConfigError, match="no data"):
        build_shape(ShapeSpec(name="trace", trace_start="2001-01-01", trace_end="2001-01-02"))
