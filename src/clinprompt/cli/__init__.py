"""The `clinprompt` command line: one sub-module per command group.

Each sub-module exposes `register(subparsers)`, adding its commands with a `handler`
default that takes the parsed arguments and returns an exit status. User errors
(`ClinpromptError`) become one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from clinprompt.cli import aggregate as aggregate_commands
from clinprompt.cli import brat as brat_commands
from clinprompt.cli import cell as cell_commands
from clinprompt.cli import corpus as corpus_commands
from clinprompt.cli import score as score_commands
from clinprompt.cli import synth as synth_commands
from clinprompt.errors import ClinpromptError

COMMAND_GROUPS = (
    brat_commands,
    synth_commands,
    corpus_commands,
    score_commands,
    cell_commands,
    aggregate_commands,
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every command group registered."""
    parser = argparse.ArgumentParser(
        prog="clinprompt",
        description="Clinical concept and relation extraction: model tuning vs prompt tuning.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug-level logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit status (2 for user errors)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args) or 0)
    except ClinpromptError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
