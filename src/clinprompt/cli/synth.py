"""`clinprompt synth KIND OUT_DIR`: write a synthetic BRAT corpus and print its counts.

After the counts it prints how hard the test split is for string memory: per training and test
institution, the share of distinct test mention strings seen among the training notes' (train
and dev) mentions and the dictionary baseline's strict concept F1 (`stats.dictionary_baseline`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.stats import dictionary_baseline, format_baseline
from clinprompt.corpus.tables import CorpusPart, build_tables
from clinprompt.synth.corpora import KINDS, SPLITS, write_synthetic_corpus

COUNTS = ("documents", "entities", "relations", "events", "attributes")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `synth` command."""
    synth = subparsers.add_parser("synth", help="write a seeded synthetic BRAT corpus")
    synth.add_argument("kind", choices=sorted(KINDS), help="drug_ade (n2c2-2018) or sdoh")
    synth.add_argument("out_dir", type=Path, help="folder for SPLIT/INSTITUTION/NAME.txt|.ann")
    synth.add_argument("--seed", type=int, default=0, help="same seed, same files (default 0)")
    for split in SPLITS:
        synth.add_argument(
            f"--{split}",
            type=int,
            metavar="N",
            help=f"{split} documents per institution (default: the kind's default)",
        )
    synth.set_defaults(handler=run_synth)


def run_synth(args: argparse.Namespace) -> int:
    """Write the corpus; print one line of counts per split and institution, then the
    dictionary baseline (when there are training and test notes)."""
    documents = {s: n for s in SPLITS if (n := getattr(args, s)) is not None}
    summary = write_synthetic_corpus(args.kind, args.out_dir, args.seed, documents)
    print("\t".join(("split", "institution", *COUNTS)))
    for part in summary["parts"]:
        print("\t".join([part["split"], part["institution"], *(str(part[c]) for c in COUNTS)]))
    parts = [
        CorpusPart(
            part["split"], part["institution"], args.out_dir / part["split"] / part["institution"]
        )
        for part in summary["parts"]
    ]
    if parts:
        tables, _ = build_tables(parts, load_schema(summary["schema"]))
        baseline = dictionary_baseline(tables, training_splits=("train", "dev"))
        if not baseline.empty:
            print("\n" + format_baseline(baseline))
    return 0
