"""bench/tools.sh (`make bench-tools`): says nothing when the benches' tools are there, names what is missing and
exits 0 when it may not install (the benches fall back and say so). The install itself (apt-get as root) is not run
from the tests: it changes the machine."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "tools.sh"


def _run(*tools: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOADLAB_NO_INSTALL": "1"}
    argv = ["bash", str(SCRIPT), *tools]
    return subprocess.run(argv, check=False, capture_output=True, text=True, env=env, timeout=30)


def test_tools_that_are_there_are_not_mentioned():
    done = _run("bash", "ls")
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""


def test_missing_tools_are_named_with_the_command_that_installs_them():
    done = _run("bash", "loadlab-no-such-tool-a", "loadlab-no-such-tool-b")
    assert done.returncode == 0
    named = done.stdout.split(":", 1)[1].split("(", 1)[0].split()
    assert done.stdout.startswith("bench tools missing:")
    assert named == ["loadlab-no-such-tool-a", "loadlab-no-such-tool-b"]  # bash is there: not named
    assert "apt-get install loadlab-no-such-tool-a loadlab-no-such-tool-b" in done.stdout


def test_make_bench_installs_its_tools_first():
    makefile = (ROOT / "Makefile").read_text()
    bench = next(line for line in makefile.splitlines() if line.startswith("bench:"))
    assert "bench-tools" in bench.split("##")[0]
    assert "bash bench/tools.sh $(BENCH_TOOLS)" in makefile
