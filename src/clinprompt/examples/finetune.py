"""finetune rows: one BIO row per window and one entity-marker pair row per (candidate, trigger)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from clinprompt.corpus.events import ValueVocabulary
from clinprompt.corpus.schema import DatasetSchema
from clinprompt.examples.inputs import (
    _assemble,
    _by_document,
    _check_types,
    _context,
    _counts,
    _documents,
    _entities_of,
    _frame,
    _gold_values,
    _outside,
    _RelationLayout,
    _row,
    _Template,
    _trigger_window,
    _value_columns,
    context_tokens,
)
from clinprompt.examples.settings import (
    IGNORE_INDEX,
    ExampleSettings,
    Span,
)
from clinprompt.examples.windows import (
    Window,
    word_boundary_masks,
)

# --------------------------------------------------------------------------- finetune rows


def resolve_overlaps(spans: dict[str, Span], entities: pd.DataFrame) -> tuple[dict[str, Span], int]:
    """Non-overlapping spans for BIO tags: the longest mention in characters wins, then the
    earliest, then the smaller entity id; a mention sharing a token with a kept one is
    dropped. Returns the kept spans and how many were dropped."""
    size = {e.entity_id: int(e.end) - int(e.start) for e in entities.itertuples(index=False)}
    order = sorted(spans, key=lambda i: (-size[i], spans[i][1], spans[i][2], i))
    taken: set[int] = set()
    kept = {}
    for entity_id in order:
        tokens = set(range(spans[entity_id][1], spans[entity_id][2] + 1))
        if taken.isdisjoint(tokens):
            kept[entity_id] = spans[entity_id]
            taken |= tokens
    return kept, len(spans) - len(kept)


def _word_spans(spans: dict[str, Span], word_start: Sequence[bool]) -> tuple[dict[str, Span], int]:
    """Spans widened to whole words (BIO tags words): the first token back to its word's first
    token, the last on to its word's last. Returns them and how many changed (a mention
    starting or ending inside a word, such as "tab" of "1tab", which BIO cannot hold)."""
    widened = {}
    for entity_id, (concept, first, last) in spans.items():
        while first > 0 and not word_start[first]:
            first -= 1
        while last + 1 < len(word_start) and not word_start[last + 1]:
            last += 1
        widened[entity_id] = (concept, first, last)
    return widened, sum(widened[key] != spans[key] for key in spans)


def _bio_labels(
    window: Window, spans: Iterable[Span], schema: DatasetSchema, word_start: Sequence[bool]
) -> list[int]:
    """IOB2 label ids of the window's tokens for the (word) spans it holds whole: on each
    word's first token; continuation tokens get IGNORE_INDEX."""
    first_token = window.first_token
    labels = [
        0 if word_start[t] else IGNORE_INDEX for t in range(first_token, window.last_token + 1)
    ]
    for concept, first, last in spans:
        if window.holds(first, last):
            begin = 1 + 2 * schema.concept_types.index(concept)
            for token in range(first, last + 1):
                if word_start[token]:
                    labels[token - first_token] = begin if token == first else begin + 1
    return labels


def bio_examples(
    documents: pd.DataFrame,
    schema: DatasetSchema,
    tokenizer,
    settings: ExampleSettings,
    entities: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """One BIO row per window; `labels` only with gold `entities`.

    Tags sit on words (see `clinprompt.predict.decode`): a word's first token carries its label, its
    continuation tokens and the special tokens -100. Label ids follow `bio_label_names`.
    Counts: `entities_widened_to_words` (see `_word_spans`), `overlapping_dropped` (see
    `resolve_overlaps`, after widening), `entities_outside_windows`, `entities_without_tokens`.
    """
    _check_types(entities, schema, "entities")
    budget = context_tokens(tokenizer, schema, settings, "concept")
    template = _Template.of(tokenizer, pair=False)
    gold = _by_document(entities)
    vocabulary = ValueVocabulary.of(schema)
    valued = entities is not None and bool(vocabulary.names)
    rows: list[dict] = []
    counts = _counts(
        "entities_widened_to_words",
        "overlapping_dropped",
        "entities_outside_windows",
        "entities_without_tokens",
    )
    for doc in _documents(documents, tokenizer):
        windows = doc.windows(budget, settings)
        word_start, _ = word_boundary_masks(doc.text, doc.tokens.starts, doc.tokens.ends)
        spans, widened, dropped = {}, 0, 0
        if doc.key in gold:
            spans, widened = _word_spans(doc.spans(gold[doc.key], counts), word_start)
            spans, dropped = resolve_overlaps(spans, gold[doc.key])
        counts["entities_widened_to_words"] += widened
        counts["overlapping_dropped"] += dropped
        counts["entities_outside_windows"] += _outside(spans.values(), windows)
        values = _gold_values(gold.get(doc.key), vocabulary) if valued else {}
        for window in windows:
            context = _context(doc.tokens, window.first_token, window.last_token)
            inputs = _assemble(template, context)
            offset = inputs.pop("offset")
            labels, value_columns = None, {}
            if entities is not None:
                labels = [IGNORE_INDEX] * len(inputs["input_ids"])
                tags = _bio_labels(window, spans.values(), schema, word_start)
                labels[offset : offset + len(tags)] = tags
            if valued:
                inside = [
                    (entity_id, first, last)
                    for entity_id, (_, first, last) in spans.items()
                    if window.holds(first, last)
                ]
                value_columns = _value_columns(inside, context, offset, values)
            rows.append(
                _row(
                    example_id=f"{doc.key}:bio:w{window.index}",
                    **doc.keys,
                    window=window.index,
                    task="concept",
                    query_type="BIO",
                    **inputs,
                    labels=labels,
                    **value_columns,
                )
            )
    return _frame(rows), dict(counts)


def _pair_links(relations: pd.DataFrame | None) -> dict[tuple[str, str, str], str]:
    """Relation type per (document, Arg1 id, Arg2 id); the first row wins."""
    links: dict[tuple[str, str, str], str] = {}
    for rel in () if relations is None else relations.itertuples(index=False):
        links.setdefault((rel.document, rel.arg1, rel.arg2), rel.type)
    return links


def _pair_partners(schema: DatasetSchema) -> dict[str, dict[str, set[str]]]:
    """Per trigger type and trigger role, the types of the other argument it may pair with."""
    partners: dict[str, dict[str, set[str]]] = {}
    for trigger, asked in schema.relation_queries.items():
        for name in asked:
            role = schema.trigger_role(trigger, name)
            partners.setdefault(trigger, {}).setdefault(role, set()).update(
                schema.answer_types(name, role)
            )
    return partners


def pair_examples(
    documents: pd.DataFrame,
    entities: pd.DataFrame,
    schema: DatasetSchema,
    tokenizer,
    settings: ExampleSettings,
    relations: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Entity-marker rows for every (candidate, trigger) pair of `entities` (gold or predicted).

    As for MRC, a trigger is an entity of a type relation queries are asked from, and its
    context is the MRC relation row's: the previous, the trigger's and the next relation
    window. Its candidates are the entities lying whole in that context of a type that can be
    the other argument of one of those relations, the trigger being Arg2 or Arg1 as
    `schema.trigger_role` says; Arg1 is marked `[s1] .. [e1]`, Arg2 `[s2] .. [e2]`, and each
    ordered pair is proposed once. `label` = 1 + index of the pair's gold relation type,
    0 = none; null without `relations`; `labels_allowed` the labels the two arguments' types
    allow (`DatasetSchema.pair_labels`), the only ones trained and predicted. `window` is the
    concept window holding the trigger. Counts: `triggers_without_tokens`,
    `relations_without_candidate` (gold links of these documents never proposed, e.g. an
    argument outside the trigger's context).
    """
    _check_types(entities, schema, "entities")
    layout = _RelationLayout.of(tokenizer, schema, settings)
    s1, e1, s2, e2 = layout.markers
    concept_window = context_tokens(tokenizer, schema, settings, "concept")
    partners = _pair_partners(schema)
    gold = _pair_links(relations)
    by_doc, keys = _by_document(entities), set(documents["document"])
    proposed: set[tuple[str, str, str]] = set()
    rows: list[dict] = []
    counts = _counts("triggers_without_tokens", "relations_without_candidate")
    for doc in _documents(documents, tokenizer):
        windows = doc.windows(layout.window_budget, settings)
        concept_windows = doc.windows(concept_window, settings)
        spans = doc.spans(by_doc.get(doc.key))
        for trigger in _entities_of(by_doc, doc.key):
            if trigger.type not in partners:
                continue
            if trigger.entity_id not in spans:
                counts["triggers_without_tokens"] += 1
                continue
            _, ft, lt = spans[trigger.entity_id]
            _, low, high = layout.span(windows, ft, lt)
            for role, kinds in partners[trigger.type].items():
                for other, (kind, fo, lo) in spans.items():
                    if other == trigger.entity_id or kind not in kinds:
                        continue
                    if not (low <= fo and lo <= high):
                        continue
                    arg1, arg2 = (
                        (other, trigger.entity_id) if role == "arg2" else (trigger.entity_id, other)
                    )
                    if (doc.key, arg1, arg2) in proposed:
                        continue
                    proposed.add((doc.key, arg1, arg2))
                    (_, f1, l1), (_, f2, l2) = spans[arg1], spans[arg2]
                    marks = [(f1, 1, s1), (f2, 1, s2), (l1 + 1, 0, e1), (l2 + 1, 0, e2)]
                    inputs = _assemble(layout.template, _context(doc.tokens, low, high, marks))
                    inputs.pop("offset")
                    label = None
                    if relations is not None:
                        relation = gold.pop((doc.key, arg1, arg2), None)
                        label = 0 if relation is None else 1 + schema.relation_types.index(relation)
                    rows.append(
                        _row(
                            example_id=f"{doc.key}:pair:{arg1}:{arg2}",
                            **doc.keys,
                            window=_trigger_window(concept_windows, ft, ft),
                            task="relation",
                            query_type="pair",
                            **inputs,
                            arg1_id=arg1,
                            arg2_id=arg2,
                            label=label,
                            labels_allowed=schema.pair_labels(spans[arg1][0], spans[arg2][0]),
                        )
                    )
    counts["relations_without_candidate"] = sum(key[0] in keys for key in gold)
    return _frame(rows), dict(counts)
