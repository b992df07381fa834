"""Example tables: corpus tables and a fast tokenizer in, one model-ready row per example out.

Every strategy sees the same text: concept rows hold `context_tokens(..., "concept")` context
tokens and relation rows the trigger's relation context — the previous, the trigger's and the
next relation window (a third of the relation budget each), so arguments written before the
trigger are reachable — whatever the query, prompt or markers around them.
`finetune`: one BIO row per window (IOB2 on words: a word's first token carries the tag, its
continuation tokens -100; gold is widened to whole words, counted as `entities_widened_to_words`;
overlapping gold keeps the longest mention, then the earliest, the rest counted as
`overlapping_dropped`) and one pair row per (candidate, trigger)
in the trigger's relation context, with `[s1] .. [e1]` around Arg1 and `[s2] .. [e2]` around
the trigger (Arg2). `hard`: MRC rows `[CLS] query [SEP] context [SEP]` (segments 0/1) for
every (window, concept type) and every (trigger, relation type), the relation query being
the schema template filled with the trigger's text (its span's whitespace-normalised document
text, cut after `max_trigger_tokens` tokens). `soft` and `soft-frozen`: the same rows as
single sequences `[CLS] context [SEP]` with `prompt_index` naming the soft prompt. Since one
prompt per relation type cannot tell two triggers in a window apart, soft relation rows mark
the trigger as `[t] .. [/t]`; hard rows mark it too unless `trigger_markers` is false (the
study's unmarked prompt). Columns extend the architecture's with `marker_positions` (input
positions of `[s1] [s2] [e1] [e2]`, or of `[t] [/t]`); `window` counts the windows of the
row's own kind (concept windows for concept, BIO and pair rows, relation windows for MRC
relation rows); `prompt_index` runs over `prompt_types(schema)`. Answers and labels come only
from gold tables passed in (null otherwise); `build_examples` never makes gold-trigger
relation rows for test documents, whose triggers are the predicted concepts. For a schema with
labeled arguments (SDoH), MRC and BIO rows with gold also list the row's gold spans of those
types that carry a value (answers, or the BIO mentions kept) as `value_starts`/`value_ends`
(input positions) and `value_labels` (ids of `events.ValueVocabulary`); null otherwise.
"""

from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from clinprompt.atomic import atomic_file
from clinprompt.corpus import CorpusTables, pooled_institutions
from clinprompt.errors import ConfigError, InvalidInputError
from clinprompt.events import ValueVocabulary
from clinprompt.schema import DatasetSchema
from clinprompt.windows import (
    DocumentTokens,
    Window,
    pack_windows,
    sentence_spans,
    tokenize_document,
    word_boundary_masks,
)

log = logging.getLogger(__name__)

STRATEGIES = ("finetune", "hard", "soft", "soft-frozen")
PAIR_MARKERS = ("[s1]", "[e1]", "[s2]", "[e2]")
TRIGGER_MARKERS = ("[t]", "[/t]")
IGNORE_INDEX = -100

_INTS, _STRINGS = pa.list_(pa.int32()), pa.list_(pa.string())
EXAMPLE_SCHEMA = pa.schema([
    ("example_id", pa.string()), ("document", pa.string()), ("split", pa.string()),
    ("institution", pa.string()), ("window", pa.int32()), ("task", pa.string()),
    ("query_type", pa.string()), ("prompt_index", pa.int32()), ("trigger_id", pa.string()),
    ("trigger_role", pa.string()), ("trigger_start", pa.int64()), ("trigger_end", pa.int64()),
    ("input_ids", _INTS),
    ("token_type_ids", pa.list_(pa.int8())), ("token_starts", _INTS), ("token_ends", _INTS),
    ("marker_positions", _INTS), ("answer_starts", _INTS), ("answer_ends", _INTS),
    ("answer_ids", _STRINGS), ("labels", pa.list_(pa.int16())), ("arg1_id", pa.string()),
    ("arg2_id", pa.string()), ("label", pa.int16()), ("labels_allowed", pa.list_(pa.bool_())),
    ("value_starts", _INTS),
    ("value_ends", _INTS), ("value_labels", pa.list_(pa.int16())),
])  # fmt: skip
_NULLABLE = {pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype()}

Span = tuple[str, int, int]  # (concept type, first token, last token) in the document


@dataclass(frozen=True)
class ExampleSettings:
    """How examples are cut: strategy, position budget, overlap, prompt and sampling options.

    `prompt_tokens` is the length of an input-mode soft prompt (0 for deep prompts);
    `negative_ratio` keeps at most ratio x positives of the empty-answer MRC rows of the
    train split (None keeps all); the chunk overlap is `stride`, capped at half a budget.
    `context_length` is the context tokens of every row whatever the strategy (None: as many
    as `max_length` leaves beside the hard query, see `context_tokens`); `trigger_markers`
    marks the trigger as `[t] .. [/t]` in hard relation rows too (soft rows always mark it).
    `max_span_width` is the span head's: longer gold answers are counted (`spans_too_long`).
    """

    strategy: str
    max_length: int = 512
    stride: int = 128
    prompt_tokens: int = 0
    negative_ratio: float | None = None
    seed: int = 0
    max_trigger_tokens: int = 16
    max_span_width: int = 32
    context_length: int | None = None
    trigger_markers: bool = True

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy '{self.strategy}' unknown (use {', '.join(STRATEGIES)})")
        if self.prompt_tokens and not self.soft:
            raise ConfigError(f"prompt_tokens applies to soft prompts, not '{self.strategy}'")
        for name in ("max_length", "max_trigger_tokens", "max_span_width"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.stride < 0 or self.prompt_tokens < 0:
            raise ConfigError("stride and prompt_tokens must be >= 0")
        if self.context_length is not None and self.context_length < 3:
            raise ConfigError(f"context_length must be at least 3, got {self.context_length}")
        if self.negative_ratio is not None and self.negative_ratio < 0:
            raise ConfigError(f"negative_ratio must be >= 0, got {self.negative_ratio}")

    @property
    def soft(self) -> bool:
        """Whether the strategy uses soft prompts (no query text)."""
        return self.strategy in ("soft", "soft-frozen")

    @property
    def markers(self) -> list[str]:
        """The marker tokens the strategy puts into its inputs."""
        if self.strategy == "finetune":
            return list(PAIR_MARKERS)
        return list(TRIGGER_MARKERS) if self.soft or self.trigger_markers else []


@dataclass
class ExampleSet:
    """An example table, the marker tokens added to the tokenizer and diagnostic counts."""

    frame: pd.DataFrame
    added_tokens: list[str]
    counts: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- vocabulary


def prompt_types(schema: DatasetSchema) -> list[str]:
    """The soft prompts in `prompt_index` order: concept types, then relation types."""
    return [*schema.concept_types, *schema.relation_types]


def bio_label_names(schema: DatasetSchema) -> list[str]:
    """BIO label names by id: `O`, then `B-<type>`, `I-<type>` per concept type."""
    return ["O", *(f"{p}-{t}" for t in schema.concept_types for p in ("B", "I"))]


def add_marker_tokens(tokenizer, settings: ExampleSettings) -> list[int]:
    """Add the strategy's markers to the tokenizer as special tokens (idempotent); their ids.

    The model must then resize its input embeddings to `len(tokenizer)`.
    """
    markers = settings.markers
    if markers:
        tokenizer.add_tokens(markers, special_tokens=True)
    return [int(i) for i in tokenizer.convert_tokens_to_ids(markers)]


# --------------------------------------------------------------------------- input assembly


@dataclass(frozen=True)
class _Template:
    """The tokenizer's layout: ("special", id, segment) items and ("query"/"context") slots."""

    items: tuple[tuple[str, int | None, int], ...]

    @classmethod
    def of(cls, tokenizer, pair: bool) -> _Template:
        encoding = tokenizer("a", "b") if pair else tokenizer("b")
        ids = encoding["input_ids"]
        segments = encoding.get("token_type_ids") or [0] * len(ids)
        slots = ("query", "context") if pair else ("context",)
        items: list[tuple[str, int | None, int]] = []
        for sequence, token, segment in zip(encoding.sequence_ids(), ids, segments, strict=True):
            if sequence is None:
                items.append(("special", token, segment))
            elif not items or items[-1][0] != slots[sequence]:
                items.append((slots[sequence], None, segment))
        return cls(tuple(items))

    @property
    def n_special(self) -> int:
        return sum(kind == "special" for kind, _, _ in self.items)


@dataclass
class _Context:
    """Context tokens (document tokens and markers) and where each document token went."""

    ids: list[int] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    position: dict[int, int] = field(default_factory=dict)
    markers: list[int] = field(default_factory=list)

    def add(self, token: int, start: int, end: int) -> int:
        self.ids.append(token)
        self.starts.append(start)
        self.ends.append(end)
        return len(self.ids) - 1

    def holds(self, first: int, last: int) -> bool:
        """Whether document tokens `first` and `last` are both in the context."""
        return first in self.position and last in self.position


def _context(
    tokens: DocumentTokens, first: int, last: int, marks: Sequence[tuple[int, int, int]] = ()
) -> _Context:
    """Document tokens first..last with markers `(before token, rank, id)` inserted; at one
    place lower ranks come first (a closing marker precedes an opening one). `markers` holds
    the markers' positions in the order of `marks`. A mark outside the range (a predicted
    trigger longer than its context) is placed at the nearer end."""
    pending = sorted((min(max(at, first), last + 1), rank, marker) for at, rank, marker in marks)
    context = _Context()
    placed: dict[int, int] = {}
    for index in range(first, last + 2):
        while pending and pending[0][0] == index:
            marker = pending.pop(0)[2]
            placed[marker] = context.add(marker, -1, -1)
        if index <= last:
            context.position[index] = context.add(
                tokens.ids[index], tokens.starts[index], tokens.ends[index]
            )
    context.markers = [placed[marker] for _, _, marker in marks]
    return context


def _assemble(template: _Template, context: _Context, query: Sequence[int] = ()) -> dict:
    """Model input columns, and `offset`: the input position of the first context token."""
    columns: dict[str, list[int]] = {
        "input_ids": [],
        "token_type_ids": [],
        "token_starts": [],
        "token_ends": [],
    }
    offset = 0
    for kind, token, segment in template.items:
        if kind == "context":
            offset = len(columns["input_ids"])
            piece, starts, ends = context.ids, context.starts, context.ends
        else:
            piece = [token] if kind == "special" else list(query)
            starts = ends = [-1] * len(piece)
        columns["input_ids"] += piece
        columns["token_type_ids"] += [segment] * len(piece)
        columns["token_starts"] += starts
        columns["token_ends"] += ends
    markers = [offset + m for m in context.markers] or None
    return {**columns, "marker_positions": markers, "offset": offset}


def _value_columns(
    spans: Iterable[tuple[str, int, int]], context: _Context, offset: int, values: dict[str, int]
) -> dict:
    """Value columns for the (entity id, first, last) spans inside the context that have a
    gold value (`values`: value id per entity id)."""
    found = sorted(
        (context.position[first] + offset, context.position[last] + offset, values[entity_id])
        for entity_id, first, last in spans
        if entity_id in values
    )
    return {
        "value_starts": [v[0] for v in found],
        "value_ends": [v[1] for v in found],
        "value_labels": [v[2] for v in found],
    }


def _gold_values(entities: pd.DataFrame | None, vocabulary: ValueVocabulary) -> dict[str, int]:
    """Value id per entity id of the labeled-argument entities with a gold value (the corpus
    table's `value`)."""
    values: dict[str, int] = {}
    for entity in () if entities is None else entities.itertuples(index=False):
        value = None if pd.isna(entity.value) else entity.value
        label = vocabulary.label(entity.type, value)
        if label is not None:
            values[entity.entity_id] = label
    return values


def _answers(spans: Iterable[tuple[str, int, int]], context: _Context, offset: int) -> dict:
    """Answer columns for (entity id, first, last) document-token spans inside the context."""
    found = sorted(
        (context.position[first] + offset, context.position[last] + offset, entity_id)
        for entity_id, first, last in spans
    )
    return {
        "answer_starts": [a[0] for a in found],
        "answer_ends": [a[1] for a in found],
        "answer_ids": [a[2] for a in found],
    }


# --------------------------------------------------------------------------- budgets


def _encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]


def _template_tokens(tokenizer, schema: DatasetSchema) -> int:
    templates = schema.relation_query_templates.values()
    return max((len(_encode(tokenizer, t.replace("{trigger}", ""))) for t in templates), default=0)


def _overheads(tokenizer, schema: DatasetSchema, settings: ExampleSettings) -> dict[str, int]:
    """Input positions besides the context: the hard layout's (`reference`, marked trigger
    included) and the strategy's own, for concept and relation rows."""
    pair = _Template.of(tokenizer, pair=True).n_special
    single = _Template.of(tokenizer, pair=False).n_special
    concept_query = max(len(_encode(tokenizer, q)) for q in schema.concept_queries.values())
    relation_query = _template_tokens(tokenizer, schema) + settings.max_trigger_tokens
    markers = len(settings.markers)
    if settings.strategy == "hard":
        own = (pair + concept_query, pair + relation_query + markers)
    else:
        own = (single + settings.prompt_tokens, single + settings.prompt_tokens + markers)
    return {
        "reference_concept": pair + concept_query,
        "reference_relation": pair + relation_query + len(TRIGGER_MARKERS),
        "concept": own[0],
        "relation": own[1],
    }


def context_tokens(tokenizer, schema: DatasetSchema, settings: ExampleSettings, what: str) -> int:
    """Context tokens of a `concept` or `relation` row, the same for every strategy.

    With `context_length` set, every row holds that many context tokens, and a strategy whose
    query, prompt and markers do not fit beside them in `max_length` is an error naming both
    keys. Without it, the context is what `max_length` leaves beside the hard query (the
    longest input layout; an input-mode prompt longer than it shrinks it). A relation row
    holds three relation windows of a third of it each.
    """
    over = _overheads(tokenizer, schema, settings)
    if settings.context_length is None:
        used = max(over[f"reference_{what}"], over[what])
        if settings.max_length - used < 3:
            raise ConfigError(
                f"max_length {settings.max_length} leaves no room for the {what} context after "
                f"{used} query, prompt, marker and special tokens; raise training.max_length or "
                "shorten the queries or prompt"
            )
        return settings.max_length - used
    if settings.context_length + over[what] > settings.max_length:
        raise ConfigError(
            f"training.context_length {settings.context_length} + {over[what]} {what} query, "
            f"prompt, marker and special tokens of '{settings.strategy}' exceed "
            f"training.max_length {settings.max_length}; lower context_length or raise max_length"
        )
    return settings.context_length


# --------------------------------------------------------------------------- documents


@dataclass(frozen=True)
class _Document:
    """A document ready for examples: its keys, text, tokens and sentences."""

    keys: dict[str, str]
    text: str
    tokens: DocumentTokens
    sentences: list[tuple[int, int]]

    @property
    def key(self) -> str:
        return self.keys["document"]

    def windows(self, budget: int, settings: ExampleSettings) -> list[Window]:
        stride = min(settings.stride, budget // 2)
        return pack_windows(self.tokens, self.sentences, budget, stride)

    def spans(
        self, entities: pd.DataFrame | None, counts: Counter | None = None
    ) -> dict[str, Span]:
        """Token span per entity id of the document's `entities`; those over no token are left
        out, and counted as `entities_without_tokens` in `counts` when given."""
        found = {}
        for entity in () if entities is None else entities.itertuples(index=False):
            span = self.tokens.token_span(int(entity.start), int(entity.end))
            if span is not None:
                found[entity.entity_id] = (entity.type, *span)
            elif counts is not None:
                counts["entities_without_tokens"] += 1
        return found


def _documents(documents: pd.DataFrame, tokenizer) -> Iterator[_Document]:
    for row in documents.sort_values("document").itertuples(index=False):
        keys = {"document": row.document, "split": row.split, "institution": row.institution}
        tokens = tokenize_document(row.text, tokenizer)
        yield _Document(keys, row.text, tokens, sentence_spans(row.text))


def _by_document(frame: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """Entity rows per document, ordered by span and id."""
    if frame is None or frame.empty:
        return {}
    ordered = frame.sort_values(["document", "start", "end", "entity_id"], kind="stable")
    return dict(iter(ordered.groupby("document", sort=True)))


def _check_types(frame: pd.DataFrame | None, schema: DatasetSchema, what: str) -> None:
    if frame is not None and not frame.empty:
        unknown = sorted(set(frame["type"]) - set(schema.concept_types))
        if unknown:
            raise InvalidInputError(f"{what}: types not in schema {schema.name}: {unknown}")


def _outside(spans: Iterable[Span], windows: list[Window]) -> int:
    """How many spans no window holds whole."""
    return sum(not any(w.holds(first, last) for w in windows) for _, first, last in spans)


def _too_long(answers: dict, width: int) -> int:
    """How many answers span more than `width` input tokens: they train, but the span head
    never proposes them."""
    pairs = zip(answers.get("answer_starts", ()), answers.get("answer_ends", ()), strict=True)
    return sum(end - start >= width for start, end in pairs)


def _counts(*names: str) -> Counter:
    """Counts that report their zeros too."""
    return Counter(dict.fromkeys(names, 0))


def _row(**values) -> dict:
    return dict.fromkeys(EXAMPLE_SCHEMA.names) | values


def _frame(rows: list[dict]) -> pd.DataFrame:
    table = pa.Table.from_pylist(rows, schema=EXAMPLE_SCHEMA)
    return table.to_pandas(types_mapper=_NULLABLE.get)


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
    template = _Template.of(tokenizer, pair=not settings.soft)
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
                inputs = _assemble(template, context, () if settings.soft else queries[concept])
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
                rows.append(_row(
                    example_id=f"{doc.key}:concept:{concept}:w{window.index}", **doc.keys,
                    window=window.index, task="concept", query_type=concept,
                    prompt_index=index, **inputs, **answers,
                ))  # fmt: skip
    return _frame(rows), dict(counts)


# --------------------------------------------------------------------------- MRC relation rows


@dataclass(frozen=True)
class _RelationLayout:
    """What every relation row of a call shares: input layout, windows, markers, query cap."""

    schema: DatasetSchema
    tokenizer: object
    settings: ExampleSettings
    template: _Template
    window_budget: int
    query_cap: int
    markers: tuple[int, ...]

    @classmethod
    def of(cls, tokenizer, schema: DatasetSchema, settings: ExampleSettings) -> _RelationLayout:
        markers = add_marker_tokens(tokenizer, settings)
        window_budget = context_tokens(tokenizer, schema, settings, "relation") // 3
        cap = _template_tokens(tokenizer, schema) + settings.max_trigger_tokens
        pair = not settings.soft and settings.strategy != "finetune"
        template = _Template.of(tokenizer, pair=pair)
        return cls(schema, tokenizer, settings, template, window_budget, cap, tuple(markers))

    def trigger_text(self, text: str, start: int, end: int) -> str:
        """The trigger's text, whitespace-normalised, cut after `max_trigger_tokens` tokens."""
        surface = " ".join(text[start:end].split())
        offsets = self.tokenizer(
            surface,
            add_special_tokens=False,
            return_offsets_mapping=True,
            split_special_tokens=True,
        )["offset_mapping"]
        limit = self.settings.max_trigger_tokens
        return surface if len(offsets) <= limit else surface[: offsets[limit - 1][1]]

    def query(self, relation: str, trigger_text: str) -> list[int]:
        """The hard prompt's query ids (none for soft prompts and entity-marker pairs)."""
        if self.settings.soft or self.settings.strategy == "finetune":
            return []
        template = self.schema.relation_query_templates[relation]
        ids = _encode(self.tokenizer, template.replace("{trigger}", trigger_text))
        return ids[: self.query_cap]

    def span(self, windows: list[Window], first: int, last: int) -> tuple[int, int, int]:
        """The trigger's window index and the document tokens of its context: the previous,
        the trigger's and the next relation window, so arguments on either side are reachable."""
        where = _trigger_window(windows, first, last)
        low, high = max(where - 1, 0), min(where + 1, len(windows) - 1)
        return where, windows[low].first_token, windows[high].last_token

    def context(
        self, doc: _Document, windows: list[Window], first: int, last: int
    ) -> tuple[int, _Context]:
        """The trigger's window index and its context, the trigger marked where the strategy
        marks it."""
        where, low, high = self.span(windows, first, last)
        marks = []
        if self.markers:
            marks = [(first, 1, self.markers[0]), (last + 1, 0, self.markers[1])]
        return where, _context(doc.tokens, low, high, marks)


def _trigger_window(windows: list[Window], first: int, last: int) -> int:
    """Index of the first window holding the trigger whole, else of the one holding its start."""
    whole = [w.index for w in windows if w.holds(first, last)]
    return (whole or [w.index for w in windows if w.holds(first, first)])[0]


def _links(relations: pd.DataFrame | None) -> dict[tuple[str, str, str, str], list[str]]:
    """The other argument's ids per (document, trigger id, relation type, trigger role)."""
    links = defaultdict(list)
    for rel in () if relations is None else relations.itertuples(index=False):
        links[(rel.document, rel.arg2, rel.type, "arg2")].append(rel.arg1)
        links[(rel.document, rel.arg1, rel.type, "arg1")].append(rel.arg2)
    return links


def _entities_of(by_document: dict[str, pd.DataFrame], key: str) -> Iterable:
    return () if key not in by_document else by_document[key].itertuples(index=False)


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
        rows.append(_row(
            example_id=f"{doc.key}:relation:{relation}:{trigger.entity_id}", **doc.keys,
            window=where, task="relation", query_type=relation,
            prompt_index=first_prompt + layout.schema.relation_types.index(relation),
            trigger_id=trigger.entity_id, trigger_role=role, trigger_start=int(trigger.start),
            trigger_end=int(trigger.end), **inputs, **answers,
        ))  # fmt: skip
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

    Tags sit on words (see `clinprompt.decode`): a word's first token carries its label, its
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
            rows.append(_row(
                example_id=f"{doc.key}:bio:w{window.index}", **doc.keys, window=window.index,
                task="concept", query_type="BIO", **inputs, labels=labels, **value_columns,
            ))  # fmt: skip
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
                    rows.append(_row(
                        example_id=f"{doc.key}:pair:{arg1}:{arg2}", **doc.keys,
                        window=_trigger_window(concept_windows, ft, ft), task="relation",
                        query_type="pair", **inputs, arg1_id=arg1, arg2_id=arg2, label=label,
                        labels_allowed=schema.pair_labels(spans[arg1][0], spans[arg2][0]),
                    ))  # fmt: skip
    counts["relations_without_candidate"] = sum(key[0] in keys for key in gold)
    return _frame(rows), dict(counts)


# --------------------------------------------------------------------------- tables


def downsample_negatives(frame: pd.DataFrame, ratio: float, seed: int) -> tuple[pd.DataFrame, int]:
    """Keep at most ratio x positives of the negative rows of the train split: empty-answer
    MRC rows, and entity-marker pairs of no relation (label 0), alike.

    Stratified by query type: within a task every query type keeps the same share of its
    negatives (the task's positives x ratio over its negatives), so a rare relation type
    keeps the answered share it has at test time relative to the others instead of training
    near 50/50. Each type's sample is seeded over its sorted example ids; dev and test rows,
    and rows without gold, are never dropped. Returns the table and the number dropped.
    """
    answers, label = frame["answer_starts"], frame["label"]
    pair = frame["query_type"] == "pair"
    known = answers.map(lambda a: a is not None) | (pair & label.notna())
    empty = answers.map(lambda a: a is not None and len(a) == 0) | (pair & label.eq(0))
    drop: set[str] = set()
    for task in ("concept", "relation"):
        train = known & (frame["split"] == "train") & (frame["task"] == task)
        negatives = int((train & empty).sum())
        share = min(1.0, ratio * int((train & ~empty).sum()) / max(negatives, 1))
        for query_type in sorted(set(frame.loc[train, "query_type"])):
            rows = train & empty & (frame["query_type"] == query_type)
            ids = sorted(frame.loc[rows, "example_id"])
            rng = random.Random(f"negatives:{seed}:{task}:{query_type}")
            kept = set(rng.sample(ids, int(share * len(ids))))
            drop.update(i for i in ids if i not in kept)
    return frame[~frame["example_id"].isin(drop)].reset_index(drop=True), len(drop)


def build_examples(
    tables: CorpusTables, schema: DatasetSchema, tokenizer, settings: ExampleSettings
) -> ExampleSet:
    """The strategy's example table for every document of `tables` (filter them first).

    Concept rows cover every document, with gold answers or labels where split != test.
    Relation rows from gold concepts are made for train and dev documents only; test
    relation rows come from the predicted concepts (`relation_examples`, `pair_examples`).
    Negative down-sampling (`negative_ratio`: MRC rows and entity-marker pairs) touches train
    rows only.
    """
    documents = tables.documents
    labelled = documents[documents["split"] != "test"]
    unlabelled = documents[documents["split"] == "test"]
    gold = tables.entities[tables.entities["document"].isin(labelled["document"])]
    links = tables.relations[tables.relations["document"].isin(labelled["document"])]
    if settings.strategy == "finetune":
        parts = [
            bio_examples(labelled, schema, tokenizer, settings, gold),
            bio_examples(unlabelled, schema, tokenizer, settings),
            pair_examples(labelled, gold, schema, tokenizer, settings, links),
        ]
    else:
        parts = [
            concept_examples(labelled, schema, tokenizer, settings, gold),
            concept_examples(unlabelled, schema, tokenizer, settings),
            relation_examples(labelled, gold, schema, tokenizer, settings, gold, links),
        ]
    frame = pd.concat([part for part, _ in parts], ignore_index=True)
    counts = Counter()
    for _, part_counts in parts:
        counts.update(part_counts)
    if settings.negative_ratio is not None:
        frame, counts["negatives_dropped"] = downsample_negatives(
            frame, settings.negative_ratio, settings.seed
        )
    counts["examples"] = len(frame)
    log.info("%s examples: %s", settings.strategy, dict(sorted(counts.items())))
    return ExampleSet(frame, settings.markers, dict(sorted(counts.items())))


def write_examples(frame: pd.DataFrame, path: Path) -> None:
    """Write an example table as Parquet, atomically."""
    table = pa.Table.from_pandas(frame, schema=EXAMPLE_SCHEMA, preserve_index=False)
    with atomic_file(path) as tmp:
        pq.write_table(table, tmp)


def read_examples(path: Path) -> pd.DataFrame:
    """Read a table written by `write_examples`, with the dtypes the builders give."""
    return pq.read_table(path, schema=EXAMPLE_SCHEMA).to_pandas(types_mapper=_NULLABLE.get)


# --------------------------------------------------------------------------- few-shot draws


def draw_shots(
    documents: pd.DataFrame, shots: int | str, seed: int, train_institution: str | Sequence[str]
) -> list[str]:
    """Sorted keys of the training documents of a few-shot cell.

    `all` takes every training document of the institution(s); `k` shuffles the sorted keys
    with `random.Random(seed)` and takes the first k, so the draw depends only on the seed
    and the training set (the same for every strategy and model), and a larger k extends a
    smaller one. A pooled institution (`MIMIC+UW`, or a list) draws k from each of its
    institutions, each exactly as a cell trained there alone would.
    """
    if isinstance(train_institution, str):
        institutions = pooled_institutions(train_institution)
    else:
        institutions = list(train_institution)
    if shots != "all" and (isinstance(shots, bool) or not isinstance(shots, int) or shots < 1):
        raise ConfigError(f"shots must be a whole number >= 1 or 'all', got {shots!r}")
    drawn: list[str] = []
    for institution in institutions:
        train = documents[
            (documents["split"] == "train") & (documents["institution"] == institution)
        ]
        keys = sorted(train["document"])
        if not keys:
            raise ConfigError(f"no training documents from institution {institution}")
        if shots == "all":
            drawn.extend(keys)
            continue
        if shots > len(keys):
            raise ConfigError(
                f"shots: {shots} exceeds the {len(keys)} training documents of {institution}"
            )
        random.Random(seed).shuffle(keys)
        drawn.extend(keys[:shots])
    return sorted(drawn)
