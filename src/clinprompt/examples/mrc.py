"""MRC rows: one per (window, concept type) and one per (trigger, relation type)."""

from __future__ import annotations

from collections import Counter, defaultdict

import pandas as pd

from clinprompt.corpus.events import ValueVocabulary
from clinprompt.corpus.schema import DatasetSchema
from clinprompt.examples.inputs import (
    _answers,
    _assemble,
    _by_document,
    _check_types,
    _context,
    _counts,
    _Document,
    _documents,
    _encode,
    _entities_of,
    _frame,
    _gold_values,
    _outside,
    _RelationLayout,
    _row,
    _Template,
    _too_long,
    _value_columns,
    context_tokens,
)
from clinprompt.examples.settings import (
    ExampleSettings,
    Span,
)
from clinprompt.examples.windows import (
    Window,
)

# --------------------------------------------------------------------------- MRC concept rows


def concept_examples(
    documents: pd.DataFrame,
    schema: DatasetSchema,
    tokenizer,
    settings: ExampleSettings,
    entities: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """MRC rows for every (window, concept type) of every document, gold or not.

    Answers are the `entities` lying wholly inside the window (null columns without
    `entities`). Counts: `entities_outside_windows` (held whole by no window),
    `entities_without_tokens` (over no token, left out) and `spans_too_long` (answers wider
    than `max_span_width` tokens, one per row holding them).
    """
    _check_types(entities, schema, "entities")
    budget = context_tokens(tokenizer, schema, settings, "concept")
    template = _Template.of(tokenizer, pair=settings.kind.hard_prompt)
    queries = {t: _encode(tokenizer, schema.concept_queries[t]) for t in schema.concept_types}
    gold = _by_document(entities)
    vocabulary = ValueVocabulary.of(schema)
    valued = entities is not None and bool(vocabulary.names)
    rows: list[dict] = []
    counts = _counts("entities_outside_windows", "entities_without_tokens", "spans_too_long")
    for doc in _documents(documents, tokenizer):
        windows = doc.windows(budget, settings)
        spans = doc.spans(gold.get(doc.key), counts)
        values = _gold_values(gold.get(doc.key), vocabulary) if valued else {}
        counts["entities_outside_windows"] += _outside(spans.values(), windows)
        for window in windows:
            context = _context(doc.tokens, window.first_token, window.last_token)
            for index, concept in enumerate(schema.concept_types):
                query = queries[concept] if settings.kind.hard_prompt else ()
                inputs = _assemble(template, context, query)
                offset = inputs.pop("offset")
                inside = [
                    (entity_id, first, last)
                    for entity_id, (kind, first, last) in spans.items()
                    if kind == concept and window.holds(first, last)
                ]
                answers = {} if entities is None else _answers(inside, context, offset)
                counts["spans_too_long"] += _too_long(answers, settings.max_span_width)
                if valued:
                    answers |= _value_columns(inside, context, offset, values)
                rows.append(
                    _row(
                        example_id=f"{doc.key}:concept:{concept}:w{window.index}",
                        **doc.keys,
                        window=window.index,
                        task="concept",
                        query_type=concept,
                        prompt_index=index,
                        **inputs,
                        **answers,
                    )
                )
    return _frame(rows), dict(counts)


# --------------------------------------------------------------------------- MRC relation rows


def _links(relations: pd.DataFrame | None) -> dict[tuple[str, str, str, str], list[str]]:
    """The other argument's ids per (document, trigger id, relation type, trigger role)."""
    links = defaultdict(list)
    for rel in () if relations is None else relations.itertuples(index=False):
        links[(rel.document, rel.arg2, rel.type, "arg2")].append(rel.arg1)
        links[(rel.document, rel.arg1, rel.type, "arg1")].append(rel.arg2)
    return links


def _trigger_rows(
    layout: _RelationLayout,
    doc: _Document,
    windows: list[Window],
    trigger,
    spans: dict[str, Span] | None,
    values: dict[str, int] | None,
    links: dict[tuple[str, str, str, str], list[str]],
    counts: Counter,
) -> list[dict]:
    """The rows of one trigger, one per relation type asked from its type; value columns when
    `values` (value id per entity id) is given."""
    span = doc.tokens.token_span(int(trigger.start), int(trigger.end))
    if span is None:
        counts["triggers_without_tokens"] += 1
        return []
    where, context = layout.context(doc, windows, *span)
    text = layout.trigger_text(doc.text, int(trigger.start), int(trigger.end))
    first_prompt = len(layout.schema.concept_types)
    rows = []
    for relation in layout.schema.relation_queries[trigger.type]:
        role = layout.schema.trigger_role(trigger.type, relation)
        inputs = _assemble(layout.template, context, layout.query(relation, text))
        offset = inputs.pop("offset")
        answers = {}
        if spans is not None:
            linked = links[(doc.key, trigger.entity_id, relation, role)]
            args = [(a, *spans[a][1:]) for a in linked if a in spans]
            inside = [a for a in args if context.holds(a[1], a[2])]
            counts["answers_outside_context"] += len(args) - len(inside)
            answers = _answers(inside, context, offset)
            counts["spans_too_long"] += _too_long(answers, layout.settings.max_span_width)
            if values is not None:
                answers |= _value_columns(inside, context, offset, values)
        rows.append(
            _row(
                example_id=f"{doc.key}:relation:{relation}:{trigger.entity_id}",
                **doc.keys,
                window=where,
                task="relation",
                query_type=relation,
                prompt_index=first_prompt + layout.schema.relation_types.index(relation),
                trigger_id=trigger.entity_id,
                trigger_role=role,
                trigger_start=int(trigger.start),
                trigger_end=int(trigger.end),
                **inputs,
                **answers,
            )
        )
    return rows


def relation_examples(
    documents: pd.DataFrame,
    triggers: pd.DataFrame,
    schema: DatasetSchema,
    tokenizer,
    settings: ExampleSettings,
    entities: pd.DataFrame | None = None,
    relations: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """MRC rows for every (trigger, relation type asked from the trigger's type).

    `triggers` is any entity table: the gold concepts at training time, the predicted ones
    at test time; types without relation queries are skipped. `trigger_role` says which
    argument the trigger is (`schema.trigger_role`); answers (only when `entities` and
    `relations` are given) are the entities linked to it as the other argument.
    Counts: `triggers_without_tokens`, `answers_outside_context`, `spans_too_long` (as for
    concepts).
    """
    _check_types(triggers, schema, "triggers")
    layout = _RelationLayout.of(tokenizer, schema, settings)
    asked = _by_document(triggers[triggers["type"].isin(list(schema.relation_queries))])
    gold, links = _by_document(entities), _links(relations)
    vocabulary = ValueVocabulary.of(schema)
    rows: list[dict] = []
    counts = _counts("triggers_without_tokens", "answers_outside_context", "spans_too_long")
    for doc in _documents(documents, tokenizer):
        windows = doc.windows(layout.window_budget, settings)
        spans = values = None
        if entities is not None and relations is not None:
            spans = doc.spans(gold.get(doc.key))
            if vocabulary.names:
                values = _gold_values(gold.get(doc.key), vocabulary)
        for trigger in _entities_of(asked, doc.key):
            rows += _trigger_rows(layout, doc, windows, trigger, spans, values, links, counts)
    return _frame(rows), dict(counts)
