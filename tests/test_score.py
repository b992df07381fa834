"""Concept and relation scoring: hand-computed cases for each rule of the 2018 n2c2 scorer,
a transcription of the official matching loop as an oracle, and properties."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinprompt.corpus.brat import Document, Entity, Event, Relation, format_ann
from clinprompt.corpus.schema import load_schema
from clinprompt.errors import InvalidInputError
from clinprompt.score.n2c2 import evaluate, format_table, macro, prf, to_json
from clinprompt.score.pairs import DocumentPair, pair_predictions, read_gold

TEXT = "aspirin 81 mg po daily for pain; metoprolol 25 mg bid\n" * 3


def doc(entities=(), relations=(), text: str = TEXT, doc_id: str = "d1") -> Document:
    """A document from (id, type, fragments) and (id, type, arg1, arg2) tuples."""
    return Document(
        doc_id,
        text,
        entities=[Entity.from_offsets(i, t, frags, text) for i, t, frags in entities],
        relations=[Relation(i, t, a1, a2) for i, t, a1, a2 in relations],
    )


def pair(gold: Document, pred: Document) -> DocumentPair:
    return DocumentPair(
        gold.doc_id, gold, pred, f"gold/{gold.doc_id}.ann", f"pred/{gold.doc_id}.ann"
    )


def scores(gold: Document, pred: Document, schema=None) -> dict:
    return to_json(evaluate([pair(gold, pred)], schema))


def micro(report: dict, target: str, mode: str) -> tuple:
    block = report[target][mode]["micro"]
    return tuple(block[k] for k in ("tp", "fp", "fn", "precision", "recall", "f1"))


DRUG = ("T1", "Drug", [(0, 7)])
STRENGTH = ("T2", "Strength", [(8, 13)])
STRENGTH_DRUG = ("R1", "Strength-Drug", "T2", "T1")


# --------------------------------------------------------------------------- entities


def test_exact_match_counts_in_both_modes():
    report = scores(doc([DRUG, STRENGTH]), doc([DRUG, STRENGTH]))
    for mode in ("strict", "lenient"):
        assert micro(report, "entities", mode) == (2, 0, 0, 1.0, 1.0, 1.0)


def test_boundary_only_match_is_lenient_only():
    report = scores(doc([DRUG]), doc([("T1", "Drug", [(0, 4)])]))
    assert micro(report, "entities", "strict") == (0, 1, 1, 0.0, 0.0, 0.0)
    assert micro(report, "entities", "lenient") == (1, 0, 0, 1.0, 1.0, 1.0)


def test_touching_spans_do_not_overlap():
    report = scores(doc([DRUG]), doc([("T1", "Drug", [(7, 10)])]))
    assert micro(report, "entities", "lenient")[:3] == (0, 1, 1)


def test_wrong_type_never_matches():
    report = scores(doc([DRUG]), doc([("T1", "Reason", [(0, 7)])]))
    for mode in ("strict", "lenient"):
        assert micro(report, "entities", mode)[:3] == (0, 1, 1)
    per_type = report["entities"]["strict"]["per_type"]
    assert (per_type["Drug"]["tp"], per_type["Drug"]["fn"], per_type["Drug"]["fp"]) == (0, 1, 0)
    assert (per_type["Reason"]["fp"], per_type["Reason"]["fn"]) == (1, 0)


def test_duplicate_system_items_on_one_gold_are_discarded():
    pred = doc([("T1", "Drug", [(0, 7)]), ("T2", "Drug", [(0, 7)]), ("T3", "Drug", [(2, 5)])])
    report = scores(doc([DRUG]), pred)
    # strict: T2 duplicates T1 (discarded), T3 matches nothing (FP)
    assert micro(report, "entities", "strict")[:3] == (1, 1, 0)
    # lenient: T2 and T3 both hit the gold item T1 already took: neither TP nor FP
    assert micro(report, "entities", "lenient") == (1, 0, 0, 1.0, 1.0, 1.0)


def test_system_item_over_two_gold_items_counts_once():
    gold = doc([("G1", "Drug", [(0, 7)]), ("G2", "Drug", [(8, 13)])])
    pred = doc([("S1", "Drug", [(5, 10)]), ("S2", "Drug", [(0, 3)])])
    strict, lenient = (micro(scores(gold, pred), "entities", m) for m in ("strict", "lenient"))
    assert strict[:3] == (0, 2, 2)
    # S1 takes G1 and G2 (one TP), S2 hits G1 again and is discarded; FN = 2 gold - 1 TP
    assert lenient == (1, 0, 1, 1.0, 0.5, pytest.approx(2 / 3))


def test_a_system_item_hitting_a_taken_gold_item_is_discarded_even_with_a_new_one():
    gold = doc([("G1", "Drug", [(0, 7)]), ("G2", "Drug", [(8, 13)])])
    pred = doc([("S1", "Drug", [(0, 3)]), ("S2", "Drug", [(5, 10)])])
    # S2 overlaps G1 (taken by S1) and G2 (free): the official loop drops S2 anyway
    assert micro(scores(gold, pred), "entities", "lenient")[:3] == (1, 0, 1)


@pytest.mark.parametrize(
    "fragments",
    [
        [(0, 13)],
        [(0, 7), (8, 13)],
        [(0, 2), (3, 7), (8, 13)],
        [(0, 1), (2, 3), (4, 5), (6, 7), (8, 13)],
    ],
    ids=["1-fragment", "2-fragments", "3-fragments", "5-fragments"],
)
def test_span_runs_from_first_fragment_start_to_last_fragment_end(fragments):
    gold = doc([("T1", "Drug", [(0, 13)])])
    report = scores(gold, doc([("T1", "Drug", fragments)]))
    assert micro(report, "entities", "strict") == (1, 0, 0, 1.0, 1.0, 1.0)
    report = scores(doc([("T1", "Drug", fragments)]), doc([("T1", "Drug", [(0, 12)])]))
    assert micro(report, "entities", "strict")[:3] == (0, 1, 1)
    assert micro(report, "entities", "lenient")[:3] == (1, 0, 0)


def test_gap_inside_fragments_still_overlaps_leniently():
    gold = doc([("T1", "Drug", [(0, 2), (11, 13)])])
    report = scores(gold, doc([("T1", "Drug", [(5, 7)])]))
    assert micro(report, "entities", "lenient")[:3] == (1, 0, 0)


# --------------------------------------------------------------------------- relations


def test_relation_with_one_argument_off_matches_leniently_only():
    gold = doc([DRUG, STRENGTH], [STRENGTH_DRUG])
    pred = doc([DRUG, ("T2", "Strength", [(8, 10)])], [STRENGTH_DRUG])
    report = scores(gold, pred)
    assert micro(report, "relations", "strict") == (0, 1, 1, 0.0, 0.0, 0.0)
    assert micro(report, "relations", "lenient") == (1, 0, 0, 1.0, 1.0, 1.0)


def test_relation_type_must_match():
    gold = doc([DRUG, STRENGTH], [STRENGTH_DRUG])
    pred = doc([DRUG, STRENGTH], [("R1", "Dosage-Drug", "T2", "T1")])
    assert micro(scores(gold, pred), "relations", "lenient")[:3] == (0, 1, 1)


def test_relation_arguments_must_not_be_swapped():
    gold = doc([DRUG, STRENGTH], [STRENGTH_DRUG])
    pred = doc([DRUG, STRENGTH], [("R1", "Strength-Drug", "T1", "T2")])
    assert micro(scores(gold, pred), "relations", "strict")[:3] == (0, 1, 1)


def test_duplicate_relations_are_discarded():
    gold = doc([DRUG, STRENGTH], [STRENGTH_DRUG])
    pred = doc([DRUG, STRENGTH], [STRENGTH_DRUG, ("R2", "Strength-Drug", "T2", "T1")])
    assert micro(scores(gold, pred), "relations", "strict") == (1, 0, 0, 1.0, 1.0, 1.0)


def test_relation_argument_that_is_not_an_entity_is_invalid_input():
    pred = doc([DRUG])
    pred.events.append(Event("E1", "Drug", "T1"))
    pred.relations.append(Relation("R1", "Strength-Drug", "E1", "T1", line=4))
    with pytest.raises(InvalidInputError, match=r"^pred/d1\.ann:4: relation R1 argument E1"):
        evaluate([pair(doc([DRUG]), pred)])


# --------------------------------------------------------------------------- empty, types, macro


def test_empty_gold_and_empty_prediction_score_zero():
    report = scores(doc(), doc())
    for target in ("entities", "relations"):
        for mode in ("strict", "lenient"):
            assert micro(report, target, mode) == (0, 0, 0, 0.0, 0.0, 0.0)
            assert report[target][mode]["per_type"] == {}


def test_empty_prediction_is_all_false_negatives():
    report = scores(doc([DRUG, STRENGTH], [STRENGTH_DRUG]), doc())
    assert micro(report, "entities", "strict") == (0, 0, 2, 0.0, 0.0, 0.0)
    assert micro(report, "relations", "lenient") == (0, 0, 1, 0.0, 0.0, 0.0)


def test_empty_gold_makes_every_prediction_a_false_positive():
    report = scores(doc(), doc([DRUG]))
    assert micro(report, "entities", "strict") == (0, 1, 0, 0.0, 0.0, 0.0)
    assert report["entities"]["strict"]["per_type"]["Drug"]["fp"] == 1


def test_schema_lists_types_without_gold_in_schema_order():
    schema = load_schema("n2c2-2018")
    report = scores(doc([DRUG]), doc([DRUG, ("T2", "Form", [(14, 16)])]), schema)
    per_type = report["entities"]["strict"]["per_type"]
    assert tuple(per_type) == schema.entities
    assert per_type["Form"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "tp": 0,
        "fp": 1,
        "fn": 0,
    }
    assert per_type["ADE"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "tp": 0,
        "fp": 0,
        "fn": 0,
    }
    assert tuple(report["relations"]["strict"]["per_type"]) == schema.relation_types


def test_without_schema_gold_types_come_first_then_predicted_ones():
    report = scores(doc([STRENGTH, DRUG]), doc([("T1", "ADE", [(0, 7)])]))
    assert tuple(report["entities"]["strict"]["per_type"]) == ("Drug", "Strength", "ADE")


def test_macro_is_the_mean_of_per_document_scores():
    perfect = doc([DRUG], doc_id="a")
    half = doc([DRUG, STRENGTH], doc_id="b")
    half_pred = doc([DRUG, ("T2", "Strength", [(20, 22)])], doc_id="b")
    evaluation = evaluate([pair(perfect, perfect), pair(half, half_pred)])
    assert macro(evaluation.table("entities", "strict")) == (0.75, 0.75, 0.75)
    report = to_json(evaluation)
    assert report["entities"]["strict"]["macro"] == {"precision": 0.75, "recall": 0.75, "f1": 0.75}
    assert micro(report, "entities", "strict") == (2, 1, 1, 2 / 3, 2 / 3, pytest.approx(2 / 3))


def test_prf_follows_the_official_formula_bit_for_bit():
    tp, fp, fn = 7, 3, 5
    p, r = tp / (tp + fp), tp / (tp + fn)
    assert prf(np.array([tp, fp, fn])).tolist() == [p, r, 2 * (p * r) / (p + r)]
    assert prf(np.array([0, 0, 0])).tolist() == [0.0, 0.0, 0.0]


def test_study_view_turns_sdoh_events_into_relations():
    schema = load_schema("n2c2-2022-sdoh")
    text = "denies alcohol"
    gold = Document(
        "s", text,
        entities=[Entity.from_offsets("T1", "StatusTime", [(0, 6)], text),
                  Entity.from_offsets("T2", "Alcohol", [(7, 14)], text)],
        events=[Event("E1", "Alcohol", "T2", (("Status", "T1"),))],
    )  # fmt: skip
    pred = Document("s", text, entities=list(gold.entities),
                    relations=[Relation("R1", "StatusTime-Alcohol", "T1", "T2")])  # fmt: skip
    report = scores(gold, pred, schema)
    assert micro(report, "relations", "strict") == (1, 0, 0, 1.0, 1.0, 1.0)
    assert report["relations"]["strict"]["per_type"]["StatusTime-Alcohol"]["tp"] == 1


def test_table_shows_types_micro_and_macro():
    table = format_table(evaluate([pair(doc([DRUG]), doc([DRUG]))]))
    assert "1 documents scored" in table
    assert "Drug  1.0000  1.0000  1.0000    1.0000  1.0000  1.0000" in table
    assert table.count("Overall (micro)") == 2 and table.count("Overall (macro)") == 2


# --------------------------------------------------------------------------- folders


def write(folder: Path, name: str, document: Document, text: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if text:
        (folder / f"{name}.txt").write_text(document.text, encoding="utf-8")
    (folder / f"{name}.ann").write_text(format_ann(document), encoding="utf-8")


def test_missing_prediction_predicts_nothing_and_warns(tmp_path, caplog):
    write(tmp_path / "gold", "a", doc([DRUG]))
    write(tmp_path / "gold", "b", doc([DRUG]))
    write(tmp_path / "pred", "a", doc([DRUG]), text=False)
    gold = read_gold(tmp_path / "gold")
    pairs = pair_predictions(gold, tmp_path / "gold", tmp_path / "pred")
    assert [p.doc_id for p in pairs] == ["a", "b"]
    assert micro(to_json(evaluate(pairs)), "entities", "strict")[:3] == (1, 0, 1)
    assert "no prediction file b.ann" in caplog.text


def test_missing_prediction_is_dropped_in_official_mode(tmp_path, caplog):
    write(tmp_path / "gold", "a", doc([DRUG]))
    write(tmp_path / "gold", "b", doc([DRUG]))
    write(tmp_path / "pred", "a", doc([DRUG]), text=False)
    pairs = pair_predictions(
        read_gold(tmp_path / "gold"), tmp_path / "gold", tmp_path / "pred", True
    )
    assert [p.doc_id for p in pairs] == ["a"]
    assert micro(to_json(evaluate(pairs)), "entities", "strict")[:3] == (1, 0, 0)
    assert "b.ann" in caplog.text and "--official" in caplog.text


def test_prediction_without_gold_is_an_error(tmp_path):
    write(tmp_path / "gold", "a", doc([DRUG]))
    write(tmp_path / "pred", "zz", doc([DRUG]), text=False)
    with pytest.raises(InvalidInputError, match=r"zz\.ann: no gold document zz\.ann"):
        pair_predictions(read_gold(tmp_path / "gold"), tmp_path / "gold", tmp_path / "pred")


def test_prediction_with_missing_relation_argument_names_file_and_line(tmp_path):
    write(tmp_path / "gold", "a", doc([DRUG]))
    (tmp_path / "pred").mkdir()
    (tmp_path / "pred" / "a.ann").write_text(
        "T1\tDrug 0 7\taspirin\nR1\tStrength-Drug Arg1:T9 Arg2:T1\n", encoding="utf-8"
    )
    with pytest.raises(InvalidInputError, match=r"a\.ann:2: R1 Arg1 points at missing id T9"):
        pair_predictions(read_gold(tmp_path / "gold"), tmp_path / "gold", tmp_path / "pred")


def test_five_fragment_entity_is_read_and_scored(tmp_path):
    five = doc([("T1", "Drug", [(0, 1), (2, 3), (4, 5), (6, 7), (8, 13)])])
    write(tmp_path / "gold", "a", five)
    write(tmp_path / "pred", "a", five, text=False)
    pairs = pair_predictions(read_gold(tmp_path / "gold"), tmp_path / "gold", tmp_path / "pred")
    assert micro(to_json(evaluate(pairs)), "entities", "strict")[:3] == (1, 0, 0)


# --------------------------------------------------------------------------- oracle and properties


class _Official:
    """The matching loop of the official track2-evaluate script, transcribed for one document
    (ClinicalConcept / Relation `equals` and SingleEvaluator's pare-down)."""

    @staticmethod
    def entity_equals(g: Entity, s: Entity, mode: str) -> bool:
        if g.type != s.type:
            return False
        if mode == "strict":
            return g.start == s.start and g.end == s.end
        return (g.end > s.start and g.start < s.end) or (g.start < s.end and s.start < g.end)

    @classmethod
    def relation_equals(cls, g, s, gold: Document, pred: Document, mode: str) -> bool:
        ge, se = gold.entity_by_id(), pred.entity_by_id()
        return (
            cls.entity_equals(ge[g.arg1], se[s.arg1], mode)
            and cls.entity_equals(ge[g.arg2], se[s.arg2], mode)
            and g.type == s.type
        )

    @staticmethod
    def counts(gol: list, sys: list, equals) -> tuple[int, int, int]:
        sys_check = list(sys)
        gol_matched: list = []
        for s in sys:
            for g in gol:
                if equals(g, s):
                    if not any(g is m for m in gol_matched):
                        gol_matched.append(g)
                    elif any(s is c for c in sys_check):
                        sys_check = [c for c in sys_check if c is not s]
        tp = len({s.id for s in sys_check for g in gol if equals(g, s)})
        return tp, len({s.id for s in sys_check}) - tp, len({g.id for g in gol}) - tp

    @classmethod
    def score(cls, gold: Document, pred: Document, mode: str, key: str | None = None):
        gol = [e for e in gold.entities if key is None or e.type == key]
        sys = [e for e in pred.entities if key is None or e.type == key]
        entities = cls.counts(gol, sys, lambda g, s: cls.entity_equals(g, s, mode))
        gol = [r for r in gold.relations if key is None or r.type == key]
        sys = [r for r in pred.relations if key is None or r.type == key]
        relations = cls.counts(gol, sys, lambda g, s: cls.relation_equals(g, s, gold, pred, mode))
        return entities, relations


@st.composite
def documents(draw, text_length: int = 40) -> Document:
    """Random documents: up to 8 entities of 3 types with 1-3 fragments, up to 6 relations."""
    text = "x" * text_length
    entities = []
    for i in range(draw(st.integers(0, 8))):
        cuts = sorted(draw(st.sets(st.integers(0, text_length), min_size=2, max_size=6)))
        pairs_ = list(zip(cuts[::2], cuts[1::2], strict=False))
        entities.append((f"T{i + 1}", draw(st.sampled_from(["Drug", "Dosage", "ADE"])), pairs_))
    relations = []
    if entities:
        ids = [e[0] for e in entities]
        for i in range(draw(st.integers(0, 6))):
            a1, a2 = draw(st.sampled_from(ids)), draw(st.sampled_from(ids))
            relations.append(
                (f"R{i + 1}", draw(st.sampled_from(["Dosage-Drug", "ADE-Drug"])), a1, a2)
            )
    return doc(entities, relations, text=text)


@settings(max_examples=300, deadline=None)
@given(gold=documents(), pred=documents())
def test_counts_agree_with_the_official_loop(gold, pred):
    report = scores(gold, pred)
    for mode in ("strict", "lenient"):
        entities, relations = _Official.score(gold, pred, mode)
        assert micro(report, "entities", mode)[:3] == entities
        assert micro(report, "relations", mode)[:3] == relations
        for target, index in (("entities", 0), ("relations", 1)):
            for key, row in report[target][mode]["per_type"].items():
                official = _Official.score(gold, pred, mode, key)[index]
                assert (row["tp"], row["fp"], row["fn"]) == official


@st.composite
def distinct_documents(draw, text_length: int = 40) -> Document:
    """Random documents whose entities never overlap and whose relations differ: gold without
    items that match each other (the duplicates rule makes such gold score below 1 against
    itself, in the official script as here)."""
    cuts = sorted(draw(st.sets(st.integers(0, text_length), max_size=16)))
    chunks = list(zip(cuts[::2], cuts[1::2], strict=False))
    entities, start = [], 0
    while start < len(chunks):
        size = draw(st.integers(1, 3))
        fragments = chunks[start : start + size]
        entities.append(
            (f"T{len(entities) + 1}", draw(st.sampled_from(["Drug", "ADE"])), fragments)
        )
        start += size
    keys = set()
    if entities:
        ids = [e[0] for e in entities]
        triples = st.tuples(
            st.sampled_from(["Dosage-Drug", "ADE-Drug"]), st.sampled_from(ids), st.sampled_from(ids)
        )
        keys = draw(st.sets(triples, max_size=6))
    relations = [(f"R{i + 1}", *key) for i, key in enumerate(sorted(keys))]
    return doc(entities, relations, text="x" * text_length)


@settings(max_examples=100, deadline=None)
@given(gold=st.lists(distinct_documents(), min_size=1, max_size=4))
def test_gold_against_itself_scores_one_everywhere(gold):
    pairs = [pair(replace(g, doc_id=f"doc{i}"), g) for i, g in enumerate(gold)]
    report = to_json(evaluate(pairs))
    for target in ("entities", "relations"):
        for mode in ("strict", "lenient"):
            block = report[target][mode]
            expected = 1.0 if block["micro"]["tp"] else 0.0
            assert block["micro"]["fp"] == block["micro"]["fn"] == 0
            assert [block["micro"][m] for m in ("precision", "recall", "f1")] == [expected] * 3
            for row in block["per_type"].values():
                assert row["precision"] == row["recall"] == row["f1"] == 1.0


@settings(max_examples=100, deadline=None)
@given(docs=st.lists(st.tuples(documents(), documents()), min_size=1, max_size=4))
def test_values_in_unit_interval_and_per_type_counts_sum_to_micro(docs):
    pairs = [
        pair(replace(g, doc_id=f"doc{i}"), replace(p, doc_id=f"doc{i}"))
        for i, (g, p) in enumerate(docs)
    ]
    report = to_json(evaluate(pairs))
    for target in ("entities", "relations"):
        for mode in ("strict", "lenient"):
            block = report[target][mode]
            rows = [block["micro"], block["macro"], *block["per_type"].values()]
            assert all(0.0 <= row[m] <= 1.0 for row in rows for m in ("precision", "recall", "f1"))
            for count in ("tp", "fp", "fn"):
                assert block["micro"][count] == sum(r[count] for r in block["per_type"].values())
                assert block["micro"][count] >= 0
