"""Scoring of a grid cell: its BRAT predictions of one test institution into the metrics JSON.

In: the corpus tables (gold), the cell's `predictions/{institution}/` folder, its training
summary (`train.json`) and the prediction times (`predictions/seconds.json`). Out: the scorer's
JSON for that institution (strict and lenient, micro with bootstrap intervals, per type; SDoH
events when the schema has events) plus the cell, the test institution and the cell's cost
(trainable parameters, training time, peak memory, tokens/s, prediction time). Torch-free, so a
scoring job starts in a fraction of a second. For paired significance tests across cells the JSON
also holds `per_document`: the number of documents, a digest of their sorted keys (the same
digest = scored on the same documents; no names are stored) and, per target and mode (events:
mode `challenge`), the tp/fp/fn count of each document in sorted key order as space-separated
integers, which keeps the file short.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from pathlib import Path

from clinprompt.atomic import atomic_write_text
from clinprompt.bootstrap import resample_weights, with_interval, with_intervals
from clinprompt.brat import Document
from clinprompt.corpus import CorpusTables, table_documents
from clinprompt.errors import ConfigError, InvalidInputError
from clinprompt.event_score import evaluate_events
from clinprompt.event_score import to_json as events_json
from clinprompt.schema import DatasetSchema, load_schema
from clinprompt.score import (
    COUNTS,
    MODES,
    TARGETS,
    CountTable,
    DocumentPair,
    evaluate,
    pair_predictions,
    to_json,
)

log = logging.getLogger(__name__)

COST_KEYS = ("parameters", "train_seconds", "tokens_per_second", "peak_memory_mb",
             "padding_waste", "best_epoch", "epochs_run")  # fmt: skip


def score_predictions(
    gold: dict[str, Document], predicted: dict[str, Document], schema: DatasetSchema,
    bootstrap: int = 0, seed: int = 0,
) -> dict:  # fmt: skip
    """The scorer's JSON (with bootstrap intervals when `bootstrap` > 0, events if any)."""
    pairs = [DocumentPair(key, gold[key], predicted[key], key, key) for key in sorted(gold)]
    evaluation = evaluate(pairs, schema)
    weights = resample_weights(len(pairs), bootstrap, seed) if bootstrap else None
    if weights is not None:
        evaluation = with_intervals(evaluation, weights)
    report = to_json(evaluation)
    tables = {t: {mode: evaluation.table(t, mode) for mode in MODES} for t in TARGETS}
    if schema.events:
        events = evaluate_events(pairs, schema)
        if weights is not None:
            events = replace(events, table=with_interval(events.table, weights))
        report["events"] = events_json(events)
        tables["events"] = {"challenge": events.table}
    report["per_document"] = per_document_json(evaluation.doc_ids, tables)
    return report


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


def score_cell(
    tables_dir: Path, schema_name: str, predictions_dir: Path, summary_path: Path,
    test_institution: str, metrics_path: Path, bootstrap: int = 1000,
) -> dict:  # fmt: skip
    """Score one test institution of a cell and write its metrics JSON atomically."""
    tables = CorpusTables.read(tables_dir)
    docs = tables.documents
    test = docs[(docs["split"] == "test") & (docs["institution"] == test_institution)]
    if test.empty:
        raise ConfigError(f"no test documents from institution '{test_institution}'")
    gold = table_documents(tables, list(test["document"]))
    by_id = {doc.doc_id: key for key, doc in gold.items()}
    folder = Path(predictions_dir) / test_institution
    if not folder.is_dir():
        raise InvalidInputError(f"{folder}: prediction folder not found")
    pairs = pair_predictions(list(gold.values()), Path(tables_dir), folder)
    predicted = {by_id[pair.doc_id]: pair.pred for pair in pairs}
    summary = _read_json(summary_path)
    schema = load_schema(schema_name)
    report = score_predictions(gold, predicted, schema, bootstrap, int(summary["cell"]["seed"]))
    seconds = _read_json(Path(predictions_dir) / "seconds.json")
    return write_metrics(report, summary, test_institution, seconds[test_institution], metrics_path)


def write_metrics(
    report: dict, summary: dict, test_institution: str, predict_seconds: float, path: Path
) -> dict:
    """Add the cell and its cost to a scorer report; write it atomically as the metrics JSON."""
    report["cell"] = {**summary["cell"], "test_institution": test_institution}
    report["cost"] = {key: summary[key] for key in COST_KEYS}
    report["cost"]["predict_seconds"] = predict_seconds
    atomic_write_text(path, json.dumps(report, indent=1) + "\n")
    log.info(
        "test %s: strict micro F1 concepts %.4f relations %.4f",
        test_institution, report["entities"]["strict"]["micro"]["f1"],
        report["relations"]["strict"]["micro"]["f1"],
    )  # fmt: skip
    return report


def cell_summary_html(summary: dict, metrics: list[dict]) -> str:
    """A small HTML card of one cell: F1 per test institution and the cost (counts only)."""
    rows = []
    for report in metrics:
        cells = [report["cell"]["test_institution"]]
        for target in ("entities", "relations"):
            for mode in ("strict", "lenient"):
                cells.append(f"{report[target][mode]['micro']['f1']:.4f}")
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    parameters = summary["parameters"]
    cost = (
        f"trainable parameters {parameters['trainable']:,} of {parameters['total']:,} "
        f"({parameters['share']:.1%}); {summary['train_documents']} training documents; "
        f"best epoch {summary['best_epoch']} of {summary['epochs_run']}; training "
        f"{summary['train_seconds']:.0f} s at {summary['tokens_per_second']:.0f} tokens/s; "
        f"peak memory {summary['peak_memory_mb']:.0f} MB"
    )
    header = "".join(
        f"<th>{name}</th>"
        for name in ("test institution", "concepts strict F1", "concepts lenient F1",
                     "relations strict F1", "relations lenient F1")
    )  # fmt: skip
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>cell</title></head><body>\n"
        f"<table border='1'><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}"
        f"</tbody></table>\n<p>{cost}</p>\n</body></html>\n"
    )


def write_cell_summary(summary_path: Path, metrics_paths: list[Path], out: Path) -> None:
    """Write the HTML card of a cell from its `train.json` and metrics files."""
    metrics = [_read_json(path) for path in metrics_paths]
    atomic_write_text(out, cell_summary_html(_read_json(summary_path), metrics))
