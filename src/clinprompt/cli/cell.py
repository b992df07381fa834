"""`clinprompt cell|plan|train|predict`: name a cell's outputs, plan the grid, train, predict.

`clinprompt cell ...` prints the cell's metrics file(s): asking Snakemake for one runs exactly
that cell and its own dependencies (`snakemake $(clinprompt cell ...)`).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import yaml

from clinprompt.config import validate_config
from clinprompt.errors import ConfigError
from clinprompt.study import ALL_SHOTS, STRATEGY_NAMES, Cell, parse_shots

CONFIG_SCHEMA = Path(__file__).resolve().parents[3] / "workflow/schemas/config.schema.yaml"


def _shots(value: str) -> int | str:
    """`--shots` as `study.parse_shots` reads it; a bad value is argparse's one-line error."""
    try:
        return parse_shots(value, key="--shots")
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _add_cell_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("config/config.yaml"),
        help="workflow config (datasets, models, training)",
    )
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--model", required=True, help="a model registry name")
    parser.add_argument("--strategy", required=True, choices=STRATEGY_NAMES)
    parser.add_argument("--prompt-length", type=int, default=0)
    parser.add_argument(
        "--shots", type=_shots, default=ALL_SHOTS, help="k training documents or all"
    )
    parser.add_argument("--train-institution", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", type=Path, default=Path("results"))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `cell`, `train` and `predict`."""
    cell = subparsers.add_parser("cell", help="print one cell's metrics file(s) for snakemake")
    _add_cell_arguments(cell)
    cell.add_argument("--test-institution", help="one test institution (default: every one)")
    cell.set_defaults(handler=run_cell_paths)
    plan = subparsers.add_parser(
        "plan", help="the grid's cells and GPU hours per model (upper bound, from the registry)"
    )
    plan.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    plan.set_defaults(handler=run_plan)
    train = subparsers.add_parser("train", help="train one cell (select on dev)")
    _add_cell_arguments(train)
    train.add_argument(
        "--processes", type=int, help="train in N torchrun processes (gloo on CPU, nccl on GPUs)"
    )
    train.set_defaults(handler=run_train)
    predict = subparsers.add_parser("predict", help="predict and score one cell's test set")
    _add_cell_arguments(predict)
    predict.add_argument(
        "--test-institution", required=True, nargs="+", help="one or more test institutions"
    )
    predict.set_defaults(handler=run_predict)


def _config(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    return validate_config(yaml.safe_load(path.read_text(encoding="utf-8")), CONFIG_SCHEMA)


def run_cell_paths(args: argparse.Namespace) -> int:
    """Print the metrics file of each test institution of the cell (one per line)."""
    from clinprompt.grid import cell_metrics_paths
    from clinprompt.registry import model_registry

    config = _config(args.config)
    cell = {
        "dataset": args.dataset,
        "model": args.model,
        "strategy": args.strategy,
        "prompt_length": args.prompt_length,
        "shots": args.shots,
        "train_institution": args.train_institution,
        "seed": args.seed,
    }
    models = model_registry(config.get("models"))
    for path in cell_metrics_paths(config, models, cell, args.test_institution, args.results):
        print(path)
    return 0


def run_plan(args: argparse.Namespace) -> int:
    """Print cells, GPUs per job and at most how many GPU hours each model's cells take."""
    from clinprompt.grid import gpu_hours, grid_frame
    from clinprompt.registry import model_registry

    config = _config(args.config)
    models = model_registry(config.get("models"))
    table = gpu_hours(grid_frame(config, models), models)
    print(table.to_string(index=False, float_format=lambda hours: f"{hours:,.0f}"))
    total = table["gpu_hours"].sum()
    print(f"total: {table['cells'].sum():,} cells, at most {total:,.0f} GPU hours")
    return 0


def _load(args: argparse.Namespace):
    from clinprompt.corpus.tables import Dataset
    from clinprompt.settings import cell_setup

    config = _config(args.config)
    if args.dataset not in config["datasets"]:
        raise ConfigError(f"dataset '{args.dataset}' not in {args.config}")
    cell = Cell(
        args.dataset,
        args.model,
        args.strategy,
        args.prompt_length,
        args.shots,
        args.train_institution,
        args.seed,
    )
    spec, settings = cell_setup(config, cell)
    tables = args.results / "corpora" / args.dataset / "tables"
    return cell, spec, settings, Dataset.read(tables, config["datasets"][args.dataset]["schema"])


def run_train(args: argparse.Namespace) -> int:
    """Train and print the summary (counts, scores, costs)."""
    from clinprompt.cell import train_cell

    cell, spec, settings, data = _load(args)
    if args.processes is not None:
        settings = replace(settings, train=replace(settings.train, processes=args.processes))
    summary = train_cell(cell, data, spec, settings, cell.folder(args.results))
    summary.pop("history")
    print(json.dumps(summary, indent=1))
    return 0


def run_predict(args: argparse.Namespace) -> int:
    """Predict every named test institution, as the workflow does: `.ann` files under the
    cell's `predictions/` and one metrics JSON per institution; print the metrics paths."""
    from clinprompt.cell import predict_and_score

    cell, spec, settings, data = _load(args)
    folder = cell.folder(args.results)
    predict_and_score(cell, data, spec, settings, folder, args.test_institution)
    for institution in args.test_institution:
        print(folder / "metrics" / f"{institution}.json")
    return 0
