"""Dictionary baseline: every training mention string looked up in the test text.

In: the training entities (type and surface text) and test documents. Out: predicted
documents whose concepts are every case-insensitive, word-bounded occurrence of a training
mention, labelled with the type that string carried most often in training (ties: first
type in schema order); longer strings win over overlapping shorter ones; a match across a
line break becomes one fragment per line. No relations: it shows how far string memory alone
gets on concepts.

In the workflow the baseline is a row of the study's tables like a strategy: `dictionary_cells`
gives its grid rows (strategy `dictionary`, model `none`, prompt length 0), one per dataset,
shots, training institution and seed that a cell of the experiments `main` or `few_shot` has,
so it reads the same few-shot draw (`examples.draw_shots`) as those cells; `score_dictionary`
scores one test institution with the cells' scorer and writes a metrics JSON in the cells'
format (zero trainable parameters, relation F1 0). Torch-free.
"""

from __future__ import annotations

import logging
import re
import resource
import time
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd

from clinprompt.corpus.brat import Document, Entity
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import CorpusTables, table_documents
from clinprompt.examples.shots import draw_shots
from clinprompt.score.cell import documents_tested_at, score_predictions, write_metrics
from clinprompt.study import CELL_FIELDS
from clinprompt.synth.note import line_fragments

log = logging.getLogger(__name__)

DICTIONARY = "dictionary"
NO_MODEL = "none"
BASELINE_EXPERIMENTS = ("main", "few_shot")


def mention_dictionary(entities: pd.DataFrame, types: tuple[str, ...]) -> dict[str, str]:
    """Lower-cased mention text -> its most frequent training type."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for text, kind in zip(entities["text"], entities["type"], strict=True):
        key = " ".join(text.lower().split())
        if len(key) > 1:
            counts[key][kind] += 1
    order = {t: i for i, t in enumerate(types)}
    return {
        key: min(c, key=lambda t: (-c[t], order.get(t, len(order)))) for key, c in counts.items()
    }


def dictionary_predictions(
    dictionary: dict[str, str], documents: pd.DataFrame
) -> dict[str, Document]:
    """Predicted documents keyed by `document` (no entities when the dictionary is empty)."""
    patterns = sorted(dictionary, key=len, reverse=True)
    regex = re.compile(
        r"(?<!\w)(" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in patterns) + r")(?!\w)",
        re.IGNORECASE,
    )
    predicted = {}
    for key, text in zip(documents["document"], documents["text"], strict=True):
        entities: list[Entity] = []
        for match in regex.finditer(text) if patterns else ():
            kind = dictionary[" ".join(match.group().lower().split())]
            fragments = line_fragments(match.group(), match.start())
            entities.append(Entity.from_offsets(f"T{len(entities) + 1}", kind, fragments, text))
        predicted[key] = Document(key.rsplit("/", 1)[-1], text, entities)
    return predicted


def dictionary_cells(config: dict, grid: pd.DataFrame) -> pd.DataFrame:
    """The baseline's grid rows (`CELL_FIELDS` and `experiments`), empty when switched off.

    One row per (dataset, shots, training institution, seed) of the grid's `main` and
    `few_shot` cells, in those of the two experiments; `select.strategy` drops it unless it
    names `dictionary` (the other `select` keys act through `grid`, which is already selected).
    """
    wanted = (config.get("select") or {}).get("strategy", [DICTIONARY])
    wanted = wanted if isinstance(wanted, list) else [wanted]
    enabled = (config.get("grid") or {}).get("dictionary_baseline", True)
    if not enabled or DICTIONARY not in wanted:
        grid = grid.iloc[:0]
    membership: dict[tuple, set[str]] = {}
    for row in grid.to_dict("records"):
        names = set(row["experiments"].split(",")).intersection(BASELINE_EXPERIMENTS)
        if names:
            key = (
                row["dataset"],
                NO_MODEL,
                DICTIONARY,
                0,
                row["shots"],
                row["train_institution"],
                row["seed"],
            )
            membership.setdefault(key, set()).update(names)
    frame = pd.DataFrame(list(membership), columns=list(CELL_FIELDS))
    frame["experiments"] = [
        ",".join(n for n in BASELINE_EXPERIMENTS if n in names) for names in membership.values()
    ]
    return frame.astype({"prompt_length": "int64", "seed": "int64", "shots": "str"})


def score_dictionary(
    tables_dir: Path,
    schema_name: str,
    cell: dict,
    test_institution: str,
    metrics_path: Path,
    bootstrap: int = 1000,
) -> dict:
    """Build the dictionary of `cell`'s training documents, find it in the test documents of
    one institution, score them and write the metrics JSON atomically; return the metrics.

    `cell` has the `CELL_FIELDS` keys (shots a number or `all`); the cost is the dictionary's:
    no parameters, its build time as training time, the process's peak resident memory.
    """
    tables = CorpusTables.read(tables_dir)
    schema = load_schema(schema_name)
    started = time.perf_counter()
    train_keys = draw_shots(
        tables.documents, cell["shots"], cell["seed"], cell["train_institution"]
    )
    entities = tables.entities[tables.entities["document"].isin(train_keys)]
    dictionary = mention_dictionary(entities, schema.concept_types)
    train_seconds = time.perf_counter() - started
    test = documents_tested_at(tables, test_institution)
    started = time.perf_counter()
    predicted = dictionary_predictions(dictionary, test)
    predict_seconds = time.perf_counter() - started
    gold = table_documents(tables, list(test["document"]))
    report = score_predictions(gold, predicted, schema, bootstrap, int(cell["seed"]))
    report["diagnostics"] = {
        "train_documents": len(train_keys),
        "dictionary_entries": len(dictionary),
    }
    log.info(
        "dictionary of %d strings from %d training documents", len(dictionary), len(train_keys)
    )
    summary = {
        "cell": cell,
        "parameters": {"trainable": 0, "total": 0, "share": 0.0},
        "train_seconds": train_seconds,
        "tokens_per_second": 0.0,
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "padding_waste": 0.0,
        "best_epoch": 0,
        "epochs_run": 0,
    }
    return write_metrics(report, summary, test_institution, predict_seconds, metrics_path)
