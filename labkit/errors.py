"""The project's small exception hierarchy; each kind maps to one process exit code.

CLIs catch `LabError` in their `__main__` and exit with `exc.exit_code`, printing the message
(which always says what was wrong and what was expected) to stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


class LabError(Exception):
    """Base of every error the toolkit raises on purpose."""

    exit_code = 1


class ConfigError(LabError):
    """A config file or option is missing or invalid (file, key and what was expected are named)."""

    exit_code = 2


class InputError(LabError):
    """An input file (records, trace, run dir, image) is malformed: file, line or offset are named."""

    exit_code = 3


class TargetError(LabError):
    """A target could not be reached or started (local cloud, AWS endpoint)."""

    exit_code = 4


class SlaBreach(LabError):
    """An SLA was breached: not a failure of the tool, a verdict on the system under test."""

    exit_code = 10


class Interrupted(LabError):
    """The user interrupted a run (Ctrl-C); what was recorded so far is kept."""

    exit_code = 130


def exit_code_of(body: Callable[[], int]) -> int:
    """Run a CLI's body: a LabError prints `error: <message>` to stderr and gives its exit code, Ctrl-C gives
    130 (what every `__main__` of the toolkit does)."""
    try:
        return body()
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return Interrupted.exit_code
