"""SDoH event scoring (2022 n2c2 rules) and the conversion of study-view predictions to events."""

from __future__ import annotations

import pytest

from clinprompt.corpus.brat import Attribute, Document, Entity, Event, Relation
from clinprompt.corpus.events import VALUE_RULES, event_view, to_events
from clinprompt.corpus.schema import load_schema
from clinprompt.errors import ConfigError, InvalidInputError
from clinprompt.score.events import EventRow, evaluate_events, format_table, to_json
from clinprompt.score.pairs import DocumentPair

TEXT = "Social history: denies alcohol. Former smoker, quit 2010. Lives with wife."
SDOH = load_schema("n2c2-2022-sdoh")


def span(phrase: str, occurrence: int = 0) -> tuple[int, int]:
    """Offsets of `phrase` in TEXT (its n-th occurrence)."""
    start = -1
    for _ in range(occurrence + 1):
        start = TEXT.index(phrase, start + 1)
    return start, start + len(phrase)


def entity(ann_id: str, type_: str, phrase: str) -> Entity:
    return Entity.from_offsets(ann_id, type_, [span(phrase)], TEXT)


def gold_document() -> Document:
    """Three gold events: alcohol (denied), tobacco (past, with history), living (with wife)."""
    return Document(
        "sh1",
        TEXT,
        entities=[
            entity("T1", "Alcohol", "alcohol"),
            entity("T2", "StatusTime", "denies"),
            entity("T3", "Tobacco", "smoker"),
            entity("T4", "StatusTime", "Former"),
            entity("T5", "History", "2010"),
            entity("T6", "LivingStatus", "Lives"),
            entity("T7", "TypeLiving", "with wife"),
        ],
        events=[
            Event("E1", "Alcohol", "T1", (("Status", "T2"),)),
            Event("E2", "Tobacco", "T3", (("Status", "T4"), ("History", "T5"))),
            Event("E3", "LivingStatus", "T6", (("Type", "T7"),)),
        ],
        attributes=[
            Attribute("A1", "StatusTimeVal", "T2", "none"),
            Attribute("A2", "StatusTimeVal", "T4", "past"),
            Attribute("A3", "TypeLivingVal", "T7", "with_family"),
        ],
    )


def study_view_prediction() -> Document:
    """What the pipeline writes: concepts, `<argument>-<event>` relations and the value head's
    values of the labeled arguments."""
    return Document(
        "sh1",
        TEXT,
        entities=[
            entity("T1", "Alcohol", "alcohol"),
            entity("T2", "StatusTime", "denies"),
            entity("T3", "Tobacco", "smoker"),
            entity("T4", "StatusTime", "Former smoker"),  # other span, same value: a TP
            entity("T5", "History", "quit 2010"),  # span-only, other span: FP + FN
            entity("T6", "LivingStatus", "Lives with"),  # overlapping trigger: aligned
            entity("T7", "TypeLiving", "wife"),  # with_family, as the rule says too
            entity("T8", "Drug", "alcohol"),  # no gold drug event: FP trigger
        ],
        relations=[
            Relation("R1", "StatusTime-Alcohol", "T2", "T1"),
            Relation("R2", "StatusTime-Tobacco", "T4", "T3"),
            Relation("R3", "History-Tobacco", "T5", "T3"),
            Relation("R4", "TypeLiving-LivingStatus", "T7", "T6"),
        ],
        attributes=[
            Attribute("A1", "StatusTimeVal", "T2", "none"),
            Attribute("A2", "StatusTimeVal", "T4", "past"),
            Attribute("A3", "TypeLivingVal", "T7", "with_family"),
        ],
    )


def pair(gold: Document, pred: Document) -> DocumentPair:
    return DocumentPair(gold.doc_id, gold, pred, "gold/sh1.ann", "pred/sh1.ann")


def rows(report: dict) -> dict[tuple, tuple[int, int, int]]:
    return {
        (r["event"], r["argument"], r["value"]): (r["tp"], r["fp"], r["fn"]) for r in report["rows"]
    }


def test_hand_computed_document():
    report = to_json(evaluate_events([pair(gold_document(), study_view_prediction())], SDOH))
    assert rows(report) == {
        ("Alcohol", "Trigger", None): (1, 0, 0),
        ("Alcohol", "StatusTime", "none"): (1, 0, 0),
        ("Drug", "Trigger", None): (0, 1, 0),
        ("LivingStatus", "Trigger", None): (1, 0, 0),
        ("LivingStatus", "TypeLiving", "with_family"): (1, 0, 0),
        ("Tobacco", "Trigger", None): (1, 0, 0),
        ("Tobacco", "History", None): (0, 1, 1),
        ("Tobacco", "StatusTime", "past"): (1, 0, 0),
    }
    micro = report["micro"]
    assert (micro["tp"], micro["fp"], micro["fn"]) == (6, 2, 1)
    assert micro["precision"] == 0.75 and micro["recall"] == 6 / 7
    assert micro["f1"] == pytest.approx(2 * 0.75 * (6 / 7) / (0.75 + 6 / 7))
    assert report["documents"] == 1


def test_rows_are_sorted_trigger_first():
    evaluation = evaluate_events([pair(gold_document(), study_view_prediction())], SDOH)
    tobacco = [row for row in evaluation.table.rows if row.event == "Tobacco"]
    assert tobacco == [
        EventRow("Tobacco", "Trigger"),
        EventRow("Tobacco", "History"),
        EventRow("Tobacco", "StatusTime", "past"),
    ]


def test_wrong_value_of_labeled_argument_is_fp_and_fn():
    pred = gold_document()
    pred.attributes[0] = Attribute("A1", "StatusTimeVal", "T2", "current")
    report = rows(to_json(evaluate_events([pair(gold_document(), pred)], SDOH)))
    assert report["Alcohol", "StatusTime", "none"] == (0, 0, 1)
    assert report["Alcohol", "StatusTime", "current"] == (0, 1, 0)


def test_arguments_count_only_inside_aligned_events():
    pred = gold_document()
    pred.entities[0] = entity("T1", "Alcohol", "Social")  # trigger moved: no alignment
    report = rows(to_json(evaluate_events([pair(gold_document(), pred)], SDOH)))
    assert report["Alcohol", "Trigger", None] == (0, 1, 1)
    assert report["Alcohol", "StatusTime", "none"] == (0, 1, 1)


def test_trigger_alignment_needs_the_same_event_type():
    pred = gold_document()
    pred.entities[0] = entity("T1", "Drug", "alcohol")
    pred.events[0] = Event("E1", "Drug", "T1", (("Status", "T2"),))
    report = rows(to_json(evaluate_events([pair(gold_document(), pred)], SDOH)))
    assert report["Alcohol", "Trigger", None] == (0, 0, 1)
    assert report["Drug", "Trigger", None] == (0, 1, 0)


def test_one_predicted_trigger_aligns_with_one_gold_trigger():
    pred = gold_document()
    pred.entities.append(entity("T9", "Alcohol", "alcohol"))
    pred.events.insert(0, Event("E9", "Alcohol", "T9"))  # first in file order, no arguments
    report = rows(to_json(evaluate_events([pair(gold_document(), pred)], SDOH)))
    # gold E1 aligns with the first overlapping prediction, E9, which has no Status argument
    assert report["Alcohol", "Trigger", None] == (1, 1, 0)
    assert report["Alcohol", "StatusTime", "none"] == (0, 1, 1)


def test_gold_against_itself_scores_one():
    report = to_json(evaluate_events([pair(gold_document(), gold_document())], SDOH))
    assert report["micro"]["f1"] == 1.0
    assert all(r["f1"] == 1.0 and r["fp"] == r["fn"] == 0 for r in report["rows"])


def test_empty_documents_score_zero():
    empty = Document("sh1", TEXT)
    report = to_json(evaluate_events([pair(empty, empty)], SDOH))
    assert report["rows"] == []
    assert report["micro"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "tp": 0,
        "fp": 0,
        "fn": 0,
    }


def test_table_lists_rows_and_micro():
    table = format_table(evaluate_events([pair(gold_document(), study_view_prediction())], SDOH))
    assert "Overall (micro)" in table
    assert "Tobacco         History         -" in table


# --------------------------------------------------------------------------- conversion


def test_to_events_builds_one_event_per_trigger_with_roles_and_values():
    events = to_events(study_view_prediction(), SDOH)
    by_trigger = {e.trigger: e for e in events.events}
    assert by_trigger["T1"] == Event("E1", "Alcohol", "T1", (("Status", "T2"),))
    assert by_trigger["T3"].arguments == (("Status", "T4"), ("History", "T5"))
    assert by_trigger["T6"].arguments == (("Type", "T7"),)
    assert by_trigger["T8"] == Event(by_trigger["T8"].id, "Drug", "T8", ())
    values = {a.target: (a.type, a.value) for a in events.attributes}
    assert values == {
        "T2": ("StatusTimeVal", "none"),
        "T4": ("StatusTimeVal", "past"),
        "T7": ("TypeLivingVal", "with_family"),
    }
    assert SDOH.check_document(events, "pred/sh1.ann") == []


def test_to_events_numbers_repeated_roles():
    pred = study_view_prediction()
    pred.entities.append(entity("T9", "History", "2010"))
    pred.relations.append(Relation("R5", "History-Tobacco", "T9", "T3"))
    tobacco = next(e for e in to_events(pred, SDOH).events if e.trigger == "T3")
    assert tobacco.arguments == (("Status", "T4"), ("History", "T5"), ("History2", "T9"))


def test_to_events_keeps_predicted_values():
    pred = study_view_prediction()
    pred.attributes[0] = Attribute("A1", "StatusTimeVal", "T2", "current")
    values = {a.target: a.value for a in to_events(pred, SDOH).attributes}
    assert values == {"T2": "current", "T4": "past", "T7": "with_family"}
    assert [a.id for a in to_events(pred, SDOH).attributes] == ["A1", "A2", "A3"]


def test_to_events_adds_no_value_the_model_did_not_give():
    pred = study_view_prediction()
    pred.attributes = []
    assert to_events(pred, SDOH).attributes == []
    report = rows(to_json(evaluate_events([pair(gold_document(), pred)], SDOH)))
    assert report["Alcohol", "StatusTime", "none"] == (0, 0, 1)
    assert report["Alcohol", "StatusTime", None] == (0, 1, 0)


def test_rule_values_replace_the_predicted_ones_when_asked():
    pred = study_view_prediction()
    pred.attributes = [Attribute("A1", "StatusTimeVal", "T2", "current")]  # wrong, T4/T7 none
    events = to_events(pred, SDOH, value_source="rules")
    assert [(a.id, a.target, a.value) for a in events.attributes] == [
        ("A1", "T2", "none"), ("A2", "T4", "past"), ("A3", "T7", "with_family"),
    ]  # fmt: skip
    model = to_json(evaluate_events([pair(gold_document(), pred)], SDOH))
    rules = to_json(evaluate_events([pair(gold_document(), pred)], SDOH, value_source="rules"))
    assert (model["micro"]["tp"], rules["micro"]["tp"]) == (3, 6)


def test_unknown_value_source_is_an_error():
    with pytest.raises(ConfigError, match=r"^value_source 'keywords' unknown"):
        to_events(study_view_prediction(), SDOH, value_source="keywords")


def test_to_events_rejects_relations_that_are_no_event_link():
    pred = study_view_prediction()
    pred.relations.append(Relation("R9", "Strength-Drug", "T2", "T8", line=7))
    with pytest.raises(InvalidInputError, match=r"^x\.ann:7: relation type Strength-Drug"):
        to_events(pred, SDOH, "x.ann")


def test_to_events_rejects_a_link_to_the_wrong_trigger():
    pred = study_view_prediction()
    pred.relations.append(Relation("R9", "StatusTime-Alcohol", "T2", "T3", line=3))
    with pytest.raises(InvalidInputError, match=r"x\.ann:3: .*needs a Alcohol trigger"):
        to_events(pred, SDOH, "x.ann")


def test_event_view_keeps_documents_with_events():
    gold = gold_document()
    assert event_view(gold, SDOH) is gold


@pytest.mark.parametrize(
    ("argument", "text", "value"),
    [
        ("StatusTime", "denies", "none"),
        ("StatusTime", "Never", "none"),
        ("StatusTime", "no", "none"),
        ("StatusTime", "quit", "past"),
        ("StatusTime", "former", "past"),
        ("StatusTime", "previously", "past"),
        ("StatusTime", "no longer", "past"),
        ("StatusTime", "plans to quit", "future"),
        ("StatusTime", "currently", "current"),
        ("StatusTime", "smokes", "current"),
        ("StatusEmploy", "retired", "retired"),
        ("StatusEmploy", "not working", "unemployed"),
        ("StatusEmploy", "on SSDI", "on_disability"),
        ("StatusEmploy", "college student", "student"),
        ("StatusEmploy", "works", "employed"),
        ("TypeLiving", "homeless shelter", "homeless"),
        ("TypeLiving", "alone", "alone"),
        ("TypeLiving", "with roommates", "with_others"),
        ("TypeLiving", "with her husband", "with_family"),
    ],
)
def test_value_rules(argument, text, value):
    assert VALUE_RULES[argument].value(text) == value


def test_value_rules_cover_the_schema_values():
    for name, attribute in SDOH.attributes.items():
        (target,) = attribute.targets
        assert set(VALUE_RULES[target].values) <= set(attribute.values), name
