"""`--processes` is capped at a multiple of the cores (raised only explicitly with --max-processes), and nothing
is started when it is refused (it once forked 564 Locust processes that outlived the CLI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from experiments.plan import DEFAULT_MAX_PROCESSES
from locustfiles.__main__ import main


def test_a_huge_process_count_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--target", "local-server", "--processes", "100000", "--runs", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "100000 Locust processes" in err and f"max_processes {DEFAULT_MAX_PROCESSES}" in err
    assert "--max-processes" in err
    assert list(tmp_path.iterdir()) == []  # no run dir: nothing was started


def test_the_cap_is_a_multiple_of_the_cores_and_has_a_hard_ceiling(tmp_path: Path) -> None:
    assert max(2, 2 * (os.cpu_count() or 1)) == DEFAULT_MAX_PROCESSES
    assert main(["--target", "local-server", "--processes", "300", "--max-processes", "300",
                 "--runs", str(tmp_path)]) == 2  # fmt: skip
