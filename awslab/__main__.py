"""python -m awslab COMMAND ... (see --help): deploy, destroy, endpoints, experiments, collect."""

from __future__ import annotations

import sys

from awslab.cli import main_with
from awslab.parser import build_parser


def main(argv: list[str] | None = None) -> int:
    return main_with(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
