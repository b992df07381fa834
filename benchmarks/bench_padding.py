"""Padding waste of length-bucketed batches on the synthetic corpora's MRC training rows.

Writes the embedded synthetic corpora (`clinprompt.synth.corpora`, default sizes), reads them into
corpus tables, builds the `hard` and `soft` example tables at `max_length` tokens (negatives
down-sampled 1:1, as `config/paper.yaml` trains) with the bundled MiniLM tokenizer, keeps the
training rows and measures, for several batch sizes, the padded positions per real token of
`clinprompt.train.batching.bucketed_batches` (dynamic padding) against padding every row to
`max_length` (the study's code). The row lengths are kept in the result: `bench_train` draws
its realistic MRC length mix from them, on machines without the tokenizer package too.

    python benchmarks/bench_padding.py [--tiny] [--out benchmarks/measured/padding.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from render_docs import RESULTS, environment, table, write_result

from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import CorpusPart, build_tables
from clinprompt.examples.settings import ExampleSettings
from clinprompt.examples.tables import build_examples
from clinprompt.model.checkpoint import bundled_tokenizer_folder, load_tokenizer
from clinprompt.synth.corpora import KINDS, planned_parts, write_synthetic_corpus
from clinprompt.train.batching import POOL_BATCHES, bucketed_batches, padding_waste

STRATEGIES = ("hard", "soft")
BATCH_SIZES = (8, 16, 32)
SEED = 1
TINY_DOCUMENTS = {"train": 3, "test": 0}


def training_rows(
    kind: str, documents: dict[str, int] | None, strategy: str, max_length: int, tokenizer
) -> pd.DataFrame:
    """The MRC training rows of a synthetic corpus kind (sizes as `planned_parts` takes)."""
    schema = load_schema(KINDS[kind].schema)
    with tempfile.TemporaryDirectory() as work:
        write_synthetic_corpus(kind, Path(work), seed=0, documents=documents)
        parts = [
            CorpusPart(split, institution, Path(work, split, institution))
            for split, institution, _ in planned_parts(kind, documents)
        ]
        tables, _ = build_tables(parts, schema, dev_fraction=0.15, dev_seed=13)
    settings = ExampleSettings(
        strategy, max_length=max_length, stride=max_length // 4, negative_ratio=1.0, seed=SEED
    )
    frame = build_examples(tables, schema, tokenizer, settings).frame
    return frame[frame["split"] == "train"].reset_index(drop=True)


def waste(frame: pd.DataFrame, batch_size: int, max_length: int) -> dict[str, float]:
    """Padded positions per real token: bucketed dynamic padding vs padding to `max_length`."""
    real = int(frame["input_ids"].map(len).sum())
    batches = bucketed_batches(frame, batch_size, SEED)
    return {
        "batch_size": batch_size,
        "bucketed": padding_waste(frame, batches),
        "pad_to_max": (max_length * len(frame) - real) / real,
    }


def measure_padding(
    documents: dict[str, int] | None, max_length: int, batch_sizes: tuple[int, ...] = BATCH_SIZES
) -> dict:
    """Per corpus kind and strategy: row lengths and padding waste per batch size."""
    tokenizer = load_tokenizer(bundled_tokenizer_folder())
    corpora = {}
    for kind in KINDS:
        for strategy in STRATEGIES:
            frame = training_rows(kind, documents, strategy, max_length, tokenizer)
            corpora[f"{kind}/{strategy}"] = {
                "kind": kind,
                "strategy": strategy,
                "lengths": [int(n) for n in frame["input_ids"].map(len)],
                "waste": [waste(frame, b, max_length) for b in batch_sizes],
            }
    return {"max_length": max_length, "documents": documents, "corpora": corpora}


def worst_bucketed_waste(padding: dict, batch_size: int) -> float:
    """The largest bucketed waste at `batch_size` over the corpora and strategies."""
    return max(
        w["bucketed"]
        for c in padding["corpora"].values()
        for w in c["waste"]
        if w["batch_size"] == batch_size
    )


def padding_table(padding: dict) -> dict:
    """Markdown rows: corpus, strategy, rows, length quartiles, waste per batch size."""
    rows = []
    for corpus in padding["corpora"].values():
        lengths = np.asarray(corpus["lengths"])
        quartiles = "/".join(str(int(q)) for q in np.percentile(lengths, [25, 50, 75]))
        for w in corpus["waste"]:
            rows.append(
                [
                    corpus["kind"],
                    corpus["strategy"],
                    str(len(lengths)),
                    quartiles,
                    str(w["batch_size"]),
                    f"{w['bucketed']:.1%}",
                    f"{w['pad_to_max']:.1%}",
                ]
            )
    return table(
        f"Padding waste (padded / real tokens), training rows at max_length "
        f"{padding['max_length']}",
        [
            "corpus",
            "strategy",
            "rows",
            "length q25/q50/q75",
            "batch",
            "bucketed (project)",
            f"pad to {padding['max_length']} (study)",
        ],
        rows,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="3 training notes, max_length 128")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--out", type=Path, default=RESULTS / "padding.json")
    args = parser.parse_args()
    documents, max_length = (TINY_DOCUMENTS, 128) if args.tiny else (None, args.max_length)
    padding = measure_padding(documents, max_length)
    spec = padding_table(padding)
    sizes = "; ".join(
        f"{kind} {split}/{institution} {count}"
        for kind in KINDS
        for split, institution, count in planned_parts(kind, documents)
    )
    notes = [
        f"Notes per corpus part: {sizes}; dev carved from train (15%), negatives down-sampled "
        "1:1; MiniLM WordPiece tokens (GatorTron's own vocabulary counts somewhat differently).",
        f"Bucketed: `clinprompt.train.batching.bucketed_batches` (seed {SEED}, pools of "
        f"{POOL_BATCHES} batches sorted by length), each batch padded to its longest row.",
    ]
    write_result(
        args.out,
        {
            "benchmark": "padding",
            "title": "Padding waste on the synthetic corpora",
            "environment": environment(torch.device("cpu")),
            "notes": notes,
            "tables": [spec],
            "data": padding,
        },
    )
    print("\n".join(" | ".join(row) for row in spec["rows"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
