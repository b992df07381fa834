"""Scoring of a grid cell: its BRAT predictions of one test institution into the metrics JSON.

In: the corpus tables (gold), the cell's `predictions/{institution}/` folder, its training
summary (`train.json`) and the prediction times (`predictions/seconds.json`). Out: the scorer's
JSON for that institution (strict and lenient, micro with bootstrap intervals, per type; SDoH
events when the schema has events, with the model's argument values, and as
`events_rule_values` the same predictions with the keyword rules' values, a baseline) plus the
cell, the test institution and the cell's cost (trainable parameters, training time, peak
memory, tokens/s, prediction time). Each per-type row
of concepts and relations also counts `predicted` (tp + fp: the system items scored, a duplicate
of an already matched gold item being discarded as the n2c2 scorer does) and `gold` (tp + fn).
Torch-free, so a scoring job starts in a fraction of a second. For paired significance tests
across cells the JSON also holds `per_document`: the number of documents, a digest of their
sorted keys (the same digest = scored on the same documents; no names are stored) and, per
target and mode (events: mode `challenge`), the tp/fp/fn count of each document in sorted key
order as space-separated integers, which keeps the file short.

The cell's card (`summary.html`, counts and metrics only, no note text) shows micro F1 per test
institution, the cost, per-type precision/recall/F1 with predicted and gold counts, the learning
curve of `train.json`'s `history` (dev F1 and training loss per epoch) and a diagnostics table of
whatever `train.json`'s `examples` and a metrics file's `diagnostics` hold (nested keys dotted).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from html import escape
from pathlib import Path

import pandas as pd

from clinprompt.atomic import atomic_write_text
from clinprompt.corpus.brat import RELATION_ANSWER, Document
from clinprompt.corpus.schema import DatasetSchema
from clinprompt.corpus.tables import CorpusTables, Dataset, table_documents
from clinprompt.errors import ConfigError, InvalidInputError
from clinprompt.score.bootstrap import resample_weights, with_interval, with_intervals
from clinprompt.score.events import evaluate_events
from clinprompt.score.events import to_json as events_json
from clinprompt.score.n2c2 import (
    COUNTS,
    MODES,
    TARGETS,
    CountTable,
    Evaluation,
    MicroScore,
    evaluate,
    to_json,
)
from clinprompt.score.pairs import DocumentPair, pair_predictions

log = logging.getLogger(__name__)

COST_KEYS = (
    "parameters",
    "train_seconds",
    "tokens_per_second",
    "peak_memory_mb",
    "padding_waste",
    "best_epoch",
    "epochs_run",
)


def score_predictions(
    gold: dict[str, Document],
    predicted: dict[str, Document],
    schema: DatasetSchema,
    bootstrap: int = 0,
    seed: int = 0,
) -> dict:
    """The scorer's JSON (with bootstrap intervals when `bootstrap` > 0, events if any).

    `entities` scores the concepts of the concept queries alone (the study's number);
    `entities_merged` adds the concepts that only relation answers proposed. `events` takes
    the predicted argument values, `events_rule_values` the keyword rules'
    (`clinprompt.corpus.events`).
    """
    pairs = [DocumentPair(key, gold[key], predicted[key], key, key) for key in sorted(gold)]
    merged = evaluate(pairs, schema)
    queried = evaluate(
        [replace(pair, pred=concept_query_view(pair.pred)) for pair in pairs], schema
    )
    weights = resample_weights(len(pairs), bootstrap, seed) if bootstrap else None
    if weights is not None:
        merged, queried = with_intervals(merged, weights), with_intervals(queried, weights)
    evaluation = Evaluation(
        merged.doc_ids,
        merged.tables | {("entities", mode): queried.table("entities", mode) for mode in MODES},
    )
    report = to_json(evaluation)
    report["entities_merged"] = to_json(merged)["entities"]
    _add_type_totals(report)
    tables = {t: {mode: evaluation.table(t, mode) for mode in MODES} for t in TARGETS}
    if schema.events:
        events = evaluate_events(pairs, schema)
        rule_values = evaluate_events(pairs, schema, value_source="rules")
        if weights is not None:
            events = replace(events, table=with_interval(events.table, weights))
            rule_values = replace(rule_values, table=with_interval(rule_values.table, weights))
        report["events"] = events_json(events)
        report["events_rule_values"] = events_json(rule_values)
        tables["events"] = {"challenge": events.table}
    report["per_document"] = per_document_json(evaluation.doc_ids, tables)
    return report


def concept_query_view(doc: Document) -> Document:
    """The predicted document without the concepts only relation answers proposed."""
    extra = {n.target for n in doc.notes if (n.type, n.text) == ("AnnotatorNotes", RELATION_ANSWER)}
    if not extra:
        return doc
    return replace(
        doc,
        entities=[e for e in doc.entities if e.id not in extra],
        relations=[r for r in doc.relations if r.arg1 not in extra and r.arg2 not in extra],
        notes=[n for n in doc.notes if n.target not in extra],
        attributes=[a for a in doc.attributes if a.target not in extra],
    )


def _add_type_totals(report: dict) -> None:
    """`predicted` (tp + fp) and `gold` (tp + fn) on every per-type row, in place."""
    for target in TARGETS:
        for mode in MODES:
            for row in report[target][mode]["per_type"].values():
                row["predicted"] = row["tp"] + row["fp"]
                row["gold"] = row["tp"] + row["fn"]


def per_document_json(keys: tuple[str, ...], tables: dict[str, dict[str, CountTable]]) -> dict:
    """Document count, key digest and per-document tp/fp/fn strings per target and mode."""
    digest = hashlib.sha256("\n".join(keys).encode("utf-8")).hexdigest()[:16]
    block: dict = {"documents": len(keys), "digest": digest}
    for target, modes in tables.items():
        block[target] = {
            mode: {
                name: " ".join(map(str, column))
                for name, column in zip(COUNTS, table.per_document.T.tolist(), strict=True)
            }
            for mode, table in modes.items()
        }
    return block


def _read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: file not found (run the cell's training first)") from None
    except json.JSONDecodeError as err:
        raise InvalidInputError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None


def documents_tested_at(tables: CorpusTables, institution: str) -> pd.DataFrame:
    """The test documents of one institution (a `ConfigError` when it has none)."""
    docs = tables.documents
    test = docs[(docs["split"] == "test") & (docs["institution"] == institution)]
    if test.empty:
        raise ConfigError(f"no test documents from institution '{institution}'")
    return test.reset_index(drop=True)


def score_institution(
    data: Dataset,
    predictions_dir: Path,
    summary: dict,
    institution: str,
    metrics_path: Path,
    bootstrap: int = 1000,
) -> dict:
    """Score a cell's predictions of one test institution (`predictions_dir/{institution}/`,
    with the `seconds.json` and `diagnostics.json` beside them) against the gold tables; write
    the metrics JSON atomically and return it."""
    test = documents_tested_at(data.tables, institution)
    gold = table_documents(data.tables, list(test["document"]))
    by_id = {doc.doc_id: key for key, doc in gold.items()}
    folder = Path(predictions_dir) / institution
    if not folder.is_dir():
        raise InvalidInputError(f"{folder}: prediction folder not found")
    pairs = pair_predictions(list(gold.values()), data.source, folder)
    predicted = {by_id[pair.doc_id]: pair.pred for pair in pairs}
    seed = int(summary["cell"]["seed"])
    report = score_predictions(gold, predicted, data.schema, bootstrap, seed)
    seconds = _read_json(Path(predictions_dir) / "seconds.json")
    decoding = Path(predictions_dir) / "diagnostics.json"
    if decoding.is_file():
        report["diagnostics"] = {"decoding": _read_json(decoding).get(institution, {})}
    return write_metrics(report, summary, institution, seconds[institution], metrics_path)


def score_cell(
    tables_dir: Path,
    schema_name: str,
    predictions_dir: Path,
    summary_path: Path,
    test_institution: str,
    metrics_path: Path,
    bootstrap: int = 1000,
) -> dict:
    """The workflow's score job: `score_institution` on the dataset and summary read from disk."""
    return score_institution(
        Dataset.read(tables_dir, schema_name),
        predictions_dir,
        _read_json(summary_path),
        test_institution,
        metrics_path,
        bootstrap,
    )


def write_metrics(
    report: dict, summary: dict, test_institution: str, predict_seconds: float, path: Path
) -> dict:
    """Add the cell and its cost to a scorer report; write it atomically as the metrics JSON."""
    report["cell"] = {**summary["cell"], "test_institution": test_institution}
    report["cost"] = {key: summary[key] for key in COST_KEYS}
    report["cost"]["predict_seconds"] = predict_seconds
    if summary.get("thresholds"):
        report.setdefault("diagnostics", {})["thresholds"] = summary["thresholds"]
    atomic_write_text(path, json.dumps(report, indent=1) + "\n")
    log.info(
        "test %s: strict micro F1 concepts %.4f relations %.4f",
        test_institution,
        MicroScore.read(report, "entities").f1,
        MicroScore.read(report, "relations").f1,
    )
    return report


CARD_CSS = (
    "body {font-family: sans-serif; font-size: 0.9em} "
    "table {border-collapse: collapse; margin: 0.3em 0 1em} "
    "th, td {padding: 0.2em 0.6em; border-bottom: 1px solid #ddd} "
    "td {text-align: right} th {text-align: left}"
)
TYPE_HEADER = (
    "type",
    "predicted",
    "gold",
    "strict precision",
    "strict recall",
    "strict F1",
    "lenient F1",
)
TARGET_TITLES = {"entities": "Concepts", "relations": "Relations"}


def _text(value: object) -> str:
    """A diagnostic value as text: counts with separators, floats to 4 decimals, lists joined."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "–"}[value]
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        text = f"{value:,.4f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value)
    return str(value)


def html_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """An HTML table of escaped cells (values through `_text`)."""
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_text(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table border='1'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n"


def flat_items(values: Mapping, prefix: str = "") -> Iterator[tuple[str, object]]:
    """(dotted key, value) of a nested mapping, keys sorted."""
    for key in sorted(values, key=str):
        name = f"{prefix}{key}"
        if isinstance(values[key], Mapping):
            yield from flat_items(values[key], f"{name}.")
        else:
            yield name, values[key]


def _type_rows(report: dict, target: str) -> list[tuple]:
    strict, lenient = (report[target][mode]["per_type"] for mode in MODES)
    return [
        (
            kind,
            row["predicted"],
            row["gold"],
            f"{row['precision']:.4f}",
            f"{row['recall']:.4f}",
            f"{row['f1']:.4f}",
            f"{lenient[kind]['f1']:.4f}",
        )
        for kind, row in strict.items()
    ]


def _learning_curve(history: list[dict]) -> str:
    if not history:
        return "<p>No epochs recorded.</p>\n"
    # matplotlib only for the card, so that scoring jobs stay light
    from clinprompt.report.cell_figures import figure_data_uri, learning_curve_figure

    uri = figure_data_uri(learning_curve_figure(history))
    return f"<img alt='learning curve: dev F1 and training loss per epoch' src='{uri}'>\n"


def _cost_line(summary: dict) -> str:
    parameters = summary["parameters"]
    return (
        f"trainable parameters {parameters['trainable']:,} of {parameters['total']:,} "
        f"({parameters['share']:.1%}); {summary['train_documents']} training documents; "
        f"best epoch {summary['best_epoch']} of {summary['epochs_run']}; training "
        f"{summary['train_seconds']:.0f} s at {summary['tokens_per_second']:.0f} tokens/s; "
        f"peak memory {summary['peak_memory_mb']:.0f} MB"
    )


def _diagnostics(summary: dict, metrics: list[dict]) -> list[tuple]:
    """(source, dotted key, value) of `train.json`'s `examples` and each file's `diagnostics`."""
    sources = [("training examples", summary.get("examples") or {})]
    sources += [
        (f"test {r['cell']['test_institution']}", r.get("diagnostics") or {}) for r in metrics
    ]
    return [(source, *item) for source, values in sources for item in flat_items(values)]


def cell_summary_html(summary: dict, metrics: list[dict]) -> str:
    """A small HTML card of one cell: F1 per test institution, cost, per-type scores, learning
    curve and diagnostics (counts and metrics only)."""
    f1_rows = [
        [
            report["cell"]["test_institution"],
            *(f"{report[target][mode]['micro']['f1']:.4f}" for target in TARGETS for mode in MODES),
        ]
        for report in metrics
    ]
    parts = [
        html_table(
            (
                "test institution",
                "concepts strict F1",
                "concepts lenient F1",
                "relations strict F1",
                "relations lenient F1",
            ),
            f1_rows,
        ),
        f"<p>{escape(_cost_line(summary))}</p>\n",
    ]
    for report in metrics:
        where = escape(report["cell"]["test_institution"])
        for target, title in TARGET_TITLES.items():
            parts.append(f"<h3>{title} per type, tested at {where}</h3>\n")
            parts.append(html_table(TYPE_HEADER, _type_rows(report, target)))
    parts += [
        "<h3>Learning curve</h3>\n",
        _learning_curve(summary.get("history") or []),
        "<h3>Diagnostics</h3>\n",
        html_table(("source", "diagnostic", "value"), _diagnostics(summary, metrics)),
    ]
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>cell</title>"
        f"<style>{CARD_CSS}</style></head><body>\n{''.join(parts)}</body></html>\n"
    )


def write_cell_summary(summary_path: Path, metrics_paths: list[Path], out: Path) -> None:
    """Write the HTML card of a cell from its `train.json` and metrics files."""
    metrics = [_read_json(path) for path in metrics_paths]
    atomic_write_text(out, cell_summary_html(_read_json(summary_path), metrics))
