"""Input assembly shared by every row kind: templates, contexts, answers, values, the per-strategy
context budgets and the per-document helpers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from clinprompt.corpus.events import ValueVocabulary
from clinprompt.corpus.schema import DatasetSchema
from clinprompt.errors import ConfigError, InvalidInputError
from clinprompt.examples.settings import (
    _NULLABLE,
    EXAMPLE_SCHEMA,
    TRIGGER_MARKERS,
    ExampleSettings,
    Span,
    add_marker_tokens,
)
from clinprompt.examples.windows import (
    DocumentTokens,
    Window,
    pack_windows,
    sentence_spans,
    tokenize_document,
)

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
    if settings.kind.hard_prompt:
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


# --------------------------------------------------------------------------- relation context


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
        template = _Template.of(tokenizer, pair=settings.kind.hard_prompt)
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
        if not self.settings.kind.hard_prompt:
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


def _entities_of(by_document: dict[str, pd.DataFrame], key: str) -> Iterable:
    return () if key not in by_document else by_document[key].itertuples(index=False)
