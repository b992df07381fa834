"""SDoH event scoring with the semantics of the 2022 n2c2 Track 2 scorer (`brat_scoring`).

In: `DocumentPair`s whose gold documents hold BRAT events with value attributes and whose
predictions hold events or the study's view (converted by `clinprompt.corpus.events.event_view`, the
values of their labeled arguments from `value_source`: the model's, or the keyword rules'
baseline), and the dataset schema (its `labeled_arguments`). Out: an `EventEvaluation` with
tp/fp/fn per document and per row (event type, argument type, value), from which `to_json`
builds `{"micro": {...}, "rows": [...]}` and `format_table` a table. Rules, as the official
scorer with its challenge criteria (trigger "overlap", span-only "exact", labeled "label"): gold
events are taken in file order and each is aligned with the first unaligned predicted event of
the same type whose trigger span overlaps; inside an aligned pair, each gold argument is matched
with the first unmatched predicted argument of the same type — labeled arguments (StatusTime,
StatusEmploy, TypeLiving) need the same value, span ignored; span-only arguments need the same
span. Aligned triggers and matched arguments are TP; every trigger and argument counts towards
the gold (FN = gold - TP) and predicted (FP = predicted - TP) totals of its row. The trigger row
has argument "Trigger" and no value; so do span-only arguments.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from clinprompt.corpus.brat import Document
from clinprompt.corpus.events import event_view
from clinprompt.corpus.schema import DatasetSchema
from clinprompt.score.n2c2 import COUNTS, METRICS, CountTable, metrics, micro_json, prf
from clinprompt.score.pairs import DocumentPair

TRIGGER = "Trigger"


@dataclass(frozen=True)
class EventRow:
    """One row of the event table: event type, argument type (or "Trigger"), value."""

    event: str
    argument: str
    value: str | None = None

    def sort_key(self) -> tuple[str, bool, str, str]:
        """Event type, then the trigger row, then arguments and values by name."""
        return self.event, self.argument != TRIGGER, self.argument, self.value or ""


@dataclass(frozen=True)
class _Mention:
    """A trigger or argument as the scorer sees it."""

    type: str
    start: int
    end: int
    value: str | None = None


@dataclass(frozen=True)
class _Event:
    type: str
    trigger: _Mention
    arguments: tuple[_Mention, ...]


@dataclass(frozen=True)
class EventEvaluation:
    """Event counts per document and row over the scored documents."""

    doc_ids: tuple[str, ...]
    table: CountTable


def _events(doc: Document, schema: DatasetSchema) -> list[_Event]:
    """The events of a document as spans and values; arguments that are events are skipped."""
    entities = doc.entity_by_id()
    values = schema.concept_values(doc)

    def mention(entity_id: str) -> _Mention:
        entity = entities[entity_id]
        return _Mention(entity.type, entity.start, entity.end, values.get(entity_id))

    return [
        _Event(
            event.type,
            mention(event.trigger),
            tuple(mention(ref) for _, ref in event.arguments if ref in entities),
        )
        for event in doc.events
    ]


def _overlap(a: _Mention, b: _Mention) -> bool:
    return a.start < b.end and b.start < a.end


def _argument_match(gold: _Mention, pred: _Mention, labeled: tuple[str, ...]) -> bool:
    if gold.type != pred.type:
        return False
    if gold.type in labeled:
        return gold.value == pred.value
    return (gold.start, gold.end) == (pred.start, pred.end)


def _greedy(gold: Sequence, pred: Sequence, match: Callable) -> list[tuple[int, int]]:
    """Official one-to-one alignment: each gold item takes the first free matching prediction."""
    taken: set[int] = set()
    pairs = []
    for i, g in enumerate(gold):
        j = next((j for j, p in enumerate(pred) if j not in taken and match(g, p)), None)
        if j is not None:
            taken.add(j)
            pairs.append((i, j))
    return pairs


def _row(event_type: str, mention: _Mention | None = None) -> EventRow:
    if mention is None:
        return EventRow(event_type, TRIGGER)
    return EventRow(event_type, mention.type, mention.value)


def _totals(events: list[_Event]) -> Counter[EventRow]:
    """Triggers and arguments per row."""
    counts: Counter[EventRow] = Counter()
    for event in events:
        counts[_row(event.type)] += 1
        counts.update(_row(event.type, argument) for argument in event.arguments)
    return counts


def _true_positives(
    gold: list[_Event], pred: list[_Event], labeled: tuple[str, ...]
) -> Counter[EventRow]:
    """Aligned triggers and matched arguments per row (keyed by the gold item)."""
    counts: Counter[EventRow] = Counter()
    aligned = _greedy(gold, pred, lambda g, p: g.type == p.type and _overlap(g.trigger, p.trigger))
    for i, j in aligned:
        counts[_row(gold[i].type)] += 1
        gold_args, pred_args = gold[i].arguments, pred[j].arguments
        matched = _greedy(gold_args, pred_args, lambda g, p: _argument_match(g, p, labeled))
        counts.update(_row(gold[i].type, gold_args[k]) for k, _ in matched)
    return counts


def evaluate_events(
    pairs: Sequence[DocumentPair], schema: DatasetSchema, value_source: str = "model"
) -> EventEvaluation:
    """Count tp/fp/fn per document and row, predicted values from `value_source`."""
    per_document = []
    for pair in pairs:
        gold = _events(event_view(pair.gold, schema, pair.gold_source), schema)
        pred = _events(event_view(pair.pred, schema, pair.pred_source, value_source), schema)
        per_document.append(
            (_totals(gold), _totals(pred), _true_positives(gold, pred, schema.labeled_arguments))
        )
    seen = {row for counters in per_document for counter in counters for row in counter}
    rows = sorted(seen, key=EventRow.sort_key)
    counts = np.zeros((len(pairs), len(rows), 3), dtype=np.int64)
    for d, (gold_totals, pred_totals, tp) in enumerate(per_document):
        for r, row in enumerate(rows):
            counts[d, r] = tp[row], pred_totals[row] - tp[row], gold_totals[row] - tp[row]
    return EventEvaluation(tuple(p.doc_id for p in pairs), CountTable(tuple(rows), counts))


def to_json(evaluation: EventEvaluation) -> dict:
    """`{"documents", "micro": {...}, "rows": [{"event", "argument", "value", ...}, ...]}`."""
    table = evaluation.table
    rows = [
        {"event": row.event, "argument": row.argument, "value": row.value, **metrics(c)}
        for row, c in zip(table.rows, table.per_row, strict=True)
    ]
    return {"documents": len(evaluation.doc_ids), "micro": micro_json(table), "rows": rows}


def format_table(evaluation: EventEvaluation) -> str:
    """Rows per (event, argument, value), then the overall micro scores."""
    table = evaluation.table
    header = ["event", "argument", "value", *COUNTS, *METRICS]
    lines = [f"{' EVENTS ':*^90}", _table_line(header)]
    for row, counts in zip(table.rows, table.per_row, strict=True):
        lines.append(
            _table_line([row.event, row.argument, row.value or "-", *counts, *prf(counts)])
        )
    lines.append(_table_line(["Overall (micro)", "", "", *table.micro, *prf(table.micro)]))
    if table.ci is not None:
        low, high = table.ci[2]
        lines.append(f"{'Micro F1 CI':>16}  [{low:.4f}, {high:.4f}]")
    return "\n".join(lines) + "\n"


def _table_line(cells: Sequence) -> str:
    labels = "".join(f"{c!s:<16}" for c in cells[:3])
    counts = "".join(f"{c:>7}" for c in cells[3:6])
    scores = "".join(f"{c:>11.4f}" if isinstance(c, float) else f"{c:>11}" for c in cells[6:])
    return labels + counts + scores
