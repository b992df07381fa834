"""`clinprompt corpus`: build the Parquet corpus tables from BRAT folders."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import CorpusPart, build_tables
from clinprompt.corpus.validation import ON_INVALID
from clinprompt.errors import ConfigError


def parse_part(spec: str) -> CorpusPart:
    """`SPLIT:INSTITUTION:PATH` as a corpus part."""
    parts = spec.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise ConfigError(f"--part '{spec}': expected SPLIT:INSTITUTION:PATH")
    return CorpusPart(parts[0], parts[1], Path(parts[2]))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `corpus` command."""
    corpus = subparsers.add_parser("corpus", help="build Parquet corpus tables from BRAT folders")
    corpus.add_argument("out", type=Path, help="folder for the <kind>.parquet tables")
    corpus.add_argument("--schema", required=True, help="dataset schema name or YAML path")
    corpus.add_argument(
        "--part",
        action="append",
        required=True,
        metavar="SPLIT:INSTITUTION:PATH",
        help="a BRAT folder with its split (train/dev/test) and institution; repeat",
    )
    corpus.add_argument("--dev-fraction", type=float, default=0.1)
    corpus.add_argument("--dev-seed", type=int, default=0)
    corpus.add_argument("--skip-invalid", action="store_true")
    corpus.add_argument("--trust-offsets", action="store_true")
    corpus.add_argument(
        "--on-invalid",
        choices=ON_INVALID,
        default="stop",
        help="drop_annotation: keep documents, drop only their invalid lines (counted)",
    )
    corpus.set_defaults(handler=run_corpus)


def run_corpus(args: argparse.Namespace) -> int:
    """Build and write the tables; print the summary (counts only) as JSON."""
    tables, summary = build_tables(
        [parse_part(p) for p in args.part],
        load_schema(args.schema),
        args.dev_fraction,
        args.dev_seed,
        args.skip_invalid,
        args.trust_offsets,
        args.on_invalid,
    )
    tables.write(args.out)
    print(json.dumps(summary, indent=1))
    return 0
