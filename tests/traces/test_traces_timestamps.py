"""Plain arrival-timestamp files."""

from __future__ import annotations

import numpy as np
import pytest

from labkit.errors import InputError
from traces.timestamps import load_timestamps


def test_plain_and_header(write_text) -> None:
    assert load_timestamps(write_text("a.txt", "0.5\n1\n1\n2.25\n")).times_s.tolist() == [0.5, 1, 1, 2.25]
    stamps = load_timestamps(write_text("b.csv", "# arrivals\ntimestamp\n893971817.0\n893971818.5\n"))
    assert len(stamps) == 2
    assert stamps.to_counts(1).counts.tolist() == [1, 1]


def test_unsorted_names_line_unless_sort(write_text) -> None:
    path = write_text("u.txt", "t\n1\n3\n2\n")
    with pytest.raises(InputError, match=r"u\.txt:4: time 2 is earlier"):
        load_timestamps(path)
    assert np.array_equal(load_timestamps(path, sort=True).times_s, [1, 2, 3])


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1\nabc\n", ":2: 'abc' is not a time"),
        ("1\ninf\n", ":2: time 'inf' is not finite"),
        ("t,u\n1\n", ":1: expected one time"),
    ],
)
def test_malformed(write_text, text: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        load_timestamps(write_text("m.txt", text))


@pytest.mark.parametrize("text", ["", "timestamp\n"])
def test_empty(write_text, text: str) -> None:
    with pytest.raises(InputError, match="empty file"):
        load_timestamps(write_text("e.txt", text))
