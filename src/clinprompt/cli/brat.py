"""`clinprompt brat validate|stats`: check a BRAT folder, or count what it holds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clinprompt.corpus.brat_parser import iter_ann_files, read_document
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.stats import AnnotationCounts
from clinprompt.corpus.validation import validate_corpus


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `brat` command group."""
    brat = subparsers.add_parser("brat", help="validate or count a BRAT corpus folder")
    commands = brat.add_subparsers(dest="brat_command", required=True, metavar="COMMAND")

    validate = commands.add_parser(
        "validate", help="report every problem as path:line: message; exit 2 on errors"
    )
    validate.add_argument("folder", type=Path, help="folder of .txt/.ann pairs")
    validate.add_argument("--schema", help="dataset schema name or YAML path")
    validate.add_argument(
        "--trust-offsets",
        action="store_true",
        help="a text field that differs from the text at its offsets is a warning, not an error",
    )
    validate.set_defaults(handler=run_validate)

    stats = commands.add_parser("stats", help="documents and annotations per type")
    stats.add_argument("folder", type=Path, help="folder of .txt/.ann pairs")
    stats.set_defaults(handler=run_stats)


def run_validate(args: argparse.Namespace) -> int:
    """Print every problem to stderr; exit 2 when any is an error."""
    schema = load_schema(args.schema) if args.schema else None
    problems = validate_corpus(args.folder, schema, args.trust_offsets)
    for problem in problems:
        print(problem, file=sys.stderr)
    errors = sum(p.severity == "error" for p in problems)
    documents = len(iter_ann_files(args.folder))
    print(f"checked {documents} documents: {errors} errors, {len(problems) - errors} warnings")
    return 2 if errors else 0


def run_stats(args: argparse.Namespace) -> int:
    """Print counts per annotation type; unreadable documents are counted and named."""
    counts = AnnotationCounts()
    for ann_path in iter_ann_files(args.folder):
        doc, problems = read_document(ann_path, trust_offsets=True)
        if doc is None:
            print(f"{problems[0]} (document not counted)", file=sys.stderr)
            continue
        counts.add(doc)
    print(counts.format())
    return 0
