"""The four strategies side by side on both synthetic corpora, next to the dictionary baseline.

For each corpus (drug-ADE: one institution; SDoH: trained at MIMIC, tested in domain at MIMIC
and across institutions at UW) it trains one cell per strategy (shots all, seed 1) with the
embedded default's training settings (`config/config.yaml`, each strategy under its own
budget and early stopping on dev) and scores the test notes end to end, with 95% bootstrap
intervals; the dictionary baseline is built from the same training notes. It writes a
Markdown table (concepts and end-to-end relations, strict and lenient, optimiser steps,
training time, trainable share) and the study's targets checked against it to `--out`
(`docs/strategies-measured.md`), and the learning curves (dev F1 against optimiser steps) to
`--figure`. `--quick` runs a tiny random model on a few notes for one epoch, to prove the
script works; `--drug`/`--sdoh` set corpus sizes (`TRAIN/TEST` notes, per institution);
`--training` and `--dataset-training` override training settings (for all corpora, per corpus);
`--jobs` cells train side by side, each on its share of the threads.
"""

from __future__ import annotations

import argparse
import copy
import platform
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from multiprocessing import get_context
from pathlib import Path

import torch
import yaml
from matplotlib.figure import Figure

from clinprompt.cell import predict_and_score, train_cell
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import (
    CorpusPart,
    CorpusTables,
    Dataset,
    table_documents,
    write_corpus_tables,
)
from clinprompt.predict.baseline import dictionary_predictions, mention_dictionary
from clinprompt.report.figures import STRATEGY_COLOURS
from clinprompt.score.cell import score_predictions
from clinprompt.score.n2c2 import MicroScore
from clinprompt.settings import cell_setup
from clinprompt.study import Cell
from clinprompt.synth.corpora import KINDS, write_synthetic_corpus

REPO = Path(__file__).resolve().parents[1]
PROMPT_LENGTHS = {"finetune": 0, "hard": 0, "soft": 8, "soft-frozen": 8}
TRAINED_AT = "MIMIC"


def corpus(work: Path, config: dict, dataset: str, sizes: dict) -> Path:
    """Generate the synthetic corpus and its tables under `work`; the tables folder."""
    settings = config["datasets"][dataset]["synthetic"]
    kind = KINDS[settings["kind"]]
    institutions = list(kind.notes)
    brat = work / dataset / "brat"
    write_synthetic_corpus(
        settings["kind"], brat, seed=settings["seed"], documents=sizes, institutions=institutions
    )
    parts = [CorpusPart(s, i, brat / s / i) for s in ("train", "test") for i in institutions]
    tables = work / dataset / "tables"
    write_corpus_tables(
        parts,
        load_schema(kind.schema),
        tables,
        dev_fraction=config["corpus"]["dev_fraction"],
        dev_seed=config["corpus"]["dev_seed"],
    )
    return tables


def scores(report: dict) -> dict:
    """Strict F1 with its interval and lenient F1, for concepts and relations."""
    out = {}
    for target in ("entities", "relations"):
        strict = MicroScore.read(report, target)
        out[target] = (
            strict.f1,
            strict.ci.get("f1"),
            MicroScore.read(report, target, "lenient").f1,
        )
    return out


def dictionary_rows(tables: CorpusTables, schema, institutions, bootstrap: int) -> list[dict]:
    """The dictionary of the training notes of `TRAINED_AT`, scored at every institution."""
    docs, entities = tables.documents, tables.entities
    train = entities[(entities["split"] == "train") & (entities["institution"] == TRAINED_AT)]
    dictionary = mention_dictionary(train, schema.concept_types)
    rows = []
    for institution in institutions:
        test = docs[(docs["split"] == "test") & (docs["institution"] == institution)]
        predicted = dictionary_predictions(dictionary, test)
        gold = table_documents(tables, list(test["document"]))
        report = score_predictions(gold, predicted, schema, bootstrap, 1)
        rows.append(
            {
                "strategy": "dictionary",
                "tested_at": institution,
                **scores(report),
                "steps": 0,
                "train_seconds": 0.0,
                "share": 0.0,
            }
        )
    return rows


def train_and_score(
    cell: Cell,
    tables_dir: Path,
    schema_name: str,
    config: dict,
    work: Path,
    institutions: list[str],
    threads: int,
) -> tuple[dict, dict[str, dict]]:
    """Train `cell` on `threads` threads and score its test notes at every institution;
    (training summary, metrics per institution)."""
    torch.set_num_threads(threads)
    spec, settings = cell_setup(config, cell)
    folder = cell.folder(work / "results")
    data = Dataset.read(tables_dir, schema_name)
    summary = train_cell(cell, data, spec, settings, folder)
    return summary, predict_and_score(cell, data, spec, settings, folder, institutions)


def side_by_side(function: Callable, runs: list[tuple], jobs: int) -> list:
    """`function(*run)` for every run, `jobs` at a time in fresh processes, in `runs` order
    whichever finishes first."""
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        return list(pool.map(function, *zip(*runs, strict=True)))


def strategy_rows(
    dataset: str,
    strategy: str,
    tables_dir: Path,
    schema_name: str,
    config: dict,
    model: str,
    work: Path,
    institutions: list[str],
    threads: int,
) -> tuple[list[dict], list[dict]]:
    """Train one strategy; its rows (one per test institution) and its training history."""
    cell = Cell(dataset, model, strategy, PROMPT_LENGTHS[strategy], "all", TRAINED_AT, 1)
    summary, reports = train_and_score(
        cell, tables_dir, schema_name, config, work, institutions, threads
    )
    steps = summary["history"][-1]["steps"] if summary["history"] else 0
    rows = [
        {
            "dataset": dataset,
            "strategy": strategy,
            "tested_at": institution,
            **scores(report),
            "steps": steps,
            "train_seconds": summary["train_seconds"],
            "share": summary["parameters"]["share"],
        }
        for institution, report in reports.items()
    ]
    print(f"{dataset} {strategy}: {rows}", file=sys.stderr, flush=True)
    return rows, summary["history"]


def f1_text(value: tuple) -> str:
    """`F1 [low, high]` of an (F1, interval or None, ...) tuple."""
    f1, ci, _ = value
    return f"{f1:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def table(rows: list[dict]) -> list[str]:
    lines = [
        "| corpus | tested at | strategy | concepts strict F1 [95% CI] | concepts lenient F1 "
        "| relations strict F1 [95% CI] | relations lenient F1 | steps | train s "
        "| trainable share |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        where = r["tested_at"] + (" (in domain)" if r["tested_at"] == TRAINED_AT else " (cross)")
        lines.append(
            f"| {r['dataset']} | {where} | {r['strategy']} | {f1_text(r['entities'])} | "
            f"{r['entities'][2]:.3f} | {f1_text(r['relations'])} | {r['relations'][2]:.3f} | "
            f"{r['steps']} | {r['train_seconds']:.0f} | {r['share']:.2%} |"
        )
    return lines


def targets(rows: list[dict]) -> list[str]:
    """The issue's targets, in domain, each with its measured margin."""
    lines = []
    for dataset in sorted({r["dataset"] for r in rows}):
        own = {
            r["strategy"]: r
            for r in rows
            if r["dataset"] == dataset and r["tested_at"] == TRAINED_AT
        }
        if "dictionary" not in own:
            continue
        baseline = own["dictionary"]["entities"][0]
        for strategy in ("finetune", "hard", "soft"):
            if strategy in own:
                concepts, relations = own[strategy]["entities"][0], own[strategy]["relations"][0]
                lines.append(
                    f"- {dataset} `{strategy}`: concepts {concepts:.3f} vs dictionary "
                    f"{baseline:.3f} (margin {concepts - baseline:+.3f}, target >= +0.1); "
                    f"relations {relations:.3f} (target >= 0.5)"
                )
        if "soft-frozen" in own:
            frozen = own["soft-frozen"]["entities"][0]
            gap = own["soft"]["entities"][0] - frozen if "soft" in own else float("nan")
            lines.append(
                f"- {dataset} `soft-frozen`: concepts {frozen:.3f} (target >= 0.3); "
                f"gap to `soft` {gap:+.3f}"
            )
    return lines


def learning_curves(histories: dict[str, dict[str, list[dict]]], path: Path) -> None:
    """Dev strict F1 (concepts, relations) against optimiser steps, one row per corpus."""
    fig = Figure(figsize=(9, 3.2 * len(histories)))
    axes = fig.subplots(len(histories), 2, squeeze=False)
    for row, (dataset, by_strategy) in enumerate(histories.items()):
        for col, (key, title) in enumerate(
            (("dev_concepts_f1", "concepts"), ("dev_relations_f1", "relations"))
        ):
            ax = axes[row][col]
            for strategy, history in by_strategy.items():
                steps, f1 = [h["steps"] for h in history], [h.get(key, 0.0) for h in history]
                colour = STRATEGY_COLOURS.get(strategy)
                ax.plot(steps, f1, marker="o", color=colour, label=strategy)
            ax.set(
                title=f"{dataset}: dev {title}",
                xlabel="optimiser steps",
                ylabel="strict F1",
                ylim=(0, 1),
            )
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def sizes(text: str) -> dict[str, int]:
    train, test = (int(n) for n in text.split("/"))
    return {"train": train, "test": test}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks/out/strategies")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--figure", type=Path)
    parser.add_argument("--datasets", default="drug_ade,sdoh")
    parser.add_argument("--strategies", default=",".join(PROMPT_LENGTHS))
    parser.add_argument("--drug", type=sizes, default=sizes("40/20"))
    parser.add_argument("--sdoh", type=sizes, default=sizes("30/15"))
    parser.add_argument("--training", default="{}", help="YAML overrides of `training`")
    parser.add_argument(
        "--dataset-training",
        default="{}",
        help="YAML: per corpus, `training` overrides after --training",
    )
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2, help="cells trained side by side")
    args = parser.parse_args()
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config.setdefault("corpus", {"dev_fraction": 0.25, "dev_seed": 13})
    config["training"] = {
        **config.get("training", {}),
        "bootstrap": args.bootstrap,
        **yaml.safe_load(args.training),
    }
    model, corpus_sizes = "minilm", {"drug_ade": args.drug, "sdoh": args.sdoh}
    if args.quick:
        model = "tiny-bert"
        corpus_sizes = {"drug_ade": sizes("3/2"), "sdoh": sizes("3/2")}
        config = copy.deepcopy(config)
        config["training"] |= {
            "epochs": 1,
            "match_hidden": 32,
            "bootstrap": 10,
            "strategies": {"soft-frozen": {"epochs": 1}},
        }
    strategies = args.strategies.split(",")
    rows, histories, started = [], {}, time.perf_counter()
    runs = []
    for dataset in args.datasets.split(","):
        tables_dir = corpus(args.work, config, dataset, corpus_sizes[dataset])
        schema_name = KINDS[config["datasets"][dataset]["synthetic"]["kind"]].schema
        schema, tables = load_schema(schema_name), CorpusTables.read(tables_dir)
        institutions = sorted(set(tables.documents["institution"]))
        found = dictionary_rows(tables, schema, institutions, args.bootstrap)
        rows += [{"dataset": dataset, **r} for r in found]
        histories[dataset] = {}
        own = copy.deepcopy(config)
        own["training"] |= yaml.safe_load(args.dataset_training).get(dataset, {})
        runs += [
            (
                dataset,
                s,
                tables_dir,
                schema_name,
                own,
                model,
                args.work,
                institutions,
                max(1, torch.get_num_threads() // args.jobs),
            )
            for s in strategies
        ]
    # Cells run side by side, one thread each by default; the order of the rows does not
    # depend on which finishes first.
    for run, (trained, history) in zip(
        runs, side_by_side(strategy_rows, runs, args.jobs), strict=True
    ):
        rows += trained
        histories[run[0]][run[1]] = history
    order = {name: i for i, name in enumerate(["dictionary", *strategies])}
    rows.sort(key=lambda r: (r["dataset"], r["tested_at"], order[r["strategy"]]))
    minutes = (time.perf_counter() - started) / 60
    lines = [
        f"# Strategies on the synthetic corpora ({model})",
        "",
        f"{date.today()}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads ({args.jobs} cells side by side), "
        f"torch {torch.__version__}; corpora (train/test "
        f"notes per institution, a quarter of the training notes drawn as dev): "
        + ", ".join(
            f"{d} {corpus_sizes[d]['train']}/{corpus_sizes[d]['test']}"
            for d in args.datasets.split(",")
        )
        + f"; trained at {TRAINED_AT}, shots all, seed 1; training settings of "
        f"config/config.yaml with `{args.training}` and per corpus `{args.dataset_training}`; "
        f"the whole run took {minutes:.0f} min.",
        "",
        *table(rows),
        "",
        "Targets (in domain):",
        "",
        *targets(rows),
        "",
    ]
    if args.figure:
        learning_curves(histories, args.figure)
        lines += [f"![dev F1 against optimiser steps]({args.figure.name})", ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
