"""`clinprompt train|predict`: run one grid cell — train it, or predict and score a test set."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from clinprompt.config import validate_config
from clinprompt.errors import ConfigError

CONFIG_SCHEMA = Path(__file__).resolve().parents[3] / "workflow/schemas/config.schema.yaml"


def _shots(value: str) -> int | str:
    return value if value == "all" else int(value)


def _add_cell_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("config/config.yaml"),
        help="workflow config (datasets, models, training)",
    )
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--model", required=True, help="a model registry name")
    parser.add_argument(
        "--strategy", required=True, choices=["finetune", "hard", "soft", "soft-frozen"]
    )
    parser.add_argument("--prompt-length", type=int, default=0)
    parser.add_argument("--shots", type=_shots, default="all", help="k training documents or all")
    parser.add_argument("--train-institution", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", type=Path, default=Path("results"))  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `train` and `predict`."""
    train = subparsers.add_parser("train", help="train one cell (select on dev)")
    _add_cell_arguments(train)
    train.set_defaults(handler=run_train)
    predict = subparsers.add_parser("predict", help="predict and score one cell's test set")
    _add_cell_arguments(predict)
    predict.add_argument("--test-institution", required=True)
    predict.set_defaults(handler=run_predict)


def _load(args: argparse.Namespace):
    from clinprompt.cell import Cell, cell_setup

    if not args.config.is_file():
        raise ConfigError(f"{args.config}: config file not found")
    config = validate_config(yaml.safe_load(args.config.read_text(encoding="utf-8")), CONFIG_SCHEMA)
    if args.dataset not in config["datasets"]:
        raise ConfigError(f"dataset '{args.dataset}' not in {args.config}")
    cell = Cell(args.dataset, args.model, args.strategy, args.prompt_length, args.shots,
                args.train_institution, args.seed)  # fmt: skip
    spec, settings = cell_setup(config, cell)
    tables = args.results / "corpora" / args.dataset / "tables"
    return cell, spec, settings, tables, config["datasets"][args.dataset]["schema"]


def run_train(args: argparse.Namespace) -> int:
    """Train and print the summary (counts, scores, costs)."""
    from clinprompt.cell import train_cell

    cell, spec, settings, tables, schema = _load(args)
    summary = train_cell(cell, tables, schema, spec, settings, cell.folder(args.results))
    summary.pop("history")
    print(json.dumps(summary, indent=1))
    return 0


def run_predict(args: argparse.Namespace) -> int:
    """Predict, write `.ann` files and the metrics JSON; print the metrics path."""
    from clinprompt.cell import predict_cell

    cell, spec, settings, tables, schema = _load(args)
    folder = cell.folder(args.results)
    metrics = folder / "metrics" / f"{args.test_institution}.json"
    predict_cell(cell, tables, schema, spec, settings, folder, args.test_institution,
                 folder / "predictions" / args.test_institution, metrics)  # fmt: skip
    print(metrics)
    return 0
