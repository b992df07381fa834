"""Corpus statistics: counts and scores only, never note text.

In: BRAT `Document`s (for `clinprompt brat stats`) or the corpus tables.
Out: counts of documents and of annotations per entity, relation, event and attribute type,
as plain text for the terminal or as an HTML table for the report (with the number of invalid
annotation lines dropped, read from `validation.json`); and how far string memory
gets on the test split (`dictionary_baseline`): per training and test institution, the share
of distinct test mention strings that occur among the training mentions, and the strict micro
concept F1 of the dictionary baseline (`clinprompt.predict.baseline`, scored by
`clinprompt.score.n2c2`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from clinprompt.atomic import atomic_write_text
from clinprompt.corpus.brat import Document
from clinprompt.corpus.tables import CorpusTables, table_documents
from clinprompt.predict.baseline import dictionary_predictions, mention_dictionary
from clinprompt.score.n2c2 import evaluate, metrics
from clinprompt.score.pairs import DocumentPair

BASELINE_COLUMNS = (
    "train_institution",
    "test_institution",
    "test_strings",
    "seen_share",
    "dictionary_f1",
)


@dataclass
class AnnotationCounts:
    """Documents and annotations per type, by annotation kind."""

    documents: int = 0
    entities: Counter[str] = field(default_factory=Counter)
    relations: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    attributes: Counter[str] = field(default_factory=Counter)

    def add(self, doc: Document) -> None:
        """Count one document's annotations."""
        self.documents += 1
        self.entities.update(e.type for e in doc.entities)
        self.relations.update(r.type for r in doc.relations)
        self.events.update(e.type for e in doc.events)
        self.attributes.update(
            a.type if a.value is None else f"{a.type}={a.value}" for a in doc.attributes
        )

    def format(self) -> str:
        """A terminal listing: documents, then one block per annotation kind."""
        lines = [f"documents\t{self.documents}"]
        for kind in ("entities", "relations", "events", "attributes"):
            counts: Counter[str] = getattr(self, kind)
            lines.append(f"{kind}\t{sum(counts.values())}")
            lines.extend(f"  {name}\t{n}" for name, n in sorted(counts.items()))
        return "\n".join(lines)


def corpus_statistics(tables: CorpusTables) -> pd.DataFrame:
    """One row per (kind, type), one column per split/institution, plus a total column."""
    docs = tables.documents
    columns = sorted(set(zip(docs["split"], docs["institution"], strict=True)), key=_split_order)
    labels = [f"{split} {institution}" for split, institution in columns]
    blocks = [_count_block("documents", docs.assign(type="documents"), columns, labels)]
    for kind in ("entities", "relations", "events"):
        blocks.append(_count_block(kind, getattr(tables, kind), columns, labels))
    values = tables.attributes.assign(
        type=tables.attributes["type"] + "=" + tables.attributes["value"].fillna("yes")
    )
    blocks.append(_count_block("attributes", values, columns, labels))
    table = pd.concat(blocks)
    table["total"] = table.sum(axis=1)
    return table


def _split_order(key: tuple[str, str]) -> tuple[int, str]:
    order = {"train": 0, "dev": 1, "test": 2}
    return order.get(key[0], 3), key[1]


def _count_block(
    kind: str, frame: pd.DataFrame, columns: list[tuple[str, str]], labels: list[str]
) -> pd.DataFrame:
    counts = frame.groupby(["type", "split", "institution"]).size()
    types = sorted(set(frame["type"]))
    block = pd.DataFrame(
        {
            label: [counts.get((t, s, i), 0) for t in types]
            for label, (s, i) in zip(labels, columns, strict=True)
        },
        index=pd.MultiIndex.from_product([[kind], types], names=["kind", "type"]),
    )
    return block.astype("int64")


def dictionary_baseline(
    tables: CorpusTables, training_splits: tuple[str, ...] = ("train",)
) -> pd.DataFrame:
    """`BASELINE_COLUMNS` for every (training institution, test institution) pair.

    The dictionary holds the mentions of the institution's documents in `training_splits`;
    `test_strings` counts the distinct test mention strings (the dictionary's keys: lower-cased,
    whitespace-normalised), `seen_share` is the share of them in the dictionary and
    `dictionary_f1` the baseline's strict micro concept F1 on that institution's test split.
    """
    entities, docs = tables.entities, tables.documents
    types = tuple(sorted(set(entities["type"])))
    training = entities[entities["split"].isin(training_splits)]
    tests = {}
    for institution in sorted(set(docs.loc[docs["split"] == "test", "institution"])):
        test = docs[(docs["split"] == "test") & (docs["institution"] == institution)]
        mentions = entities[entities["document"].isin(test["document"])]
        tests[institution] = (
            test,
            table_documents(tables, list(test["document"])),
            mention_dictionary(mentions, types),
        )
    rows = []
    train_institutions = docs.loc[docs["split"].isin(training_splits), "institution"]
    for train_institution in sorted(set(train_institutions)):
        dictionary = mention_dictionary(
            training[training["institution"] == train_institution], types
        )
        for test_institution, (test, gold, strings) in tests.items():
            predicted = dictionary_predictions(dictionary, test)
            pairs = [DocumentPair(key, gold[key], predicted[key], key, key) for key in sorted(gold)]
            f1 = metrics(evaluate(pairs).table("entities", "strict").micro)["f1"]
            seen = len(strings.keys() & dictionary.keys()) / len(strings) if strings else 0.0
            rows.append((train_institution, test_institution, len(strings), seen, f1))
    return pd.DataFrame(rows, columns=list(BASELINE_COLUMNS))


def format_baseline(baseline: pd.DataFrame) -> str:
    """The baseline table as tab-separated lines for the terminal (shares to 3 decimals)."""
    lines = ["\t".join(BASELINE_COLUMNS)]
    for row in baseline.itertuples(index=False):
        train, test, strings, seen, f1 = row
        lines.append(f"{train}\t{test}\t{strings}\t{seen:.3f}\t{f1:.3f}")
    return "\n".join(lines)


def statistics_html(
    table: pd.DataFrame, title: str, baseline: pd.DataFrame | None = None, dropped: int = 0
) -> str:
    """A self-contained HTML page with the statistics table, the number of annotation lines
    dropped as invalid (when any) and, when given, the baseline."""
    body = table.to_html(border=0, classes="corpus-stats")
    if dropped:
        body += (
            f"<p>{dropped} invalid annotation lines were dropped (on_invalid: drop_annotation);"
            " validation.json lists each as path:line: message.</p>"
        )
    if baseline is not None and not baseline.empty:
        body += (
            "<h3>Dictionary baseline: training mention strings looked up in the test notes</h3>"
            + baseline.to_html(border=0, classes="corpus-stats", index=False, float_format="%.3f")
        )
    style = (
        "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
        "th,td{padding:2px 8px;text-align:right}tr:nth-child(even){background:#f3f3f3}"
        "th{text-align:left}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{style}</style></head><body><h2>{title}</h2>{body}</body></html>\n"
    )


def write_statistics(
    tables_dir: Path, out_html: Path, title: str, validation_json: Path | None = None
) -> pd.DataFrame:
    """Read the corpus tables, write the statistics page (counts, the dropped lines counted in
    `validation_json`, then the dictionary baseline of the train split) atomically, return the
    counts table."""
    tables = CorpusTables.read(tables_dir)
    table = corpus_statistics(tables)
    dropped = 0
    if validation_json is not None:
        dropped = json.loads(Path(validation_json).read_text(encoding="utf-8"))[
            "dropped_annotations"
        ]
    html = statistics_html(table, title, dictionary_baseline(tables), dropped)
    atomic_write_text(out_html, html)
    return table
