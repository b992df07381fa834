"""The four strategies and the dictionary baseline on PGxCorpus, a real public BRAT corpus.

Takes what a user would: `config/examples/pgxcorpus.yaml` (schema `pgxcorpus`, the seeded
train/test draw, `trust_offsets`, MiniLM, its training settings) and the corpus beside the
repository (`../shared/data/pgxcorpus/brat`; never copied into it). It validates the folder,
builds the corpus tables, keeps the first `--dev` dev and `--test` test sentences (by name),
trains one cell per strategy on the same seeded draw of `--shots` training sentences (epochs
per strategy from `--epochs`), `--jobs` cells side by side, each on its share of the threads,
and scores the test sentences end to end with 95% bootstrap intervals; the dictionary baseline
(`clinprompt.predict.baseline`) is built from the same training sentences. It writes `--out`
(`docs/real-corpus.md`): the validation summary, concepts and end-to-end relations (strict
and lenient, with intervals), and each strategy's margin over the dictionary on concepts
(paired bootstrap over the test sentences); and the dev learning curves to `--figure`.

The defaults are sized for at most about 40 minutes on 2 CPU cores, two one-thread cells side
by side: an epoch on 300 training sentences is about 64k tokens for `finetune`, 160k for
`hard` and 130k for the soft strategies (`soft-frozen` computes no encoder weight gradients);
every epoch is scored on the dev sentences at thresholds chosen there (two passes over them),
and predicting the test sentences (ten concept queries per sentence, then the relation
queries of every predicted trigger) costs the MRC strategies about as much as an epoch.
`--quick` runs a tiny random model on a few sentences for one epoch, to prove
the script works.

    python benchmarks/bench_real_corpus.py [--quick] [--shots 300] [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
import yaml

# Shared with the synthetic-corpus benchmark: F1 with its interval as text, learning curves.
from bench_strategies import f1_text, learning_curves, side_by_side, train_and_score
from render_docs import REPO, environment

from clinprompt.cell import select_documents
from clinprompt.config import dataset_parts, split_draw, validate_config
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import CorpusTables, build_tables
from clinprompt.corpus.validation import validate_parts
from clinprompt.predict.baseline import DICTIONARY, NO_MODEL, score_dictionary
from clinprompt.report.tidy import TASKS, CellScores
from clinprompt.score.bootstrap import Comparison, compare_tables, resample_weights
from clinprompt.score.n2c2 import CountTable, MicroScore
from clinprompt.study import Cell, Strategy

CONFIG = REPO / "config/examples/pgxcorpus.yaml"
CONFIG_SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
DATASET = "pgxcorpus"
SEED = 1
MODES = ("strict", "lenient")
DEFAULT_EPOCHS = "finetune=4,hard=3,soft=3,soft-frozen=4"
QUICK = {
    "model": "tiny-bert",
    "shots": 4,
    "dev": 3,
    "test": 6,
    "bootstrap": 10,
    "training": {"max_length": 96, "match_hidden": 32},
}


def user_config(training: dict) -> dict:
    """The example config, validated, with the corpus path resolved from the repository root
    and `training` merged over its training block."""
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for part in config["datasets"][DATASET]["parts"]:
        part["path"] = str((REPO / part["path"]).resolve())
        if not Path(part["path"]).is_dir():
            raise SystemExit(f"PGxCorpus not found at {part['path']} (../shared/data)")
    config["training"] |= training
    return validate_config(config, CONFIG_SCHEMA)


def first_documents(tables: CorpusTables, limits: dict[str, int | None]) -> CorpusTables:
    """The tables with at most `limits[split]` documents of each split, the first by key."""
    docs = tables.documents.sort_values("document")
    keep = [
        key
        for split, group in docs.groupby("split")
        for key in group["document"].iloc[: limits.get(split)]
    ]
    return select_documents(tables, keep)


def corpus(config: dict, work: Path, limits: dict[str, int | None]) -> tuple[Path, dict]:
    """Validate the folder, build the tables (first `limits` documents kept) under `work`;
    the tables folder and the validation report (counts only)."""
    settings = config["datasets"][DATASET]
    parts, schema = dataset_parts(config, DATASET), load_schema(settings["schema"])
    options = {key: settings[key] for key in ("skip_invalid", "trust_offsets", "on_invalid")}
    validation = validate_parts(parts, schema, work / "validation.json", **options)
    tables, _ = build_tables(
        parts,
        schema,
        config["corpus"]["dev_fraction"],
        config["corpus"]["dev_seed"],
        split_draw=split_draw(settings),
        **options,
    )
    first_documents(tables, limits).write(work / "tables")
    counts = ("documents", "errors", "warnings", "dropped_annotations")
    return work / "tables", {key: validation[key] for key in counts}


def cell_metrics(cell: Cell, tables: Path, config: dict, work: Path, threads: int) -> tuple:
    """Train one cell on `threads` threads, score its test sentences; (metrics, history)."""
    schema, institution = config["datasets"][DATASET]["schema"], cell.train_institution
    summary, reports = train_and_score(cell, tables, schema, config, work, [institution], threads)
    metrics = reports[institution]
    print(
        f"{cell.strategy}: concepts strict F1 {metrics['entities']['strict']['micro']['f1']:.3f}",
        file=sys.stderr,
        flush=True,
    )
    return metrics, summary["history"]


def document_tables(metrics: dict, path: Path) -> tuple[str, dict[tuple[str, str], CountTable]]:
    """The document digest and per-document counts of a metrics report per (task, mode)."""
    digest, counts = CellScores(path, metrics["cell"], metrics, ()).document_counts()
    return digest, {key: CountTable(("all",), table[:, None, :]) for key, table in counts.items()}


def margins(metrics: dict[str, dict], bootstrap: int) -> dict[str, dict[str, Comparison]]:
    """Per strategy and mode: concepts F1 minus the dictionary's, paired over test sentences."""
    digest, baseline = document_tables(metrics[DICTIONARY], Path(DICTIONARY))
    weights = resample_weights(metrics[DICTIONARY]["documents"], bootstrap, SEED)
    result = {}
    for system, report in metrics.items():
        if system == DICTIONARY:
            continue
        own_digest, own = document_tables(report, Path(system))
        if own_digest != digest:
            raise SystemExit(f"{system} was scored on other test sentences than the dictionary")
        task = TASKS["entities"]
        result[system] = {
            m: compare_tables(own[task, m], baseline[task, m], weights) for m in MODES
        }
    return result


def cell_text(report: dict, target: str, mode: str) -> str:
    """Micro F1 [95% CI] of one target and mode."""
    micro = MicroScore.read(report, target, mode)
    return f1_text((micro.f1, micro.ci.get("f1"), None))


def results_table(metrics: dict[str, dict]) -> list[str]:
    """Concepts and relations, strict and lenient, with intervals and the cells' costs."""
    lines = [
        "| system | concepts strict F1 [95% CI] | concepts lenient F1 [95% CI] "
        "| relations strict F1 [95% CI] | relations lenient F1 [95% CI] | epochs | train s "
        "| trainable share |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for system, report in metrics.items():
        scores = [cell_text(report, t, m) for t in ("entities", "relations") for m in MODES]
        cost = report["cost"]
        costs = [
            str(cost["epochs_run"]),
            f"{cost['train_seconds']:.0f}",
            f"{cost['parameters']['share']:.2%}",
        ]
        lines.append(f"| {system} | {' | '.join(scores + costs)} |")
    return lines


def margin_lines(found: dict[str, dict[str, Comparison]], documents: int) -> list[str]:
    """Each strategy's concept margin over the dictionary, strict and lenient."""
    lines = [
        f"Concepts, model minus dictionary (paired bootstrap over the {documents} test "
        "sentences, the same resamples for both):",
        "",
    ]
    for system, by_mode in found.items():
        parts = [
            f"{mode} {c.f1_a:.3f} vs {c.f1_b:.3f}: {c.difference:+.3f} "
            f"[{c.ci[0]:+.3f}, {c.ci[1]:+.3f}], p = {c.p_value:.3f}"
            for mode, c in by_mode.items()
        ]
        lines.append(f"- `{system}`: " + "; ".join(parts))
    return lines


def epochs(text: str) -> dict[str, int]:
    """`finetune=3,hard=2` as {strategy: epochs}."""
    pairs = (item.split("=") for item in text.split(","))
    return {strategy: int(n) for strategy, n in pairs}


def arguments() -> argparse.Namespace:
    """The command line, with `--quick` applied."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks/out/real-corpus")
    parser.add_argument("--out", type=Path, help="default docs/real-corpus.md (--quick: --work)")
    parser.add_argument("--figure", type=Path, help="default beside --out")
    parser.add_argument("--shots", type=int, default=300, help="training sentences per cell")
    parser.add_argument("--dev", type=int, default=40, help="dev sentences (model selection)")
    parser.add_argument("--test", type=int, help="test sentences scored (default: all)")
    parser.add_argument(
        "--epochs",
        type=epochs,
        default=epochs(DEFAULT_EPOCHS),
        help=f"strategies and their epochs ({DEFAULT_EPOCHS})",
    )
    parser.add_argument("--jobs", type=int, default=2, help="cells trained side by side")
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()
    args.model, args.training = "minilm", {}
    if args.quick:
        args.shots, args.dev, args.test = QUICK["shots"], QUICK["dev"], QUICK["test"]
        args.model, args.bootstrap = QUICK["model"], QUICK["bootstrap"]
        args.training = dict(QUICK["training"])
        args.epochs = dict.fromkeys(args.epochs, 1)
    args.training["bootstrap"] = args.bootstrap
    name = "real-corpus-quick" if args.quick else "real-corpus"
    args.out = args.out or (args.work if args.quick else REPO / "docs") / f"{name}.md"
    args.figure = args.figure or args.out.with_suffix(".png")
    args.training["strategies"] = {s: {"epochs": n} for s, n in args.epochs.items()}
    return args


def run(args: argparse.Namespace, config: dict, tables: Path) -> tuple[dict, dict, int]:
    """The dictionary and every strategy's cell scored; (metrics, histories, threads per cell)."""
    settings, prompt_length = config["datasets"][DATASET], config["grid"]["prompt_lengths"][0]
    institution = settings["parts"][0]["institution"]
    cells = [
        Cell(
            DATASET,
            args.model,
            s,
            prompt_length if Strategy.named(s).soft else 0,
            args.shots,
            institution,
            SEED,
        )
        for s in args.epochs
    ]
    dictionary = {**asdict(cells[0]), "model": NO_MODEL, "strategy": DICTIONARY, "prompt_length": 0}
    found = score_dictionary(
        tables,
        settings["schema"],
        dictionary,
        institution,
        args.work / "dictionary.json",
        args.bootstrap,
    )
    metrics = {DICTIONARY: found}
    threads = max(1, torch.get_num_threads() // args.jobs)
    runs = [(cell, tables, config, args.work, threads) for cell in cells]
    histories = {}
    # Cells run side by side; the rows keep the order of --epochs whichever finishes first.
    for cell, (report, history) in zip(
        cells, side_by_side(cell_metrics, runs, args.jobs), strict=True
    ):
        metrics[cell.strategy], histories[cell.strategy] = report, history
    return metrics, histories, threads


def header(
    args: argparse.Namespace,
    config: dict,
    validation: dict,
    documents: dict,
    minutes: float,
    threads: int,
) -> list[str]:
    """Where and how the numbers were measured: machine, corpus, validation, this run."""
    env, split = environment(torch.device("cpu")), config["datasets"][DATASET]["split"]
    command = "python benchmarks/bench_real_corpus.py" + (" --quick" if args.quick else "")
    return [
        f"# Strategies on a real public corpus: PGxCorpus ({args.model})",
        "",
        f"{env['date']}, {env['card']}, {env['cpus']} CPUs, {threads} thread(s) per cell, "
        f"{args.jobs} cells side by side, torch {env['torch']}, transformers "
        f"{env['transformers']}; the whole run took {minutes:.0f} min (`{command}`).",
        "",
        "PGxCorpus (Legrand et al., Sci Data 2020; CC BY-NC 4.0): 945 PubMed sentences with "
        "pharmacogenomic entities and relations, read from `../shared/data/pgxcorpus/brat` "
        "with `config/examples/pgxcorpus.yaml` (schema `pgxcorpus`, seeded split: "
        f"{split['test']:.0%} test, seed {split['seed']}; dev carved from train). Validation: "
        f"{validation['documents']} documents, {validation['errors']} errors, "
        f"{validation['warnings']} warnings (`trust_offsets: true`: text fields that differ "
        f"from the text at their offsets), {validation['dropped_annotations']} lines dropped.",
        "",
        f"This run: {args.shots} training sentences (one seeded draw, seed {SEED}, the same "
        f"for every system), {documents.get('dev', 0)} dev and {documents.get('test', 0)} "
        "test sentences; epochs "
        + ", ".join(f"{s} {n}" for s, n in args.epochs.items())
        + f"; soft prompts of {config['grid']['prompt_lengths'][0]} tokens; the other "
        "training settings of the example config. F1 is micro over the test sentences, end "
        "to end (relations from predicted concepts); 95% intervals from "
        f"{args.bootstrap} bootstrap resamples of the test sentences. The dictionary looks "
        "every training mention up in the test text (no relations).",
        "",
    ]


def main() -> int:
    args = arguments()
    config = user_config(args.training)
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tables, validation = corpus(config, args.work, {"dev": args.dev, "test": args.test})
    metrics, histories, threads = run(args, config, tables)
    minutes = (time.perf_counter() - started) / 60
    documents = CorpusTables.read(tables).documents["split"].value_counts().to_dict()
    lines = [
        *header(args, config, validation, documents, minutes, threads),
        *results_table(metrics),
        "",
        *margin_lines(margins(metrics, args.bootstrap), documents.get("test", 0)),
        "",
        f"![dev F1 against optimiser steps]({args.figure.name})",
        "",
    ]
    learning_curves({DATASET: histories}, args.figure)
    text = "\n".join(lines)
    print(text)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
