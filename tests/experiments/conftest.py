"""Fixtures of the experiments tests (helpers in experiments_helpers.py)."""

from experiments_helpers import reaper

__all__ = ["reaper"]
