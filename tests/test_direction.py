"""Relations asked from either argument: examples, prediction and scoring keep Arg1 -> Arg2."""

from __future__ import annotations

from collections import defaultdict

import pytest
import yaml

import clinprompt.predict.predictor as predict_module
from clinprompt.corpus.brat import Document, Entity, Relation, write_document
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import CorpusPart, build_tables
from clinprompt.examples.finetune import pair_examples
from clinprompt.examples.mrc import relation_examples
from clinprompt.examples.settings import ExampleSettings
from clinprompt.predict.predictor import Predictor, _ValueVotes
from clinprompt.score.n2c2 import evaluate
from clinprompt.score.pairs import DocumentPair
from tests.test_examples import tokenizer

TEXT = "Flu causes fever; flu is a viral infection."
SCHEMA = {
    "name": "directed",
    "entities": ["Disease", "Symptom"],
    "relations": {
        "Produces": {"arg1": ["Disease"], "arg2": ["Symptom"]},
        "Is_a": {"arg1": ["Disease"], "arg2": ["Disease"]},
    },
    # Disease is Produces' Arg1 (found from the types); for Is_a the schema says so.
    "relation_queries": {"Disease": ["Produces", {"Is_a": "arg1"}]},
    "queries": {
        "concepts": {"Disease": "Which diseases?", "Symptom": "Which symptoms?"},
        "relations": {"Produces": "What does {trigger} produce?", "Is_a": "What is {trigger}?"},
    },
}


def gold_doc() -> Document:
    entities = [
        Entity.from_offsets("T1", "Disease", [(0, 3)], TEXT),
        Entity.from_offsets("T2", "Symptom", [(11, 16)], TEXT),
        Entity.from_offsets("T3", "Disease", [(27, 42)], TEXT),
    ]
    relations = [Relation("R1", "Produces", "T1", "T2"), Relation("R2", "Is_a", "T1", "T3")]
    return Document("d0", TEXT, entities, relations)


@pytest.fixture(scope="module")
def directed(tmp_path_factory):
    root = tmp_path_factory.mktemp("directed")
    (root / "directed.yaml").write_text(yaml.safe_dump(SCHEMA), encoding="utf-8")
    schema = load_schema(str(root / "directed.yaml"))
    write_document(gold_doc(), root / "train")
    tables, _ = build_tables([CorpusPart("train", "X", root / "train")], schema, 0.0)
    return schema, tables


def test_mrc_rows_ask_the_other_argument(directed):
    schema, tables = directed
    ents, rels = tables.entities, tables.relations
    frame, _ = relation_examples(
        tables.documents, ents, schema, tokenizer(), ExampleSettings("hard"), ents, rels
    )
    asked = {
        (row.trigger_id, row.query_type): (row.trigger_role, list(row.answer_ids))
        for row in frame.itertuples()
    }
    assert asked == {
        ("T1", "Produces"): ("arg1", ["T2"]),
        ("T1", "Is_a"): ("arg1", ["T3"]),
        ("T3", "Produces"): ("arg1", []),
        ("T3", "Is_a"): ("arg1", []),  # T3 is an Arg2 of Is_a: not its answer to give
    }


def test_pairs_put_the_trigger_as_arg1_when_it_is(directed):
    schema, tables = directed
    ents, rels = tables.entities, tables.relations
    frame, counts = pair_examples(
        tables.documents, ents, schema, tokenizer(), ExampleSettings("finetune"), rels
    )
    pairs = zip(frame["arg1_id"], frame["arg2_id"], strict=True)
    labels = dict(zip(pairs, frame["label"], strict=True))
    index = schema.relation_types.index
    assert labels == {
        ("T1", "T2"): 1 + index("Produces"),
        ("T1", "T3"): 1 + index("Is_a"),
        ("T3", "T2"): 0,
        ("T3", "T1"): 0,
    }
    assert counts["relations_without_candidate"] == 0


def test_predicted_relations_are_written_the_right_way_round(directed, monkeypatch):
    schema, tables = directed
    gold = gold_doc()
    answers = defaultdict(list)
    for rel in gold.relations:
        answers[(rel.arg1, rel.type)].append(gold.entity_by_id()[rel.arg2])

    def perfect(model, frame, texts, *args):
        """Every row answers its gold spans, as a perfectly trained model would."""
        for _, row in frame.iterrows():
            starts, ends = list(row.token_starts), list(row.token_ends)
            spans = [
                (starts.index(e.start), ends.index(e.end), 1.0)
                for e in answers[(row.trigger_id, row.query_type)]
            ]
            yield row, spans, [None] * len(spans)

    monkeypatch.setattr(predict_module, "span_predictions", perfect)
    predictor = Predictor(None, tokenizer(), schema, ExampleSettings("hard"))
    texts = {"X/train/d0": TEXT}
    predictor._from_relations = defaultdict(list)
    predictor._votes = _ValueVotes(predictor.vocabulary, texts)
    entities = {"X/train/d0": list(gold.entities)}
    found = predictor._queried_relations(tables.documents, texts, tables.entities, entities)
    assert [(r.type, r.arg1, r.arg2) for r in found["X/train/d0"]] == [
        ("Produces", "T1", "T2"),
        ("Is_a", "T1", "T3"),
    ]


def test_scoring_counts_a_reversed_relation_as_wrong():
    gold = gold_doc()
    reversed_ = Document("d0", TEXT, list(gold.entities), [Relation("R1", "Is_a", "T3", "T1")])
    table = evaluate([DocumentPair("d0", gold, reversed_, "g", "p")]).table("relations", "strict")
    assert table.micro.tolist() == [0, 1, 2]  # tp, fp, fn
