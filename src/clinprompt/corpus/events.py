"""Study-view predictions back to BRAT events, and the values of labeled arguments.

In: a predicted `Document` in the study's view of a dataset with events — concepts plus
relations `<argument type>-<event type>` with Arg1 = argument, Arg2 = trigger, and the value
attributes the model gave its labeled arguments — and its `DatasetSchema`. Out: the same
document as BRAT events: one event per trigger concept (of the event type whose trigger type
it has), its linked arguments under the schema's role names (`Status`, `Type`, `Type2`, ...).
Where the values of the labeled arguments come from is `value_source`:
- `model` (the default, the study's number): the document's own value attributes, those the
  value head predicted (`ValueVocabulary` names its classes); an argument without one has no
  value and matches no gold labeled argument.
- `rules` (a baseline): the keyword rule over the argument's span text (`VALUE_RULES`)
  replaces them on every linked labeled argument: the first value whose cue word or phrase
  occurs as a whole word (case-insensitive) wins, else a default value.
  StatusTime:   future (plan, will, wants to, ...), past (quit, former, previously, no longer,
                ...), none (denies, never, no, not, ...), default current.
  StatusEmploy: unemployed (unemployed, not working, laid off, ...), retired, on_disability
                (disability, disabled, SSDI, ...), student (student, school, college, ...),
                homemaker (homemaker, housewife, stay at home, ...), default employed.
  TypeLiving:   homeless (homeless, shelter, street, ...), alone (alone, by himself, ...),
                with_others (roommate, friends, group home, facility, ...), default with_family.
A document that already holds events is taken as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count

from clinprompt.corpus.brat import Attribute, Document, Event
from clinprompt.corpus.schema import DatasetSchema, base_role
from clinprompt.errors import ConfigError, InvalidInputError

VALUE_SOURCES = ("model", "rules")


@dataclass(frozen=True)
class ValueRule:
    """Ordered (value, cue phrases) pairs for one labeled argument type, and a default."""

    argument: str
    cues: tuple[tuple[str, tuple[str, ...]], ...]
    default: str

    def value(self, span_text: str) -> str:
        """The first value with a cue in `span_text`, else the default."""
        text = span_text.lower()
        for value, phrases in self.cues:
            if any(_has_phrase(text, phrase) for phrase in phrases):
                return value
        return self.default

    @property
    def values(self) -> tuple[str, ...]:
        """Every value the rule can give."""
        return (*(value for value, _ in self.cues), self.default)


def _has_phrase(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None


VALUE_RULES = {
    rule.argument: rule
    for rule in (
        ValueRule(
            "StatusTime",
            (
                ("future", ("plan", "plans", "planning", "will", "intends", "wants to",
                            "would like", "considering", "thinking about", "future")),
                ("past", ("quit", "quitting", "former", "formerly", "previous", "previously",
                          "prior", "past", "ex", "stopped", "no longer", "used to", "remote",
                          "history of", "hx", "h/o", "gave up", "sober", "recovering")),
                ("none", ("denies", "denied", "deny", "denying", "never", "no", "not", "none",
                          "negative", "non", "nonsmoker", "abstains", "abstinent", "without")),
            ),
            "current",
        ),
        ValueRule(
            "StatusEmploy",
            (
                ("unemployed", ("unemployed", "unemployment", "not working", "not employed",
                                "jobless", "laid off", "out of work", "no job", "between jobs",
                                "lost his job", "lost her job", "looking for work")),
                ("retired", ("retired", "retiree", "retirement")),
                ("on_disability", ("disability", "disabled", "ssdi", "ssi")),
                ("student", ("student", "school", "college", "university", "studying")),
                ("homemaker", ("homemaker", "housewife", "househusband", "stay at home",
                               "stay-at-home")),
            ),
            "employed",
        ),
        ValueRule(
            "TypeLiving",
            (
                ("homeless", ("homeless", "homelessness", "shelter", "street", "streets",
                              "unhoused", "undomiciled")),
                ("alone", ("alone", "by himself", "by herself", "by themselves", "by self")),
                ("with_others", ("roommate", "roommates", "housemate", "housemates", "friend",
                                 "friends", "others", "group home", "facility", "nursing home",
                                 "assisted living", "halfway house", "sober house")),
            ),
            "with_family",
        ),
    )
}  # fmt: skip


def _link_roles(schema: DatasetSchema) -> dict[str, tuple[str, str]]:
    """Relation type `<argument type>-<event type>` -> (event type, role)."""
    return {
        f"{arg_type}-{event.name}": (event.name, role)
        for event in schema.events.values()
        for role, arg_types in event.arguments.items()
        for arg_type in arg_types
    }


def _value_attribute_types(schema: DatasetSchema) -> dict[str, str]:
    """Labeled argument type -> the attribute type that carries its value."""
    return {
        target: attr.name
        for attr in schema.attributes.values()
        for target in attr.targets
        if target in schema.labeled_arguments
    }


@dataclass(frozen=True)
class ValueVocabulary:
    """The value head's classes: the union of every labeled argument type's values, in schema
    order, with the ids each type allows and the attribute type that carries them. Empty for
    a schema without labeled arguments (whose models have no value head)."""

    names: tuple[str, ...]
    allowed: dict[str, tuple[int, ...]]
    attributes: dict[str, str]

    @classmethod
    def of(cls, schema: DatasetSchema) -> ValueVocabulary:
        """The vocabulary of a schema's labeled arguments with valued attributes."""
        attributes = {
            argument: name
            for argument, name in _value_attribute_types(schema).items()
            if schema.attributes[name].values
        }
        values = {argument: schema.attributes[name].values for argument, name in attributes.items()}
        names = tuple(dict.fromkeys(v for allowed in values.values() for v in allowed))
        allowed = {arg: tuple(names.index(v) for v in vs) for arg, vs in values.items()}
        return cls(names, allowed, attributes)

    def label(self, entity_type: str, value: str | None) -> int | None:
        """The id of an entity's gold value; None when its type is not labeled or it has none."""
        if entity_type not in self.allowed or value is None:
            return None
        allowed = [self.names[i] for i in self.allowed[entity_type]]
        if value not in allowed:
            raise InvalidInputError(f"{entity_type} value '{value}' is not one of {allowed}")
        return self.names.index(value)


def _arguments(doc: Document, schema: DatasetSchema, source: str) -> dict[str, list]:
    """(role, argument id) pairs per trigger id, with BRAT role suffixes for repeats."""
    roles = _link_roles(schema)
    entities = doc.entity_by_id()
    arguments: dict[str, list[tuple[str, str]]] = {}
    for rel in doc.relations:
        if rel.type not in roles:
            raise InvalidInputError(
                f"{source}:{rel.line}: relation type {rel.type} is not an event link of"
                f" schema {schema.name}"
            )
        event_type, role = roles[rel.type]
        trigger_type = schema.events[event_type].trigger
        trigger = entities.get(rel.arg2)
        if trigger is None or trigger.type != trigger_type:
            raise InvalidInputError(
                f"{source}:{rel.line}: relation {rel.id} ({rel.type}) needs a {trigger_type}"
                " trigger as Arg2"
            )
        links = arguments.setdefault(rel.arg2, [])
        repeats = sum(base_role(named) == role for named, _ in links)
        links.append((f"{role}{repeats + 1}" if repeats else role, rel.arg1))
    return arguments


def _fresh_ids(prefix: str, taken: set[str]) -> Iterator[str]:
    """`prefix1`, `prefix2`, ... skipping ids already in use."""
    return (f"{prefix}{n}" for n in count(1) if f"{prefix}{n}" not in taken)


def _rule_values(doc: Document, linked: set[str], schema: DatasetSchema) -> list[Attribute]:
    """The attributes with the value rules' values in place of every labeled argument's value,
    on the linked labeled arguments."""
    attribute_types = _value_attribute_types(schema)
    missing = set(attribute_types) - set(VALUE_RULES)
    if missing:
        raise ConfigError(f"schema {schema.name}: no value rule for {sorted(missing)}")
    labeled = {e.id for e in doc.entities if e.type in attribute_types}
    kept = [a for a in doc.attributes if a.target not in labeled or a.value is None]
    ids = _fresh_ids("A", {a.id for a in kept})
    return kept + [
        Attribute(next(ids), attribute_types[e.type], e.id, VALUE_RULES[e.type].value(e.text))
        for e in doc.entities
        if e.id in linked and e.id in labeled
    ]


def to_events(
    doc: Document, schema: DatasetSchema, source: str = "<prediction>", value_source: str = "model"
) -> Document:
    """The study-view document as BRAT events, argument values from `value_source`."""
    if value_source not in VALUE_SOURCES:
        raise ConfigError(f"value_source '{value_source}' unknown (use {', '.join(VALUE_SOURCES)})")
    event_of_trigger = {event.trigger: event.name for event in schema.events.values()}
    arguments = _arguments(doc, schema, source)
    triggers = [e for e in doc.entities if e.type in event_of_trigger]
    events = [
        Event(f"E{i}", event_of_trigger[e.type], e.id, tuple(arguments.get(e.id, ())))
        for i, e in enumerate(triggers, start=1)
    ]
    attributes = list(doc.attributes)
    if value_source == "rules":
        linked = {ref for event in events for _, ref in event.arguments}
        attributes = _rule_values(doc, linked, schema)
    return Document(
        doc.doc_id, doc.text, entities=list(doc.entities), events=events, attributes=attributes
    )


def event_view(
    doc: Document, schema: DatasetSchema, source: str = "<prediction>", value_source: str = "model"
) -> Document:
    """The document as events: as it is when it holds events, else via `to_events`."""
    return doc if doc.events else to_events(doc, schema, source, value_source)
