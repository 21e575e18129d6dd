"""A runs folder that cannot take a run dir (read-only, or not a folder) is a clear error naming it and the
option to change it (exit 3), from every command that makes run dirs; nothing is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.__main__ import main as experiments_main
from locustfiles.__main__ import main as load_main
from replay.__main__ import main as replay_main


@pytest.fixture
def not_a_folder(tmp_path: Path) -> Path:
    path = tmp_path / "runs"
    path.write_text("a file where the runs folder should be\n")
    return path


def test_experiments_load_and_replay_name_the_runs_folder(not_a_folder: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    commands = [
        lambda: experiments_main(["run", "demo", "--runs", str(not_a_folder), "--no-report"]),
        lambda: load_main(["--target", "local-server", "--runs", str(not_a_folder), "--no-report"]),
        lambda: replay_main(["traces/fifa98.csv", "--runs", str(not_a_folder), "--no-report"]),
    ]
    for command in commands:
        assert command() == 3
        err = capsys.readouterr().err
        assert f"{not_a_folder}: cannot make a run dir there" in err and "--runs" in err
        assert "Traceback" not in err
