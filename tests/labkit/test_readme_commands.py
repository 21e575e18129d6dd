"""Every command shown in the README's code blocks runs as written: `make` lines expand (make -n) to the
Python commands they stand for; plans and replays run for real in their dry-run form (every schedule built and
checked, nothing sent); the other commands' arguments are accepted by their own parsers."""

from __future__ import annotations

import importlib
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PARSERS = {
    "analysis": ("analysis.__main__", "_parser"),
    "experiments": ("experiments.__main__", "_parser"),
    "localcloud": ("localcloud.__main__", "_parser"),
    "locustfiles": ("locustfiles.__main__", "_parser"),
    "replay": ("replay.__main__", "_parser"),
    "experiments.demo": ("experiments.demo", "_parser"),
    "awslab": ("awslab.parser", "build_parser"),
}
NOT_PYTHON = ("test", "test-all", "lint", "venv", "clean", "help", "bench", "demo")  # make targets run elsewhere


def readme_commands() -> list[str]:
    """Command lines of the README's code blocks (comments cut, continuation lines joined); lines with placeholders
    are examples of form."""
    lines, inside, pending = [], False, ""
    for line in README.splitlines():
        if line.startswith("```"):
            inside, pending = not inside, ""
            continue
        text = pending + line.split("  #", 1)[0].strip()
        if inside and text.endswith("\\"):  # a shell continuation line: the command goes on on the next one
            pending = text[:-1]
            continue
        pending = ""
        if inside and re.match(r"^(make |\.venv/bin/python -m |python -m )", text) and "<" not in text:
            lines.append(text)
    return lines


def _module_args(command: str) -> tuple[str, list[str]]:
    words = shlex.split(command)
    at = words.index("-m")
    return words[at + 1], words[at + 2 :]


def _make_expansion(command: str) -> list[str]:
    """The Python commands a make line runs (make -n: printed, not run)."""
    words = shlex.split(command)
    out = subprocess.run(["make", "-n", *words[1:]], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, f"{command}: make -n failed: {out.stderr}"
    joined = out.stdout.replace("\\\n", " ")  # make's continuation lines
    ours = [line for line in joined.splitlines() if " -m " in line]
    return [line for line in ours if _module_args(line.replace("$(PY)", "python"))[0] in PARSERS]


def _check_python(command: str) -> None:
    module, args = _module_args(command)
    if module == "experiments" and args[:1] == ["run"]:
        from experiments.__main__ import main

        assert main([*args, "--dry-run"]) == 0, command
    elif module == "replay" and "--resume" not in args:
        from replay.__main__ import main

        assert main([*args, "--dry-run"]) == 0, command
    else:
        name, factory = PARSERS[module]
        parser = getattr(importlib.import_module(name), factory)()
        try:
            parser.parse_args(args)
        except SystemExit as exc:
            pytest.fail(f"{command}: the parser refused it (exit {exc.code})")


COMMANDS = readme_commands()


def test_the_readme_shows_commands() -> None:
    assert len(COMMANDS) >= 10


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs_as_written(command: str) -> None:
    if command.startswith("make "):
        target = shlex.split(command)[1]
        expanded = _make_expansion(command)
        if target in NOT_PYTHON:
            return
        assert expanded, f"{command}: expands to no python -m command"
        for line in expanded:
            _check_python(line.replace("$(PY)", "python").strip())
    else:
        _check_python(command)
