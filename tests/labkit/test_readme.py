"""The README is the user's manual: its record schema and commands must match the code."""

import re
from pathlib import Path

from labkit.records import FIELD_NAMES

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_readme_starts_with_the_two_commands():
    first_block = README.split("```", 2)[1]
    assert "make demo" in first_block and "make test" in first_block


def test_every_record_field_is_documented():
    section = README.split("## Record schema", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([a-z_0-9]+)`", section))
    assert set(FIELD_NAMES) - documented == set()


def test_every_make_command_in_the_readme_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", makefile, flags=re.MULTILINE))
    mentioned = set(re.findall(r"`make ([a-z-]+)", README))
    assert mentioned and mentioned - targets == set()
