"""End-to-end prediction: documents in, predicted BRAT documents out, no gold in the input.

In: a trained `ExtractionModel`, its tokenizer, the schema and a documents table. Out: one
`Document` per input document holding predicted concepts and relations. Concepts come from
every window (BIO tags for `finetune`, one MRC query per window and concept type otherwise);
relations are then asked from the *predicted* concepts: entity-marker pairs for `finetune`,
one MRC query per (predicted trigger, relation type) otherwise, decoded under the cell's
thresholds per task (`SpanThresholds`, chosen on dev). A relation answer becomes Arg1 of the
relation: the predicted concept of an allowed type with the same span, or, when there is
none, a new concept of the relation's first Arg1 type, so end-to-end relations may add
concepts the concept queries missed. Those carry a BRAT note (`AnnotatorNotes` with text
`RELATION_ANSWER`), so that concept scores can be taken from the concept queries alone.
A model with a value head (schemas with labeled arguments: SDoH) gives every predicted concept
of a labeled type its value: the value head's probabilities are summed over every row (concept
query, BIO window, relation answer) that proposed the concept's span, and the most probable of
the values its type allows becomes the attribute the schema defines (`A1 StatusTimeVal T2
past`), which the event scorer reads.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

from clinprompt.corpus.brat import (
    RELATION_ANSWER,
    Attribute,
    Document,
    Entity,
    Note,
    Relation,
    write_document,
)
from clinprompt.corpus.events import ValueVocabulary
from clinprompt.corpus.schema import DatasetSchema
from clinprompt.corpus.tables import entity_row
from clinprompt.examples.finetune import bio_examples, pair_examples
from clinprompt.examples.mrc import concept_examples, relation_examples
from clinprompt.examples.settings import ExampleSettings, bio_label_names
from clinprompt.model.extraction import ExtractionModel, autocast
from clinprompt.predict.decode import (
    SpanPrediction,
    SpanThresholds,
    bio_decode_words,
    char_span_to_fragments,
    predictions_to_entities,
    token_span_to_chars,
)
from clinprompt.predict.outputs import (
    pair_logits,
    row_batches,
    span_predictions,
    value_probabilities,
)

log = logging.getLogger(__name__)


class _ValueVotes:
    """The value head's probabilities summed per document and predicted span of a labeled
    type, and the value attributes they give the entities with those spans."""

    def __init__(self, vocabulary: ValueVocabulary, texts: dict[str, str]) -> None:
        self.vocabulary, self.texts = vocabulary, texts
        self.votes: dict[str, dict[tuple[str, int, int], Tensor]] = defaultdict(dict)

    def add(
        self, document: str, entity_type: str, start: int, end: int, probabilities: Tensor | None
    ) -> None:
        """Add one row's probabilities for a span (keyed as its entity will be: trimmed)."""
        if probabilities is None or entity_type not in self.vocabulary.allowed:
            return
        fragments = char_span_to_fragments(self.texts[document], start, end)
        if not fragments:
            return
        key = (entity_type, fragments[0][0], fragments[-1][1])
        votes = self.votes[document]
        votes[key] = votes[key] + probabilities if key in votes else probabilities

    def attributes(self, document: str, entities: list[Entity]) -> list[Attribute]:
        """`A<n>` value attributes of the entities that got votes: the best allowed value."""
        votes = self.votes.get(document, {})
        found: list[Attribute] = []
        for entity in entities:
            summed = votes.get((entity.type, entity.start, entity.end))
            if summed is None:
                continue
            allowed = self.vocabulary.allowed[entity.type]
            best = allowed[int(summed[list(allowed)].argmax())]
            found.append(
                Attribute(
                    f"A{len(found) + 1}",
                    self.vocabulary.attributes[entity.type],
                    entity.id,
                    self.vocabulary.names[best],
                )
            )
        return found


def _entity_table(documents: pd.DataFrame, entities: dict[str, list[Entity]]) -> pd.DataFrame:
    """Predicted entities in the corpus table's layout (the trigger input of relations)."""
    keys = documents.set_index("document")
    rows = [
        {
            "document": key,
            "split": keys.at[key, "split"],
            "institution": keys.at[key, "institution"],
            **entity_row(e),
        }
        for key, doc_entities in entities.items()
        for e in doc_entities
    ]
    columns = [
        "document",
        "split",
        "institution",
        "entity_id",
        "type",
        "start",
        "end",
        "fragments",
        "text",
        "value",
    ]
    return pd.DataFrame(rows, columns=columns)


class Predictor:
    """Runs one trained model over documents, concepts first, then relations from them.

    `counts` holds the last `predict` call's decoding counts: `spans_dropped` (MRC bridges,
    see `decode_spans`) and the rows asked and answered per task. MRC rows decode under
    `thresholds` (per task), entity-marker pairs add `none_bias` to the no-relation logit (both
    chosen on dev, see `thresholds`). Concepts of labeled types get the value head's values
    (see the module docstring).
    """

    def __init__(
        self,
        model: ExtractionModel,
        tokenizer,
        schema: DatasetSchema,
        settings: ExampleSettings,
        batch_size: int = 32,
        thresholds: dict[str, SpanThresholds] | None = None,
        none_bias: float = 0.0,
    ) -> None:
        self.model, self.tokenizer, self.schema = model, tokenizer, schema
        self.settings, self.batch_size = settings, batch_size
        self.pad_id = tokenizer.pad_token_id
        self.thresholds = thresholds or {}
        self.none_bias = none_bias
        self.counts: Counter[str] = Counter(spans_dropped=0)
        self.vocabulary = ValueVocabulary.of(schema)

    @torch.inference_mode()
    def predict(self, documents: pd.DataFrame, relations: bool = True) -> dict[str, Document]:
        """Predicted documents keyed by `document`; concepts only when `relations` is false
        (an untrained MRC model marks spans everywhere, and every one would be a trigger)."""
        self.model.eval()
        self.counts = Counter(spans_dropped=0)
        self._from_relations: dict[str, list[str]] = defaultdict(list)
        texts = dict(zip(documents["document"], documents["text"], strict=True))
        self._votes = _ValueVotes(self.vocabulary, texts)
        if self.model.settings.kind.entity_markers:
            entities = self._tagged_concepts(documents, texts)
        else:
            entities = self._queried_concepts(documents, texts)
        table = _entity_table(documents, entities)
        if not relations:
            pairs = {}
        elif self.model.settings.kind.entity_markers:
            pairs = self._paired_relations(documents, table)
        else:
            pairs = self._queried_relations(documents, texts, table, entities)
        from_relations = self._from_relations
        return {
            key: Document(
                key.rsplit("/", 1)[-1],
                texts[key],
                entities.get(key, []),
                pairs.get(key, []),
                notes=[
                    Note(f"#{n}", "AnnotatorNotes", entity_id, RELATION_ANSWER)
                    for n, entity_id in enumerate(from_relations.get(key, []), 1)
                ],
                attributes=self._votes.attributes(key, entities.get(key, [])),
            )
            for key in documents["document"]
        }

    def _queried_concepts(
        self, documents: pd.DataFrame, texts: dict[str, str]
    ) -> dict[str, list[Entity]]:
        frame, _ = concept_examples(documents, self.schema, self.tokenizer, self.settings)
        found: dict[str, list[SpanPrediction]] = defaultdict(list)
        for row, spans, values in span_predictions(
            self.model,
            frame,
            texts,
            self.batch_size,
            self.pad_id,
            self.counts,
            self.thresholds.get("concept", SpanThresholds()),
        ):
            for (i, j, score), value in zip(spans, values, strict=True):
                start, end = token_span_to_chars(i, j, row.token_starts, row.token_ends)
                found[row.document].append(SpanPrediction(row.query_type, start, end, score))
                self._votes.add(row.document, row.query_type, start, end, value)
        return {key: predictions_to_entities(texts[key], found[key]) for key in found}

    def _tagged_concepts(
        self, documents: pd.DataFrame, texts: dict[str, str]
    ) -> dict[str, list[Entity]]:
        frame, _ = bio_examples(documents, self.schema, self.tokenizer, self.settings)
        names = bio_label_names(self.schema)
        found: dict[str, list[SpanPrediction]] = defaultdict(list)
        device = next(self.model.parameters()).device
        for part, batch in row_batches(self.model, frame, self.batch_size, self.pad_id):
            with autocast(device):
                logits, hidden_states = self.model.forward_tags(batch)
            labels = logits.argmax(-1).cpu()
            spans = [
                bio_decode_words(
                    labels[b, : len(row.token_starts)].tolist(),
                    texts[row.document],
                    list(row.token_starts),
                    list(row.token_ends),
                    names,
                    self.counts,
                )
                for b, row in enumerate(part.itertuples())
            ]
            values = value_probabilities(self.model, hidden_states, spans)
            for row, row_spans, row_values in zip(part.itertuples(), spans, values, strict=True):
                for (i, j, kind), value in zip(row_spans, row_values, strict=True):
                    start, end = token_span_to_chars(i, j, row.token_starts, row.token_ends)
                    found[row.document].append(SpanPrediction(kind, start, end, 1.0))
                    self._votes.add(row.document, kind, start, end, value)
        return {key: predictions_to_entities(texts[key], found[key]) for key in found}

    def _paired_relations(
        self, documents: pd.DataFrame, table: pd.DataFrame
    ) -> dict[str, list[Relation]]:
        relations: dict[str, list[Relation]] = defaultdict(list)
        if table.empty:
            return relations
        frame, _ = pair_examples(documents, table, self.schema, self.tokenizer, self.settings)
        types = self.schema.relation_types
        scored = pair_logits(self.model, frame, self.batch_size, self.pad_id)
        for part, logits in scored:
            logits[:, 0] += self.none_bias
            for label, row in zip(logits.argmax(-1).tolist(), part.itertuples(), strict=True):
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
        rows = span_predictions(
            self.model,
            frame,
            texts,
            self.batch_size,
            self.pad_id,
            self.counts,
            self.thresholds.get("relation", SpanThresholds()),
        )
        for row, spans, values in rows:
            answer_types = self.schema.answer_types(row.query_type, row.trigger_role)
            doc_entities = entities.setdefault(row.document, [])
            for (i, j, _), value in zip(spans, values, strict=True):
                start, end = token_span_to_chars(i, j, row.token_starts, row.token_ends)
                known = len(doc_entities)
                answer = _argument(texts[row.document], doc_entities, answer_types, start, end)
                if len(doc_entities) > known:
                    self._from_relations[row.document].append(answer)
                if answer is None:
                    continue
                answer_type = next(e.type for e in doc_entities if e.id == answer)
                self._votes.add(row.document, answer_type, start, end, value)
                if answer == row.trigger_id:
                    continue
                arg1, arg2 = (
                    (row.trigger_id, answer)
                    if row.trigger_role == "arg1"
                    else (answer, row.trigger_id)
                )
                key = (row.document, row.query_type, arg1, arg2)
                if key not in seen:
                    seen.add(key)
                    found = relations[row.document]
                    found.append(Relation(f"R{len(found) + 1}", row.query_type, arg1, arg2))
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
