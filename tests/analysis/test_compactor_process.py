"""`python -m analysis.compactor RECORDS_DIR`: the compactor in a process of its own (the Locust web UI's runs)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from analysis_helpers import mixed_records, write_run

from analysis import colcache
from analysis.frame import load_frame

REPO = Path(__file__).resolve().parents[2]


def _compactor(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "analysis.compactor", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def test_the_process_compacts_a_run_s_records_until_sigterm(tmp_path: Path) -> None:
    run = write_run(tmp_path, mixed_records(300))
    [path] = run.record_files()
    proc = _compactor(str(run.records_dir), "--interval-s", "0.05", "--min-bytes", "1", "--max-age-s", "0")
    try:
        deadline = time.monotonic() + 60.0
        while not colcache.segments(path) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert colcache.segments(path), proc.stderr.read() if proc.poll() is not None else "no segment in 60 s"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert f"compactor of {run.records_dir}: segments written: 1" in out
    assert load_frame([path])["request_id"].tolist() == [r.request_id for r in mixed_records(300)]


def test_a_records_dir_that_is_not_one_is_a_usage_error(tmp_path: Path) -> None:
    proc = _compactor(str(tmp_path / "nowhere"))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "nowhere: not a directory (a run's records/ dir)" in err
