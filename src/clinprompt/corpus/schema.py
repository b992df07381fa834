"""Dataset schemas: which annotation types a corpus may hold and how the study reads them.

In: a YAML file under `config/datasets/` (or any path) naming entity, relation, event and
attribute types, the hard-prompt query templates and which relations are asked from which
trigger type (the trigger may be either argument: its role, `arg1` or `arg2`, follows from the
argument types or is written `{Relation: arg1}`); or a corpus' BRAT `annotation.conf` (read
by `clinprompt.corpus.annotation_conf`) plus a few lines of YAML (`annotation_conf:`).
Out: a `DatasetSchema` that checks documents against the types and turns events into the
study's view: every trigger and argument is a concept, every trigger -> argument link a
relation `<argument type>-<event type>` (Arg1 = argument, Arg2 = trigger).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import yaml

from clinprompt.corpus.annotation_conf import parse_annotation_conf
from clinprompt.corpus.brat import Document, Problem, Relation
from clinprompt.errors import ConfigError

TRIGGER_ROLES = ("arg1", "arg2")
SCHEMA_DIRS = (Path("config/datasets"), Path(__file__).resolve().parents[3] / "config/datasets")


@dataclass(frozen=True)
class RelationType:
    """A relation type with the entity types allowed as Arg1 and Arg2."""

    name: str
    arg1: tuple[str, ...]
    arg2: tuple[str, ...]


@dataclass(frozen=True)
class EventType:
    """An event type: its trigger entity type and the entity types allowed per role."""

    name: str
    trigger: str
    arguments: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class AttributeType:
    """An attribute type: the annotation types it may sit on and its values (empty = binary)."""

    name: str
    targets: tuple[str, ...]
    values: tuple[str, ...] = ()


@dataclass
class DatasetSchema:
    """Everything the pipeline knows about one dataset's annotation scheme."""

    name: str
    entities: tuple[str, ...]
    relations: dict[str, RelationType] = field(default_factory=dict)
    events: dict[str, EventType] = field(default_factory=dict)
    attributes: dict[str, AttributeType] = field(default_factory=dict)
    labeled_arguments: tuple[str, ...] = ()
    relation_queries: dict[str, tuple[str, ...]] = field(default_factory=dict)
    trigger_roles: dict[tuple[str, str], str] = field(default_factory=dict)
    concept_queries: dict[str, str] = field(default_factory=dict)
    relation_query_templates: dict[str, str] = field(default_factory=dict)
    description: str = ""

    @property
    def concept_types(self) -> tuple[str, ...]:
        """The study's concept types: every entity type."""
        return self.entities

    @property
    def relation_types(self) -> tuple[str, ...]:
        """Every relation type, those derived from events included."""
        return tuple(self.relations)

    def trigger_role(self, trigger_type: str, relation: str) -> str:
        """The argument (`arg1` or `arg2`) a trigger of this type is in a queried relation."""
        return self.trigger_roles[(trigger_type, relation)]

    def answer_types(self, relation: str, trigger_role: str) -> tuple[str, ...]:
        """The types of the argument the trigger is not: the answers a relation query asks."""
        spec = self.relations[relation]
        return spec.arg2 if trigger_role == "arg1" else spec.arg1

    def pair_labels(self, arg1_type: str, arg2_type: str) -> list[bool]:
        """Which entity-marker pair labels (0 = no relation, then each relation type) an
        (Arg1, Arg2) pair of these types allows."""
        return [True] + [
            arg1_type in spec.arg1 and arg2_type in spec.arg2 for spec in self.relations.values()
        ]

    def check_document(self, doc: Document, path: str) -> list[Problem]:
        """Problems with types, argument types and attribute values not allowed here."""
        problems: list[Problem] = []
        types = {e.id: e.type for e in doc.entities} | {ev.id: ev.type for ev in doc.events}

        def bad(line: int, message: str) -> None:
            problems.append(Problem(path, line, message))

        for entity in doc.entities:
            if entity.type not in self.entities:
                bad(entity.line, f"entity type '{entity.type}' not in schema {self.name}")
        for rel in doc.relations:
            spec = self.relations.get(rel.type)
            if spec is None:
                bad(rel.line, f"relation type '{rel.type}' not in schema {self.name}")
                continue
            for ref, allowed, role in (
                (rel.arg1, spec.arg1, "Arg1"),
                (rel.arg2, spec.arg2, "Arg2"),
            ):
                if ref in types and types[ref] not in allowed:
                    bad(rel.line, f"{rel.type} {role} may not be a {types[ref]}")
        for event in doc.events:
            problems.extend(self._check_event(event, types, path))
        for attr in doc.attributes:
            spec = self.attributes.get(attr.type)
            if spec is None:
                bad(attr.line, f"attribute type '{attr.type}' not in schema {self.name}")
            elif attr.target in types and types[attr.target] not in spec.targets:
                bad(attr.line, f"attribute {attr.type} may not sit on a {types[attr.target]}")
            elif spec.values and attr.value not in spec.values:
                bad(
                    attr.line,
                    f"attribute {attr.type} value '{attr.value}' not in {list(spec.values)}",
                )
            elif not spec.values and attr.value is not None:
                bad(attr.line, f"attribute {attr.type} is binary but has value '{attr.value}'")
        return problems

    def _check_event(self, event, types: dict[str, str], path: str) -> list[Problem]:
        spec = self.events.get(event.type)
        if spec is None:
            return [
                Problem(path, event.line, f"event type '{event.type}' not in schema {self.name}")
            ]
        problems = []
        if event.trigger in types and types[event.trigger] != spec.trigger:
            problems.append(
                Problem(
                    path, event.line, f"{event.type} trigger may not be a {types[event.trigger]}"
                )
            )
        for role, ref in event.arguments:
            base = base_role(role)
            allowed = spec.arguments.get(base)
            if allowed is None:
                problems.append(Problem(path, event.line, f"{event.type} has no role '{base}'"))
            elif ref in types and types[ref] not in allowed:
                problems.append(
                    Problem(path, event.line, f"{event.type} {base} may not be a {types[ref]}")
                )
        return problems

    def study_view(self, doc: Document) -> Document:
        """The document as the study sees it: event links become relations.

        Each event argument that is an entity yields `<argument type>-<event type>` with
        Arg1 = argument and Arg2 = trigger; a link stated twice is kept once. Documents of a
        schema without events come back unchanged.
        """
        if not doc.events:
            return doc
        types = {e.id: e.type for e in doc.entities}
        relations = list(doc.relations)
        seen = {(r.type, r.arg1, r.arg2) for r in relations}
        taken = {r.id for r in relations}
        fresh = (f"R{n}" for n in count(1) if f"R{n}" not in taken)
        for event in doc.events:
            for _, ref in event.arguments:
                if ref not in types:
                    continue
                key = (f"{types[ref]}-{event.type}", ref, event.trigger)
                if key not in seen:
                    seen.add(key)
                    relations.append(Relation(next(fresh), *key))
        return Document(
            doc.doc_id,
            doc.text,
            entities=list(doc.entities),
            relations=relations,
            attributes=list(doc.attributes),
        )

    def concept_values(self, doc: Document) -> dict[str, str]:
        """Attribute values of the labeled-argument entities, keyed by entity id."""
        labeled = {e.id for e in doc.entities if e.type in self.labeled_arguments}
        return {
            a.target: a.value for a in doc.attributes if a.target in labeled and a.value is not None
        }


def base_role(role: str) -> str:
    """A BRAT role without its repetition suffix: `Type2` -> `Type`."""
    return role.rstrip("0123456789") or role


# --------------------------------------------------------------------------- loading


def _derived_relations(events: dict[str, EventType]) -> dict[str, RelationType]:
    relations = {}
    for event in events.values():
        for allowed in event.arguments.values():
            for arg_type in allowed:
                name = f"{arg_type}-{event.name}"
                relations[name] = RelationType(name, (arg_type,), (event.trigger,))
    return relations


def _require(data: dict, key: str, where: str):
    if key not in data:
        raise ConfigError(f"{where}: missing key '{key}'")
    return data[key]


def _schema_from_mapping(data: dict, where: str) -> DatasetSchema:
    known = {
        "name",
        "description",
        "entities",
        "relations",
        "events",
        "attributes",
        "labeled_arguments",
        "relation_queries",
        "queries",
        "annotation_conf",
    }
    for key in data:
        if key not in known:
            raise ConfigError(f"{where}: unknown key '{key}' (allowed: {', '.join(sorted(known))})")
    if "annotation_conf" in data:
        conf_path = Path(where).parent / data["annotation_conf"]
        data = {**parse_annotation_conf(conf_path), **data}
    events = {}
    for name, spec in (data.get("events") or {}).items():
        roles = _require(spec, "arguments", f"{where}: events.{name}")
        events[name] = EventType(
            name, spec.get("trigger", name), {role: tuple(t) for role, t in roles.items()}
        )
    relations = {
        name: RelationType(
            name,
            tuple(_require(spec, "arg1", f"{where}: relations.{name}")),
            tuple(_require(spec, "arg2", f"{where}: relations.{name}")),
        )
        for name, spec in (data.get("relations") or {}).items()
    }
    relations.update(_derived_relations(events))
    attributes = {
        name: AttributeType(
            name,
            tuple(_require(spec, "targets", f"{where}: attributes.{name}")),
            tuple(spec.get("values") or ()),
        )
        for name, spec in (data.get("attributes") or {}).items()
    }
    queries = data.get("queries") or {}
    entities = tuple(_require(data, "entities", where))
    asked = _relation_queries(data.get("relation_queries") or {}, entities, relations, where)
    schema = DatasetSchema(
        name=_require(data, "name", where),
        description=data.get("description", ""),
        entities=entities,
        relations=relations,
        events=events,
        attributes=attributes,
        labeled_arguments=tuple(data.get("labeled_arguments") or ()),
        relation_queries={
            trigger: tuple(name for (t, name) in asked if t == trigger)
            for trigger in dict.fromkeys(t for t, _ in asked)
        },
        trigger_roles=asked,
        concept_queries=dict(queries.get("concepts") or {}),
        relation_query_templates=dict(queries.get("relations") or {}),
    )
    _check_consistency(schema, where)
    return schema


def _relation_queries(
    data: dict, entities: tuple[str, ...], relations: dict[str, RelationType], where: str
) -> dict[tuple[str, str], str]:
    """The trigger's role per (trigger type, relation) of `relation_queries`, in file order.

    An item is a relation name, the role then following from the argument types, or
    `{name: arg1|arg2}` naming the trigger's role where its type may be either argument.
    """
    roles: dict[tuple[str, str], str] = {}
    for trigger, items in data.items():
        if trigger not in entities:
            raise ConfigError(f"{where}: relation_queries.{trigger}: not an entity type")
        if not isinstance(items, list):
            raise ConfigError(f"{where}: relation_queries.{trigger}: expected a list of relations")
        for item in items:
            name, role = _query_item(item, f"{where}: relation_queries.{trigger}")
            key = f"{where}: relation_queries.{trigger}.{name}"
            spec = relations.get(name)
            if spec is None:
                raise ConfigError(f"{where}: relation_queries.{trigger}: unknown relation '{name}'")
            possible = [
                r
                for r, types in zip(TRIGGER_ROLES, (spec.arg1, spec.arg2), strict=True)
                if trigger in types
            ]
            if not possible:
                raise ConfigError(f"{key}: '{trigger}' can be neither argument of {name}")
            if role is None and len(possible) > 1:
                raise ConfigError(
                    f"{key}: '{trigger}' can be Arg1 or Arg2 of {name}; "
                    f"write {{{name}: arg1}} or {{{name}: arg2}} for the trigger's role"
                )
            if role is not None and role not in possible:
                raise ConfigError(f"{key}: '{trigger}' cannot be the {role} of {name}")
            roles[(trigger, name)] = role or possible[0]
    return roles


def _query_item(item: str | dict, key: str) -> tuple[str, str | None]:
    """A `relation_queries` item as (relation name, trigger role or None)."""
    if isinstance(item, str):
        return item, None
    if isinstance(item, dict) and len(item) == 1:
        ((name, role),) = item.items()
        if role in TRIGGER_ROLES:
            return str(name), role
    raise ConfigError(f"{key}: '{item}' is not a relation name or {{Relation: arg1|arg2}}")


def _check_consistency(schema: DatasetSchema, where: str) -> None:
    """Every concept has a query; every queried relation has a `{trigger}` query."""
    for concept in schema.entities:
        if concept not in schema.concept_queries:
            raise ConfigError(f"{where}: queries.concepts has no query for '{concept}'")
    for relation_names in schema.relation_queries.values():
        for name in relation_names:
            template = schema.relation_query_templates.get(name)
            if template is None or "{trigger}" not in template:
                raise ConfigError(
                    f"{where}: queries.relations.{name} must be a question "
                    "with a {trigger} placeholder"
                )
    for arg in schema.labeled_arguments:
        if arg not in schema.entities:
            raise ConfigError(f"{where}: labeled_arguments: '{arg}' is not an entity type")


def resolve_schema_path(name_or_path: str) -> Path:
    """The YAML file of a schema given by name (file stem) or path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        if not candidate.is_file():
            raise ConfigError(f"{candidate}: schema file not found")
        return candidate
    for folder in SCHEMA_DIRS:
        path = folder / f"{name_or_path}.yaml"
        if path.is_file():
            return path
    raise ConfigError(
        f"unknown dataset schema '{name_or_path}' (looked in {', '.join(map(str, SCHEMA_DIRS))})"
    )


def load_schema(name_or_path: str) -> DatasetSchema:
    """Load and check a dataset schema by name or path."""
    path = resolve_schema_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        raise ConfigError(f"{path}:{line}: not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a schema must be a mapping")
    return _schema_from_mapping(data, str(path))
