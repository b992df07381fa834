"""Building blocks of the synthetic notes: canary identifiers, inline markup, note builder.

In: note text written with inline markup, `[text|Type=value@1,2]` — a mention of entity
type `Type`, optionally carrying an attribute value (written as attribute `TypeVal`), that
belongs to the numbered groups 1 and 2 of the markup call (a drug and its attributes, or an
event's trigger and arguments). Brackets nest (nested entities); a label ending in `+`
continues the last entity of the same type and groups (a discontinuous mention); a
newline inside a mention splits it into fragments (BRAT cannot span a line).
Out: a `brat.Document` whose entity text fields are read from the final text; a
corpus-specific linker turns each group into relations or an event.

Every lexicon the notes draw from is split into a training part and a held-out part by a
stable hash of each entry's text (`held_out`), so one string falls on the same side in every
table that lists it. A `Vocabulary` says which parts a note may use: training notes (train and
dev, as dev is carved from train later) only the training part; test notes draw about
`HELD_OUT_SHARE` of their choices from the held-out part, so a test note holds mentions that
no training note has. The commonest wordings (`CORE_VOCABULARY`) are never held out.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TypeVar

from clinprompt.corpus.brat import Attribute, Document, Entity, Event, Relation

# Fake identifiers for note headers. Distinctive on purpose: a later test greps logs, tables
# and reports for them to prove that no note text leaks out of the pipeline.
CANARY_NAMES = (
    "Zyxwell Quarmby",
    "Ottoline Vexbridge",
    "Quillon Marrowgate",
    "Brisella Thornquist",
    "Fenwick Ulladore",
    "Marisol Quenby-Tarrow",
    "Ignatius Blyxworth",
    "Orsolya Pemberdyne",
)
CANARY_RECORD_NUMBERS = ("8675309-CP", "4417702-CP", "9023318-CP", "5550147-CP", "7781264-CP")
CANARY_DATES = ("2187-03-14", "2191-11-02", "2178-06-27", "2203-01-09")
CANARY_IDENTIFIERS: tuple[str, ...] = CANARY_NAMES + CANARY_RECORD_NUMBERS + CANARY_DATES

# Share of a test note's vocabulary choices drawn from the held-out part of a lexicon.
HELD_OUT_SHARE = 0.5
# The commonest wordings, which any real training set holds: never held out. The SDoH ones
# are each institution's own (MIMIC abbreviations, UW's EHR field names and values).
CORE_VOCABULARY = frozenset(
    {"po", "iv", "sc", "daily", "bid", "tablet", "capsule", "by mouth", "one (1)", "daily (daily)"}
    | {"denies", "quit", "former", "never", "current", "h/o", "tob", "etoh", "smoker", "ivdu"}
    | {"smokes", "drinks", "lives", "works", "retired", "homeless"}
    | {"smoking status", "former smoker", "never smoker", "current every day smoker", "yes", "no"}
    | {"alcohol use", "drug use", "not currently", "employment status", "occupation"}
    | {"living situation", "smokeless tobacco", "never used", "cigarettes", "marijuana"}
)

T = TypeVar("T")

# `[` opens a mention; `|label]` closes the innermost open one.
_MARKUP_TOKEN = re.compile(r"\[|\|([^\]|]+)\]")
_LABEL = re.compile(
    r"(?P<type>\w+)(?:=(?P<value>\w+))?(?:@(?P<groups>\d+(?:,\d+)*))?(?P<more>\+)?$"
)
# A fragment: from a non-space character to the last non-space one before a line break.
_FRAGMENT = re.compile(r"\S(?:[^\n]*\S)?")


@dataclass(frozen=True)
class Header:
    """The fake identifiers of one note, all drawn from the canary lists."""

    patient: str
    record_number: str
    date: str
    clinician: str


def draw_header(rng: random.Random) -> Header:
    """Identifiers for one note header."""
    patient, clinician = rng.sample(CANARY_NAMES, 2)
    return Header(patient, rng.choice(CANARY_RECORD_NUMBERS), rng.choice(CANARY_DATES), clinician)


@cache
def held_out(entry: str) -> bool:
    """Whether a lexicon entry belongs to the held-out part: a stable hash of its lower-cased,
    whitespace-normalised text (the dictionary baseline's key), except for `CORE_VOCABULARY`."""
    key = " ".join(entry.lower().split())
    return key not in CORE_VOCABULARY and hashlib.sha256(key.encode()).digest()[0] % 2 == 1


@cache
def _parts(
    options: tuple[T, ...], held: Callable[[T], bool]
) -> tuple[tuple[T, ...], tuple[T, ...]]:
    """The training and the held-out options of a lexicon."""
    return tuple(o for o in options if not held(o)), tuple(o for o in options if held(o))


@dataclass(frozen=True)
class Vocabulary:
    """The lexicon parts a note draws from: training only, or (test notes) both.

    `held` tells an option's part; it defaults to `held_out` of the option's text, and an
    option made of several lexicon entries (a medication) passes its own test. A test note
    draws from the held-out part with probability `HELD_OUT_SHARE` (when the lexicon has
    one); every other draw comes from the training part.
    """

    test: bool = False

    @classmethod
    def for_split(cls, split: str) -> Vocabulary:
        """Test notes draw from both parts; train and dev notes from the training part only."""
        return cls(test=split == "test")

    def usable(self, options: Sequence[T], held: Callable[[T], bool] = held_out) -> list[T]:
        """The options this note may use at all: every one in a test note."""
        return list(options) if self.test else list(_parts(tuple(options), held)[0])

    def choice(
        self, rng: random.Random, options: Sequence[T], held: Callable[[T], bool] = held_out
    ) -> T:
        """One option."""
        return self.sample(rng, options, 1, held)[0]

    def sample(
        self, rng: random.Random, options: Sequence[T], k: int, held: Callable[[T], bool] = held_out
    ) -> list[T]:
        """`k` distinct options."""
        training, unseen = (list(part) for part in _parts(tuple(options), held))
        chosen = []
        for _ in range(k):
            test_draw = self.test and unseen and (not training or rng.random() < HELD_OUT_SHARE)
            pool = unseen if test_draw else training
            if not pool:
                raise ValueError(f"no training entry left among {list(options)}")
            chosen.append(pool.pop(rng.randrange(len(pool))))
        return chosen


TRAINING = Vocabulary()


def line_fragments(text: str, start: int) -> tuple[tuple[int, int], ...]:
    """Fragments of a mention at `start`: one per line, without surrounding whitespace."""
    return tuple((start + m.start(), start + m.end()) for m in _FRAGMENT.finditer(text))


def wrap_markup(markup: str, width: int, column: int = 0) -> str:
    """Hard-wrap markup text at `width` visible characters, as MIMIC notes are wrapped.

    `column` is where the text starts on its line. Markup tokens take no width; a wrapped
    space inside a mention later splits it into fragments: a line-crossing mention.
    """
    chars = list(markup)
    space_at, since_space, i = None, 0, 0
    while i < len(markup):
        token = _MARKUP_TOKEN.match(markup, i)
        if token:
            i = token.end()
            continue
        if markup[i] == "\n":
            column, space_at = 0, None
        else:
            column += 1
            space_at, since_space = (i, 0) if markup[i] == " " else (space_at, since_space + 1)
            if column > width and space_at is not None:
                chars[space_at] = "\n"
                column, space_at = since_space, None
        i += 1
    return "".join(chars)


Linker = Callable[["NoteBuilder", list[str]], None]


@dataclass
class NoteBuilder:
    """Text and annotations of one note, written left to right.

    `linker(note, entity_ids)` is called once per markup group, with the group's entities
    in the order their mentions close, to add the corpus' relations or events.
    """

    doc_id: str
    linker: Linker
    text: str = ""
    types: dict[str, str] = field(default_factory=dict)
    fragments: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)

    def plain(self, chunk: str) -> None:
        """Append text with nothing to annotate."""
        self.text += chunk

    def write(self, markup: str, width: int | None = None) -> None:
        """Append marked-up text (hard-wrapped at `width` when given), creating its entities,
        then link each group."""
        if width is not None:
            markup = wrap_markup(markup, width, len(self.text) - self.text.rfind("\n") - 1)
        open_at: list[int] = []
        groups: dict[int, list[str]] = {}
        last: dict[tuple[str, tuple[int, ...]], str] = {}
        position = 0
        for token in _MARKUP_TOKEN.finditer(markup):
            self.plain(markup[position : token.start()])
            position = token.end()
            if token.group(0) == "[":
                open_at.append(len(self.text))
                continue
            label = _LABEL.match(token.group(1))
            if label is None or not open_at:
                raise ValueError(f"bad markup label {token.group(1)!r}")
            start = open_at.pop()
            member_of = tuple(int(g) for g in (label["groups"] or "").split(",") if g)
            key = (label["type"], member_of)
            new = line_fragments(self.text[start:], start)
            if label["more"]:
                entity_id = last[key]
                self.fragments[entity_id] += new
                continue
            entity_id = self._entity(label["type"], new, label["value"])
            last[key] = entity_id
            for group in member_of:
                groups.setdefault(group, []).append(entity_id)
        if open_at:
            raise ValueError("unclosed mention in markup")
        self.plain(markup[position:])
        for group in sorted(groups):
            self.linker(self, groups[group])

    def _entity(self, type_: str, fragments: tuple[tuple[int, int], ...], value: str | None) -> str:
        entity_id = f"T{len(self.types) + 1}"
        self.types[entity_id] = type_
        self.fragments[entity_id] = fragments
        if value is not None:
            attribute_id = f"A{len(self.attributes) + 1}"
            self.attributes.append(Attribute(attribute_id, f"{type_}Val", entity_id, value))
        return entity_id

    def relation(self, type_: str, arg1: str, arg2: str) -> None:
        """Add relation `type_` from `arg1` to `arg2`."""
        self.relations.append(Relation(f"R{len(self.relations) + 1}", type_, arg1, arg2))

    def event(self, type_: str, trigger: str, arguments: tuple[tuple[str, str], ...]) -> None:
        """Add an event of `type_` anchored on `trigger` with (role, entity id) arguments."""
        self.events.append(Event(f"E{len(self.events) + 1}", type_, trigger, arguments))

    def document(self) -> Document:
        """The finished note as a BRAT document."""
        entities = [
            Entity.from_offsets(entity_id, type_, self.fragments[entity_id], self.text)
            for entity_id, type_ in self.types.items()
        ]
        return Document(
            self.doc_id,
            self.text,
            entities=entities,
            relations=list(self.relations),
            events=list(self.events),
            attributes=list(self.attributes),
        )
