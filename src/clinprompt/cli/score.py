"""`clinprompt evaluate` and `clinprompt compare`: score prediction folders against gold.

`evaluate GOLD_DIR PRED_DIR` prints the n2c2-style table (and with `--events` the SDoH event
table) and writes the JSON of `clinprompt.score.n2c2.to_json`, with bootstrap intervals unless
`--bootstrap 0`. `compare GOLD PRED_A PRED_B` prints and writes the paired bootstrap comparison
of two systems. Prediction folders hold `.ann` files only; they are read against the gold text.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from clinprompt.atomic import atomic_write_text
from clinprompt.corpus.schema import DatasetSchema, load_schema
from clinprompt.errors import InvalidInputError
from clinprompt.score import events as event_score
from clinprompt.score import n2c2 as score
from clinprompt.score.bootstrap import (
    DEFAULT_RESAMPLES,
    compare_evaluations,
    comparisons_json,
    format_comparisons,
    resample_weights,
    with_interval,
    with_intervals,
)
from clinprompt.score.pairs import pair_predictions, read_gold


def _count(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _add_common(parser: argparse.ArgumentParser, min_resamples: int) -> None:
    parser.add_argument("gold_dir", type=Path, help="gold folder of .txt/.ann pairs")
    parser.add_argument("--json", type=Path, dest="json_path", help="write the scores here")
    parser.add_argument(
        "--schema", help="dataset schema (name or YAML): types to list, SDoH events as relations"
    )
    parser.add_argument(
        "--bootstrap",
        type=_count(min_resamples),
        default=DEFAULT_RESAMPLES,
        metavar="N",
        help=f"document-level bootstrap resamples (default {DEFAULT_RESAMPLES})",
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `evaluate` and `compare` commands."""
    evaluate = subparsers.add_parser(
        "evaluate", help="score a prediction folder (2018 n2c2 Track 2 rules; SDoH events)"
    )
    _add_common(evaluate, min_resamples=0)
    evaluate.add_argument("pred_dir", type=Path, help="folder of predicted .ann files")
    evaluate.add_argument(
        "--official",
        action="store_true",
        help="drop gold documents without a prediction file, as the official script does",
    )
    evaluate.add_argument(
        "--events", action="store_true", help="also score SDoH events (needs --schema)"
    )
    evaluate.set_defaults(handler=run_evaluate)

    compare = subparsers.add_parser(
        "compare", help="paired bootstrap comparison of two prediction folders"
    )
    _add_common(compare, min_resamples=1)
    compare.add_argument("pred_a", type=Path, help="predictions of system A")
    compare.add_argument("pred_b", type=Path, help="predictions of system B")
    compare.set_defaults(handler=run_compare)


def _schema(args: argparse.Namespace) -> DatasetSchema | None:
    return load_schema(args.schema) if args.schema else None


def _write_json(path: Path | None, report: dict) -> None:
    if path is not None:
        atomic_write_text(path, json.dumps(report, indent=2) + "\n")


def run_evaluate(args: argparse.Namespace) -> int:
    """Print the tables and write the JSON."""
    schema = _schema(args)
    if args.events and (schema is None or not schema.events):
        raise InvalidInputError("--events needs --schema naming a dataset with events")
    gold = read_gold(args.gold_dir)
    pairs = pair_predictions(gold, args.gold_dir, args.pred_dir, official=args.official)
    evaluation = score.evaluate(pairs, schema)
    weights = resample_weights(len(pairs), args.bootstrap, args.seed) if args.bootstrap else None
    if weights is not None:
        evaluation = with_intervals(evaluation, weights)
    report, text = score.to_json(evaluation), score.format_table(evaluation)
    if args.events:
        events = event_score.evaluate_events(pairs, schema)
        if weights is not None:
            events = replace(events, table=with_interval(events.table, weights))
        report["events"] = event_score.to_json(events)
        text += "\n" + event_score.format_table(events)
    print(text, end="")
    _write_json(args.json_path, report)
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """Print and write the paired comparison of two systems."""
    schema = _schema(args)
    gold = read_gold(args.gold_dir)
    a, b = (
        score.evaluate(pair_predictions(gold, args.gold_dir, folder), schema)
        for folder in (args.pred_a, args.pred_b)
    )
    weights = resample_weights(len(gold), args.bootstrap, args.seed)
    comparisons = compare_evaluations(a, b, weights)
    print(format_comparisons(comparisons), end="")
    _write_json(args.json_path, comparisons_json(comparisons, len(gold), args.bootstrap, args.seed))
    return 0
