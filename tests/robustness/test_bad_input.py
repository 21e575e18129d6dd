"""Hostile or absurd input gives a clear error (file and line, or the option to change), never a traceback,
and nothing huge is allocated before the sizes are checked.

The CLIs are called in-process. Every replay call names an S3 endpoint on 127.0.0.1:9 (nothing listens
there), so a schedule that is wrongly accepted fails fast on loopback instead of starting the local cloud.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labkit.errors import ConfigError, InputError
from locustfiles.__main__ import main as load_main
from replay.__main__ import main as replay_main
from traces import build_schedule, load_trace, to_unix_s
from traces.azure import HEADER, load_azure_counts
from traces.series import CountSeries

pytestmark = pytest.mark.timeout(60)
HUGE = "99999999999999999999999"
FIFA98 = str(Path(__file__).resolve().parents[2] / "traces" / "fifa98.csv")
NOWHERE = ["--s3-endpoint", "http://127.0.0.1:9", "--bucket", "b"]


@pytest.fixture
def no_huge_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    """np.linspace and np.arange refuse more than 10^8 elements: a schedule must be sized before it is made."""
    real_linspace, real_arange = np.linspace, np.arange

    def linspace(start: Any, stop: Any, num: int = 50, *args: Any, **kwargs: Any) -> np.ndarray:
        assert num <= 10**8, f"np.linspace of {num:.3g} points: allocated before checking the size"
        return real_linspace(start, stop, num, *args, **kwargs)

    def arange(*args: Any, **kwargs: Any) -> np.ndarray:
        span = args[0] if len(args) == 1 else (args[1] - args[0]) / (args[2] if len(args) > 2 else 1)
        assert abs(float(span)) <= 10**8, f"np.arange of {float(span):.3g} items: allocated before checking"
        return real_arange(*args, **kwargs)

    monkeypatch.setattr(np, "linspace", linspace)
    monkeypatch.setattr(np, "arange", arange)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _replay(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        code = replay_main(list(argv))
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (f"minute_utc,requests\n1998-06-30 00:00:00,{HUGE}\n1998-06-30 00:01:00,5\n", f"count '{HUGE}' is above"),
        (f"time,count\n{HUGE},5\n{HUGE}1,6\n", f"time '{HUGE}' is after 9999-12-30"),
        ("time,count\n1e300,5\n2e300,6\n", "time '1e300' is after 9999-12-30"),
        ("time,count\n-1e300,5\n0,6\n", "time '-1e300' is before 0001-01-02"),
        ("minute_utc,requests\n9999-12-31 23:58:00,5\n9999-12-31 23:59:00,5\n", "'9999-12-31 23:58:00' is after"),
        ("time,count\n1,5\n2," + "9" * 5000 + "\n", "is not an integer"),
    ],
    ids=["huge-count", "huge-time", "1e300-time", "-1e300-time", "year-9999", "5000-digit-count"],
)
def test_absurd_numbers_in_a_count_csv_name_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, fragment: str
) -> None:
    path = _write(tmp_path, "t.csv", text)
    with pytest.raises(InputError, match=r"t\.csv:\d: ") as caught:
        load_trace(path)
    assert fragment in str(caught.value)
    code, err = _replay(capsys, str(path), "--window", "all", "--runs", str(tmp_path / "runs"), *NOWHERE)
    assert code == 3 and fragment in err and err.startswith("error: ")
    assert not (tmp_path / "runs").exists()


def test_absurd_times_in_an_arrival_time_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "arrivals.txt", "timestamp\n1\n2\n1e300\n")
    with pytest.raises(InputError, match=r"arrivals\.txt:4: time '1e300' is after 9999-12-30"):
        load_trace(path)


def test_absurd_azure_counts_and_days(tmp_path: Path) -> None:
    row = ["o", "a", "f", "http", HUGE, *(["1"] * 1439)]
    path = _write(tmp_path, "invocations_per_function_md.anon.d01.csv", f"{','.join(HEADER)}\n{','.join(row)}\n")
    with pytest.raises(InputError, match=f":2: minute 1: '{HUGE}' is not an integer from 0 to"):
        load_azure_counts(path)
    row[4] = "1"
    path.write_text(f"{','.join(HEADER)}\n{','.join(row)}\n")
    with pytest.raises(ConfigError, match="day=10000000000000: the trace's day is after 9999-12-30"):
        load_azure_counts(path, day=10**13)


def test_windows_and_series_that_overflow() -> None:
    for text in ("nan", "inf", "-inf"):
        with pytest.raises(ConfigError, match="not a finite time"):
            to_unix_s(text)
    with pytest.raises(ConfigError, match="add up to more than"):
        CountSeries(np.array([0, 60]), np.array([2**62, 2**62]), 60, "s")


@pytest.mark.usefixtures("no_huge_arrays")
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--speedup", "5e-324"], "--speedup 4.94066e-324 squeezes or stretches"),
        (["--speedup", "1e-300", "--peak-rps", "1e300"], "--peak-rps 1e+300 is out of range"),
        (["--speedup", "1", "--peak-rps", "1e308"], "more than --max-uploads 100000"),
        (["--speedup", "1e-300"], "raise --speedup, or raise --max-uploads"),
        (["--max-uploads", str(10**30)], "--max-uploads 1000000000000000000000000000000: give 1 to 100,000,000"),
        (["--window", "nan,inf"], "--window nan,inf: not a finite time"),
        (["--speedup", "inf"], "--speedup must be a finite number > 0, got inf"),
    ],
    ids=["tiny-speedup", "infinite-scale", "peak-1e308", "speedup-1e-300", "max-uploads-1e30", "nan-window", "inf"],
)
def test_replay_refuses_absurd_schedules_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    code, err = _replay(capsys, FIFA98, "--runs", str(tmp_path / "runs"), *NOWHERE, *args)
    assert code == 2, err
    assert fragment in err
    assert "max_count" not in err


def test_schedule_messages_name_what_the_caller_types() -> None:
    day = load_trace(FIFA98)
    with pytest.raises(ConfigError, match="max_count=10,000,000; narrow the window"):
        build_schedule(day)  # library callers keep the keyword names


def test_count_csv_bin_size_hint_names_the_header_to_add(tmp_path: Path) -> None:
    path = _write(tmp_path, "one.csv", "time,count\n1998-06-30 00:00:00,5\n")
    with pytest.raises(InputError, match="first line 'minute_utc,requests'"):
        load_trace(path)


@pytest.mark.usefixtures("no_huge_arrays")
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--duration-s", "1e12"], "--duration-s 1e+12 is too long for one schedule"),
        (["--duration-s", "1e12", "--shape", "constant"], "--duration-s 1e+12 is too long"),
        (["--duration-s", "1e12", "--shape", "steps"], "--duration-s 1e+12 is too long"),
        (["--duration-s", "1e12", "--shape", "spike"], "--duration-s 1e+12 is too long"),
        (["--duration-s", "1e12", "--shape", "trace"], "--peak-rps 100 over --duration-s 1e+12"),
        (["--duration-s", "3000", "--rate-rps", "1e300"], "--peak-rps 1e+300 over --duration-s 3000"),
    ],
    ids=["ramp", "constant", "steps", "spike", "trace", "rate-1e300"],
)
def test_load_sizes_the_schedule_before_making_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    caps = ["--max-duration-s", "1e13", "--max-rate-rps", "1e308"]  # past the safety caps, to the size guard
    code = load_main(["--target", "local", "--runs", str(tmp_path / "runs"), *caps, *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert fragment in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()
