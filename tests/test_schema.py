"""Dataset schemas: the two shipped YAML files, the SDoH event view, annotation.conf, bad YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from clinprompt.corpus.brat import Document, Relation
from clinprompt.corpus.brat_parser import parse_document, read_document
from clinprompt.corpus.schema import (
    AttributeType,
    EventType,
    RelationType,
    base_role,
    load_schema,
    parse_annotation_conf,
)
from clinprompt.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures" / "brat"
CONF_DIR = FIXTURES / "annotation_conf"

DRUG_ATTRIBUTES = ["Strength", "Form", "Dosage", "Frequency", "Route", "Duration", "Reason", "ADE"]
SDOH_TRIGGERS = ["Alcohol", "Drug", "Tobacco", "Employment", "LivingStatus"]
SDOH_ARGUMENTS = [
    "StatusTime", "StatusEmploy", "TypeLiving", "Type", "Amount", "Frequency", "Duration",
    "History", "Method",
]  # fmt: skip


def sdoh_doc(name: str) -> Document:
    doc, problems = read_document(FIXTURES / "sdoh" / f"{name}.ann")
    assert problems == []
    assert doc is not None
    return doc


# --------------------------------------------------------------------------- shipped schemas


@pytest.mark.parametrize(
    ("name", "entities", "relations", "events", "attributes"),
    [("n2c2-2018", 9, 8, 0, 0), ("n2c2-2022-sdoh", 14, 28, 5, 3), ("pgxcorpus", 10, 7, 0, 0)],
)
def test_shipped_schema_counts(name, entities, relations, events, attributes):
    schema = load_schema(name)
    assert schema.name == name
    counts = (len(schema.entities), len(schema.relations), len(schema.events))
    assert (*counts, len(schema.attributes)) == (entities, relations, events, attributes)
    assert len(set(schema.entities)) == entities


def test_drug_ade_relations_point_from_attribute_to_drug():
    schema = load_schema("n2c2-2018")
    assert schema.entities == ("Drug", *DRUG_ATTRIBUTES)
    assert schema.relations == {
        f"{a}-Drug": RelationType(f"{a}-Drug", (a,), ("Drug",)) for a in DRUG_ATTRIBUTES
    }
    assert schema.relation_queries == {"Drug": tuple(f"{a}-Drug" for a in DRUG_ATTRIBUTES)}


def test_sdoh_events_give_triggers_arguments_and_derived_relations():
    schema = load_schema("n2c2-2022-sdoh")
    assert schema.entities == (*SDOH_TRIGGERS, *SDOH_ARGUMENTS)
    assert list(schema.events) == SDOH_TRIGGERS
    assert schema.events["Employment"] == EventType(
        "Employment",
        "Employment",
        {
            "Status": ("StatusEmploy",),
            "Type": ("Type",),
            "Duration": ("Duration",),
            "History": ("History",),
        },
    )
    assert schema.relations["StatusTime-Alcohol"] == RelationType(
        "StatusTime-Alcohol", ("StatusTime",), ("Alcohol",)
    )
    assert sorted(r for r in schema.relations if r.endswith("-LivingStatus")) == [
        "Duration-LivingStatus",
        "History-LivingStatus",
        "StatusTime-LivingStatus",
        "TypeLiving-LivingStatus",
    ]
    queried = {name for names in schema.relation_queries.values() for name in names}
    assert queried == set(schema.relations)
    assert schema.attributes["StatusTimeVal"] == AttributeType(
        "StatusTimeVal", ("StatusTime",), ("none", "current", "past", "future")
    )
    assert schema.labeled_arguments == ("StatusTime", "StatusEmploy", "TypeLiving")


@pytest.mark.parametrize("name", ["n2c2-2018", "n2c2-2022-sdoh", "pgxcorpus"])
def test_every_concept_and_queried_relation_has_a_query(name):
    schema = load_schema(name)
    assert set(schema.concept_queries) == set(schema.entities)
    assert all(q.strip().endswith("?") for q in schema.concept_queries.values())
    for names in schema.relation_queries.values():
        for relation in names:
            assert "{trigger}" in schema.relation_query_templates[relation]


def test_schema_by_path():
    path = Path(__file__).parents[1] / "config" / "datasets" / "n2c2-2018.yaml"
    assert load_schema(str(path)) == load_schema("n2c2-2018")


@pytest.mark.parametrize(
    ("role", "base"), [("Type2", "Type"), ("Status", "Status"), ("Arg12", "Arg")]
)
def test_base_role_drops_the_repetition_suffix(role, base):
    assert base_role(role) == base


# --------------------------------------------------------------------------- study view


STUDY_RELATIONS = {
    "0001": [
        ("StatusTime-Alcohol", "T2", "T1"),
        ("Type-Alcohol", "T3", "T1"),
        ("Type-Alcohol", "T4", "T1"),  # from the suffixed role Type2
        ("Amount-Alcohol", "T5", "T1"),
        ("Frequency-Alcohol", "T6", "T1"),
        ("StatusTime-Tobacco", "T8", "T7"),  # "Denies" is shared by tobacco ...
        ("StatusTime-Drug", "T8", "T9"),  # ... and drug use
        ("StatusTime-LivingStatus", "T11", "T10"),
        ("TypeLiving-LivingStatus", "T12", "T10"),
        ("StatusEmploy-Employment", "T14", "T13"),
    ],
    "0002": [
        ("StatusTime-Tobacco", "T2", "T1"),  # stated again by E2: kept once
        ("Amount-Tobacco", "T3", "T1"),
        ("Duration-Tobacco", "T4", "T1"),
        ("History-Tobacco", "T5", "T1"),
        ("StatusTime-Alcohol", "T7", "T6"),
        ("StatusTime-Drug", "T9", "T8"),
        ("StatusTime-LivingStatus", "T11", "T10"),
        ("TypeLiving-LivingStatus", "T12", "T10"),
        ("StatusEmploy-Employment", "T14", "T13"),
    ],
}


@pytest.mark.parametrize("name", STUDY_RELATIONS)
def test_study_view_turns_event_links_into_relations(name):
    schema = load_schema("n2c2-2022-sdoh")
    doc = sdoh_doc(name)
    view = schema.study_view(doc)
    assert view.relations == [
        Relation(f"R{i}", type_, arg1, arg2)
        for i, (type_, arg1, arg2) in enumerate(STUDY_RELATIONS[name], start=1)
    ]
    assert view.events == []
    assert view.entities == doc.entities
    assert view.attributes == doc.attributes
    assert schema.check_document(view, "view") == []


def test_study_view_keeps_a_link_stated_twice_in_one_event_once():
    schema = load_schema("n2c2-2022-sdoh")
    text = "Drinks wine.\n"
    ann = "T1\tAlcohol 0 6\tDrinks\nT2\tType 7 11\twine\nE1\tAlcohol:T1 Type:T2 Type2:T2\n"
    doc, problems = parse_document("d", text, ann)
    assert problems == []
    assert schema.study_view(doc).relations == [Relation("R1", "Type-Alcohol", "T2", "T1")]


def test_study_view_leaves_documents_without_events_alone():
    doc, _ = read_document(FIXTURES / "n2c2_2018" / "100.ann")
    assert doc is not None
    assert load_schema("n2c2-2018").study_view(doc) is doc


def test_concept_values_of_labeled_arguments():
    schema = load_schema("n2c2-2022-sdoh")
    assert schema.concept_values(sdoh_doc("0001")) == {
        "T2": "current",
        "T8": "none",
        "T11": "current",
        "T12": "alone",
        "T14": "retired",
    }
    assert schema.concept_values(sdoh_doc("0002")) == {
        "T2": "past",
        "T7": "none",
        "T9": "none",
        "T11": "current",
        "T12": "with_family",
        "T14": "unemployed",
    }


# --------------------------------------------------------------------------- annotation.conf

CONF_ENTITIES = ["Drug", "Strength", "Dose", "Problem", "Reason", "ADE"]


def test_annotation_conf_types():
    conf = parse_annotation_conf(CONF_DIR / "annotation.conf")
    # `!Attribute` is abstract; the event type joins the entities as its trigger type.
    assert conf["entities"] == [*CONF_ENTITIES, "Dosing"]
    assert conf["relations"] == {
        "Strength-Drug": {"arg1": ["Strength"], "arg2": ["Drug"]},
        "Reason-Drug": {"arg1": ["Reason", "ADE"], "arg2": ["Drug"]},
        "Mentions": {"arg1": ["Drug"], "arg2": CONF_ENTITIES},
    }
    assert conf["events"] == {
        "Dosing": {
            "trigger": "Dosing",
            "arguments": {
                "Drug": ["Drug"],
                "Amount": ["Strength", "Dose"],
                "Target": CONF_ENTITIES,
            },
        }
    }
    assert conf["attributes"] == {
        "Negated": {"targets": CONF_ENTITIES, "values": []},
        "Certainty": {"targets": ["Dosing"], "values": ["likely", "possible", "unlikely"]},
    }


def test_generic_schema_from_annotation_conf_and_yaml():
    schema = load_schema(str(CONF_DIR / "schema.yaml"))
    assert schema.name == "tiny-drugs"
    assert schema.entities == (*CONF_ENTITIES, "Dosing")
    derived = [f"{t}-Dosing" for t in ("Drug", "Strength", "Dose", "Problem", "Reason", "ADE")]
    assert list(schema.relations) == ["Strength-Drug", "Reason-Drug", "Mentions", *derived]
    assert schema.relations["Dose-Dosing"] == RelationType("Dose-Dosing", ("Dose",), ("Dosing",))
    assert schema.relation_queries == {
        "Drug": ("Strength-Drug", "Reason-Drug"),
        "Dosing": ("Dose-Dosing",),
    }
    assert schema.attributes["Negated"] == AttributeType("Negated", tuple(CONF_ENTITIES))
    assert schema.concept_queries["Dosing"] == "Where is a drug taken?"


def test_generic_schema_checks_documents():
    schema = load_schema(str(CONF_DIR / "schema.yaml"))
    text = "Took aspirin 81 mg.\n"
    ann = (
        "T1\tDosing 0 4\tTook\nT2\tDrug 5 12\taspirin\nT3\tStrength 13 18\t81 mg\n"
        "E1\tDosing:T1 Drug:T2 Amount:T3 Amount2:T2\n"
        "A1\tNegated T2\nA2\tCertainty E1 sure\nA3\tNegated E1\n"
    )
    doc, problems = parse_document("d", text, ann, "d.ann")
    assert problems == []
    assert [str(p) for p in schema.check_document(doc, "d.ann")] == [
        "d.ann:4: Dosing Amount may not be a Drug",
        "d.ann:6: attribute Certainty value 'sure' not in ['likely', 'possible', 'unlikely']",
        "d.ann:7: attribute Negated may not sit on a Dosing",
    ]


# --------------------------------------------------------------------------- bad schemas


def minimal_schema() -> dict:
    """A valid schema the bad cases below break one key at a time."""
    return {
        "name": "mini",
        "entities": ["Drug", "Dose"],
        "relations": {"Dose-Drug": {"arg1": ["Dose"], "arg2": ["Drug"]}},
        "relation_queries": {"Drug": ["Dose-Drug"]},
        "queries": {
            "concepts": {"Drug": "Which drugs?", "Dose": "Which doses?"},
            "relations": {"Dose-Drug": "Which dose of {trigger}?"},
        },
    }


def unknown_key(s: dict) -> None:
    s["colour"] = "red"


def no_concept_query(s: dict) -> None:
    del s["queries"]["concepts"]["Dose"]


def no_trigger_placeholder(s: dict) -> None:
    s["queries"]["relations"]["Dose-Drug"] = "Which dose?"


def unknown_relation(s: dict) -> None:
    s["relation_queries"]["Drug"].append("Route-Drug")


def trigger_not_an_entity(s: dict) -> None:
    s["relation_queries"]["Pill"] = s["relation_queries"].pop("Drug")


def no_name(s: dict) -> None:
    del s["name"]


def relation_without_arg2(s: dict) -> None:
    del s["relations"]["Dose-Drug"]["arg2"]


def attribute_without_targets(s: dict) -> None:
    s["attributes"] = {"Negated": {"values": []}}


def event_without_arguments(s: dict) -> None:
    s["events"] = {"Dosing": {"trigger": "Drug"}}


def labeled_argument_not_an_entity(s: dict) -> None:
    s["labeled_arguments"] = ["Status"]


ALLOWED_KEYS = (
    "annotation_conf, attributes, description, entities, events, labeled_arguments, name,"
    " queries, relation_queries, relations"
)
BAD_SCHEMAS = [
    (unknown_key, f"unknown key 'colour' (allowed: {ALLOWED_KEYS})"),
    (no_concept_query, "queries.concepts has no query for 'Dose'"),
    (
        no_trigger_placeholder,
        "queries.relations.Dose-Drug must be a question with a {trigger} placeholder",
    ),
    (unknown_relation, "relation_queries.Drug: unknown relation 'Route-Drug'"),
    (trigger_not_an_entity, "relation_queries.Pill: not an entity type"),
    (no_name, "missing key 'name'"),
    (relation_without_arg2, "relations.Dose-Drug: missing key 'arg2'"),
    (attribute_without_targets, "attributes.Negated: missing key 'targets'"),
    (event_without_arguments, "events.Dosing: missing key 'arguments'"),
    (labeled_argument_not_an_entity, "labeled_arguments: 'Status' is not an entity type"),
]


def test_minimal_schema_loads(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(minimal_schema()), encoding="utf-8")
    assert load_schema(str(path)).relation_queries == {"Drug": ("Dose-Drug",)}


@pytest.mark.parametrize(
    ("breaks", "message"), BAD_SCHEMAS, ids=[b.__name__ for b, _ in BAD_SCHEMAS]
)
def test_bad_schema_is_one_line_naming_file_and_key(breaks, message, tmp_path):
    data = minimal_schema()
    breaks(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_schema(str(path))
    assert str(err.value) == f"{path}: {message}"


def directed_schema(queries: list) -> dict:
    """Produces: Disease -> Symptom, Is_a: Disease -> Disease, asked from Disease."""
    return {
        "name": "directed",
        "entities": ["Disease", "Symptom"],
        "relations": {
            "Produces": {"arg1": ["Disease"], "arg2": ["Symptom"]},
            "Is_a": {"arg1": ["Disease"], "arg2": ["Disease"]},
        },
        "relation_queries": {"Disease": queries},
        "queries": {
            "concepts": {"Disease": "Which diseases?", "Symptom": "Which symptoms?"},
            "relations": {"Produces": "What does {trigger} produce?", "Is_a": "What is {trigger}?"},
        },
    }


def load_mapping(data: dict, tmp_path: Path):
    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_schema(str(path)), path


def test_relations_are_asked_from_either_argument(tmp_path):
    schema, _ = load_mapping(directed_schema(["Produces", {"Is_a": "arg2"}]), tmp_path)
    assert schema.relation_queries == {"Disease": ("Produces", "Is_a")}
    assert schema.trigger_role("Disease", "Produces") == "arg1"
    assert schema.answer_types("Produces", "arg1") == ("Symptom",)
    assert schema.trigger_role("Disease", "Is_a") == "arg2"
    drug = load_schema("n2c2-2018")
    assert {drug.trigger_role("Drug", r) for r in drug.relation_queries["Drug"]} == {"arg2"}
    assert drug.answer_types("Strength-Drug", "arg2") == ("Strength",)


@pytest.mark.parametrize(
    ("queries", "message"),
    [
        (
            ["Is_a"],
            "relation_queries.Disease.Is_a: 'Disease' can be Arg1 or Arg2 of Is_a; "
            "write {Is_a: arg1} or {Is_a: arg2} for the trigger's role",
        ),
        (
            [{"Produces": "arg2"}],
            "relation_queries.Disease.Produces: 'Disease' cannot be the arg2 of Produces",
        ),
        (
            [{"Is_a": "tail"}],
            "relation_queries.Disease: '{'Is_a': 'tail'}' is not a relation name"
            " or {Relation: arg1|arg2}",
        ),
    ],
)
def test_relation_direction_errors_name_the_key(tmp_path, queries, message):
    with pytest.raises(ConfigError) as err:
        load_mapping(directed_schema(queries), tmp_path)
    assert str(err.value) == f"{tmp_path / 'schema.yaml'}: {message}"


def test_relation_asked_from_a_type_that_is_neither_argument(tmp_path):
    data = directed_schema([])
    data["relation_queries"] = {"Symptom": ["Is_a"]}
    with pytest.raises(ConfigError) as err:
        load_mapping(data, tmp_path)
    assert str(err.value) == (
        f"{tmp_path / 'schema.yaml'}: relation_queries.Symptom.Is_a: "
        "'Symptom' can be neither argument of Is_a"
    )


def test_schema_that_is_not_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nentities: [Drug\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_schema(str(path))
    assert str(err.value) == f"{path}:3: not valid YAML"


def test_unknown_schema_name():
    with pytest.raises(ConfigError) as err:
        load_schema("n2c2-2099")
    assert str(err.value).startswith("unknown dataset schema 'n2c2-2099' (looked in ")
    assert "\n" not in str(err.value)


def test_missing_schema_file(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_schema(str(tmp_path / "nope.yaml"))
    assert str(err.value) == f"{tmp_path / 'nope.yaml'}: schema file not found"


def test_annotation_conf_errors_name_the_line(tmp_path):
    conf = tmp_path / "annotation.conf"
    conf.write_text("[entities]\nDrug\n\n[relations]\nTreats\tArg1:Drug\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        parse_annotation_conf(conf)
    assert str(err.value) == f"{conf}:5: relation 'Treats' needs Arg1 and Arg2"
    with pytest.raises(ConfigError) as err:
        parse_annotation_conf(tmp_path / "other.conf")
    assert str(err.value) == f"{tmp_path / 'other.conf'}: annotation.conf not found"


def test_study_view_relation_ids_never_repeat_existing_ids():
    from clinprompt.corpus.brat import Entity, Event

    text = "Alcohol: denies"
    doc = Document(
        "d",
        text,
        entities=[
            Entity.from_offsets("T1", "Alcohol", [(0, 7)], text),
            Entity.from_offsets("T2", "StatusTime", [(9, 15)], text),
        ],
        relations=[Relation("R1", "StatusTime-Alcohol", "T2", "T1")],
        events=[Event("E1", "Alcohol", "T1", (("Status", "T2"),))],
    )
    doc.relations.append(Relation("R2", "StatusTime-Alcohol", "T2", "T1"))
    sdoh = load_schema("n2c2-2022-sdoh")
    ids = [r.id for r in sdoh.study_view(doc).relations]
    assert ids == ["R1", "R2"]
    doc.relations = [Relation("R2", "History-Alcohol", "T2", "T1")]
    ids = [r.id for r in sdoh.study_view(doc).relations]
    assert ids == ["R2", "R1"] and len(set(ids)) == len(ids)
