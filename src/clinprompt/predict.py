"""End-to-end prediction: documents in, predicted BRAT documents out, no gold in the input.

In: a trained `ExtractionModel`, its tokenizer, the schema and a documents table. Out: one
`Document` per input document holding predicted concepts and relations. Concepts come from
every window (BIO tags for `finetune`, one MRC query per window and concept type otherwise);
relations are then asked from the *predicted* concepts: entity-marker pairs for `finetune`,
one MRC query per (predicted trigger, relation type) otherwise. A relation answer becomes
Arg1 of the relation: the predicted concept of an allowed type with the same span, or, when
there is none, a new concept of the relation's first Arg1 type (so end-to-end relations may
add concepts the concept queries missed).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import torch

from clinprompt.batching import bucketed_batches, collate, to_device
from clinprompt.brat import Document, Entity, Relation, write_document
from clinprompt.decode import (
    SpanPrediction,
    bio_decode,
    decode_spans,
    predictions_to_entities,
    token_span_to_chars,
    word_boundary_masks,
)
from clinprompt.examples import (
    ExampleSettings,
    bio_examples,
    bio_label_names,
    concept_examples,
    pair_examples,
    relation_examples,
)
from clinprompt.models import ExtractionModel, autocast
from clinprompt.schema import DatasetSchema

log = logging.getLogger(__name__)


def _batches(
    model: ExtractionModel, frame: pd.DataFrame, batch_size: int, pad_id: int
) -> Iterator[tuple[pd.DataFrame, dict]]:
    device = next(model.parameters()).device
    for kind, rows in bucketed_batches(frame, batch_size, seed=None):
        yield frame.iloc[rows], to_device(collate(frame, kind, rows, pad_id), device)


def _span_predictions(
    model: ExtractionModel, frame: pd.DataFrame, texts: dict[str, str], batch_size: int, pad_id: int
) -> Iterator[tuple[pd.Series, list[tuple[int, int, float]]]]:
    """(row, accepted token spans) for every MRC row."""
    width = model.settings.max_span_width
    device = next(model.parameters()).device
    for part, batch in _batches(model, frame, batch_size, pad_id):
        with autocast(device):
            out = model.forward_spans(batch)
        masks = [
            word_boundary_masks(texts[row.document], row.token_starts, row.token_ends)
            for row in part.itertuples()
        ]
        length = batch["input_ids"].shape[1]
        starts = torch.zeros(len(part), length, dtype=torch.bool)
        ends = torch.zeros_like(starts)
        for b, (s, e) in enumerate(masks):
            starts[b, : len(s)] = torch.as_tensor(s)
            ends[b, : len(e)] = torch.as_tensor(e)
        spans = decode_spans(
            out.start_logits, out.end_logits, out.pairs, out.match_logits,
            out.context_mask, starts, ends, width,
        )  # fmt: skip
        yield from zip((row for _, row in part.iterrows()), spans, strict=True)


def _entity_table(documents: pd.DataFrame, entities: dict[str, list[Entity]]) -> pd.DataFrame:
    """Predicted entities in the corpus table's layout (the trigger input of relations)."""
    keys = documents.set_index("document")
    rows = [
        {"document": key, "split": keys.at[key, "split"],
         "institution": keys.at[key, "institution"], "entity_id": e.id, "type": e.type,
         "start": e.start, "end": e.end,
         "fragments": [{"start": s, "end": t} for s, t in e.fragments], "text": e.text,
         "value": None}
        for key, doc_entities in entities.items()
        for e in doc_entities
    ]  # fmt: skip
    columns = ["document", "split", "institution", "entity_id", "type", "start", "end",
               "fragments", "text", "value"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _pair_labels(schema: DatasetSchema, arg1_type: str, arg2_type: str) -> list[bool]:
    """Which pair labels (0 = no relation, then each relation type) the two types allow."""
    return [True] + [
        arg1_type in schema.relations[name].arg1 and arg2_type in schema.relations[name].arg2
        for name in schema.relation_types
    ]


class Predictor:
    """Runs one trained model over documents, concepts first, then relations from them."""

    def __init__(
        self,
        model: ExtractionModel,
        tokenizer,
        schema: DatasetSchema,
        settings: ExampleSettings,
        batch_size: int = 32,
    ) -> None:
        self.model, self.tokenizer, self.schema = model, tokenizer, schema
        self.settings, self.batch_size = settings, batch_size
        self.pad_id = tokenizer.pad_token_id

    @torch.inference_mode()
    def predict(self, documents: pd.DataFrame, relations: bool = True) -> dict[str, Document]:
        """Predicted documents keyed by `document`; concepts only when `relations` is false
        (an untrained MRC model marks spans everywhere, and every one would be a trigger)."""
        self.model.eval()
        texts = dict(zip(documents["document"], documents["text"], strict=True))
        if self.model.settings.strategy == "finetune":
            entities = self._tagged_concepts(documents, texts)
        else:
            entities = self._queried_concepts(documents, texts)
        table = _entity_table(documents, entities)
        if not relations:
            pairs = {}
        elif self.model.settings.strategy == "finetune":
            pairs = self._paired_relations(documents, table)
        else:
            pairs = self._queried_relations(documents, texts, table, entities)
        return {
            key: Document(key.rsplit("/", 1)[-1], texts[key], entities.get(key, []),
                          pairs.get(key, []))
            for key in documents["document"]
        }  # fmt: skip

    def _queried_concepts(
        self, documents: pd.DataFrame, texts: dict[str, str]
    ) -> dict[str, list[Entity]]:
        frame, _ = concept_examples(documents, self.schema, self.tokenizer, self.settings)
        found: dict[str, list[SpanPrediction]] = defaultdict(list)
        for row, spans in _span_predictions(self.model, frame, texts, self.batch_size, self.pad_id):
            for i, j, score in spans:
                start, end = token_span_to_chars(i, j, row.token_starts, row.token_ends)
                found[row.document].append(SpanPrediction(row.query_type, start, end, score))
        return {key: predictions_to_entities(texts[key], found[key]) for key in found}

    def _tagged_concepts(
        self, documents: pd.DataFrame, texts: dict[str, str]
    ) -> dict[str, list[Entity]]:
        frame, _ = bio_examples(documents, self.schema, self.tokenizer, self.settings)
        names = bio_label_names(self.schema)
        found: dict[str, list[SpanPrediction]] = defaultdict(list)
        device = next(self.model.parameters()).device
        for part, batch in _batches(self.model, frame, self.batch_size, self.pad_id):
            with autocast(device):
                labels = self.model.forward_tags(batch).argmax(-1).cpu()
            for b, row in enumerate(part.itertuples()):
                starts, ends = list(row.token_starts), list(row.token_ends)
                ids = [int(x) if s >= 0 else -100 for x, s in zip(labels[b], starts, strict=False)]
                for i, j, kind in bio_decode(ids, names):
                    start, end = token_span_to_chars(i, j, starts, ends)
                    found[row.document].append(SpanPrediction(kind, start, end, 1.0))
        return {key: predictions_to_entities(texts[key], found[key]) for key in found}

    def _paired_relations(
        self, documents: pd.DataFrame, table: pd.DataFrame
    ) -> dict[str, list[Relation]]:
        relations: dict[str, list[Relation]] = defaultdict(list)
        if table.empty:
            return relations
        frame, _ = pair_examples(documents, table, self.schema, self.tokenizer, self.settings)
        types = self.schema.relation_types
        entity_type = table.set_index(["document", "entity_id"])["type"].to_dict()
        device = next(self.model.parameters()).device
        for part, batch in _batches(self.model, frame, self.batch_size, self.pad_id):
            allowed = torch.tensor([
                _pair_labels(self.schema, entity_type[row.document, row.arg1_id],
                             entity_type[row.document, row.arg2_id])
                for row in part.itertuples()
            ], device=device)  # fmt: skip
            with autocast(device):
                logits = self.model.forward_pairs(batch)
            labels = logits.float().masked_fill(~allowed, -torch.inf).argmax(-1).cpu().tolist()
            for label, row in zip(labels, part.itertuples(), strict=True):
                if label:
                    found = relations[row.document]
                    found.append(
                        Relation(f"R{len(found) + 1}", types[label - 1], row.arg1_id, row.arg2_id)
                    )
        return relations

    def _queried_relations(
        self,
        documents: pd.DataFrame,
        texts: dict[str, str],
        table: pd.DataFrame,
        entities: dict[str, list[Entity]],
    ) -> dict[str, list[Relation]]:
        relations: dict[str, list[Relation]] = defaultdict(list)
        if table.empty:
            return relations
        frame, _ = relation_examples(documents, table, self.schema, self.tokenizer, self.settings)
        seen: set[tuple[str, str, str, str]] = set()
        rows = _span_predictions(self.model, frame, texts, self.batch_size, self.pad_id)
        for row, spans in rows:
            spec = self.schema.relations[row.query_type]
            doc_entities = entities.setdefault(row.document, [])
            for i, j, _ in spans:
                start, end = token_span_to_chars(i, j, row.token_starts, row.token_ends)
                arg1 = _argument(texts[row.document], doc_entities, spec.arg1, start, end)
                key = (row.document, row.query_type, arg1, row.trigger_id)
                if arg1 is not None and key not in seen and arg1 != row.trigger_id:
                    seen.add(key)
                    found = relations[row.document]
                    found.append(
                        Relation(f"R{len(found) + 1}", row.query_type, arg1, row.trigger_id)
                    )
        return relations


def _argument(
    text: str, entities: list[Entity], types: tuple[str, ...], start: int, end: int
) -> str | None:
    """Id of the concept answering a relation query; a new concept when none has the span."""
    for entity in entities:
        if entity.type in types and (entity.start, entity.end) == (start, end):
            return entity.id
    new = predictions_to_entities(
        text, [SpanPrediction(types[0], start, end, 1.0)], first_id=_next_id(entities)
    )
    if not new:
        return None
    entities.append(new[0])
    return new[0].id


def _next_id(entities: list[Entity]) -> int:
    numbers = [int(e.id[1:]) for e in entities if e.id[1:].isdigit()]
    return max(numbers, default=0) + 1


def write_predictions(predicted: dict[str, Document], folder: Path) -> int:
    """Write an `.ann` for every predicted document (empty when nothing was found)."""
    for doc in predicted.values():
        write_document(doc, folder, write_text=False)
    log.info("wrote %d prediction files", len(predicted))
    return len(predicted)
