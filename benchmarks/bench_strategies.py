"""The four strategies side by side on the synthetic drug-ADE corpus, next to a dictionary.

Trains and tests one cell per strategy (shots all, seed 1) with the embedded default's
training settings, and the dictionary baseline on the same split; prints a Markdown table of
strict and lenient micro F1 (concepts, end-to-end relations), training time and trainable
share, and writes it to `docs/strategies.md` (with `--out`). `--quick` runs a tiny random
model on a few notes for one epoch, to prove the script works.
"""

from __future__ import annotations

import argparse
import copy
import platform
import sys
import time
from datetime import date
from pathlib import Path

import torch
import yaml

from clinprompt.baseline import dictionary_predictions, mention_dictionary
from clinprompt.cell import Cell, cell_setup, predict_cell, score_predictions, train_cell
from clinprompt.corpus import CorpusPart, CorpusTables, table_documents, write_corpus_tables
from clinprompt.schema import load_schema
from clinprompt.synth import write_synthetic_corpus

REPO = Path(__file__).resolve().parents[1]
STRATEGIES = {"finetune": 0, "hard": 0, "soft": 8, "soft-frozen": 8}


def corpus(work: Path, config: dict, documents: dict) -> Path:
    settings = config["datasets"]["drug_ade"]["synthetic"]
    write_synthetic_corpus("drug_ade", work / "brat", seed=settings["seed"], documents=documents)
    parts = [CorpusPart(s, "MIMIC", work / "brat" / s / "MIMIC") for s in ("train", "test")]
    write_corpus_tables(parts, load_schema("n2c2-2018"), work / "tables",
                        dev_fraction=config["corpus"]["dev_fraction"],
                        dev_seed=config["corpus"]["dev_seed"])  # fmt: skip
    return work / "tables"


def f1s(report: dict) -> list[float]:
    return [report[t][m]["micro"]["f1"] for t in ("entities", "relations")
            for m in ("strict", "lenient")]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks/out/strategies")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--train-docs", type=int, default=40)
    parser.add_argument("--test-docs", type=int, default=20)
    parser.add_argument("--epochs", type=int, help="override the config's training epochs")
    args = parser.parse_args()
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config.setdefault("corpus", {"dev_fraction": 0.15, "dev_seed": 13})
    model, documents = "minilm", {"train": args.train_docs, "test": args.test_docs}
    if args.epochs:
        config["training"] = {**config.get("training", {}), "epochs": args.epochs}
    if args.quick:
        model, documents = "tiny-bert", {"train": 4, "test": 2}
        config = copy.deepcopy(config)
        config["training"] = {**config.get("training", {}), "epochs": 1, "max_length": 96,
                              "match_hidden": 32, "bootstrap": 10}  # fmt: skip
    tables_dir = corpus(args.work, config, documents)
    schema = load_schema("n2c2-2018")
    tables = CorpusTables.read(tables_dir)
    test = tables.documents[tables.documents["split"] == "test"]
    train = tables.entities[tables.entities["split"] == "train"]
    started = time.perf_counter()
    predicted = dictionary_predictions(mention_dictionary(train, schema.concept_types), test)
    baseline = score_predictions(table_documents(tables, list(test["document"])), predicted, schema)
    rows = [("dictionary", f1s(baseline), time.perf_counter() - started, 0.0)]
    for strategy, prompt_length in STRATEGIES.items():
        cell = Cell("drug_ade", model, strategy, prompt_length, "all", "MIMIC", 1)
        spec, settings = cell_setup(config, cell)
        folder = cell.folder(args.work / "results")
        summary = train_cell(cell, tables_dir, "n2c2-2018", spec, settings, folder)
        metrics = folder / "metrics/MIMIC.json"
        report = predict_cell(cell, tables_dir, "n2c2-2018", spec, settings, folder, "MIMIC",
                              folder / "predictions/MIMIC", metrics)  # fmt: skip
        rows.append((strategy, f1s(report), summary["train_seconds"],
                     summary["parameters"]["share"]))  # fmt: skip
        print(f"{strategy}: {f1s(report)}", file=sys.stderr, flush=True)
    table = [
        f"# Strategies on the synthetic drug-ADE corpus ({model})", "",
        f"{date.today()}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}; "
        f"{int((tables.documents['split'] == 'train').sum())} train / "
        f"{int((tables.documents['split'] == 'dev').sum())} dev / {len(test)} test notes, "
        f"shots all, seed 1, training settings of config/config.yaml.", "",
        "| strategy | concepts strict F1 | concepts lenient F1 | relations strict F1 "
        "| relations lenient F1 | train s | trainable share |",
        "|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for name, scores, seconds, share in rows:
        cells = " | ".join(f"{s:.4f}" for s in scores)
        table.append(f"| {name} | {cells} | {seconds:.0f} | {share:.3%} |")
    text = "\n".join(table) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
