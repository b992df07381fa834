"""Decision thresholds are chosen on dev and used at prediction."""

from __future__ import annotations

import torch

from clinprompt.cell import build_model, dev_scorer, example_settings
from clinprompt.corpus.brat import write_document
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import CorpusPart, build_tables
from clinprompt.examples.tables import build_examples
from clinprompt.predict.predictor import Predictor
from clinprompt.predict.thresholds import (
    BOUNDARY_GRID,
    calibrate,
    choose_thresholds,
    none_bias,
    span_thresholds,
)
from clinprompt.registry import model_registry
from clinprompt.settings import CellSettings
from clinprompt.study import Cell
from tests.test_corpus import drug_doc

SCHEMA = load_schema("n2c2-2018")


def under_confident_model(tmp_path):
    """A hard-prompt model whose start and end logits are -1 on every token, match +1."""
    cell = Cell("drug_ade", "tiny-bert", "hard", 0, "all", "MIMIC", 0)
    settings = CellSettings(max_length=96, match_hidden=16)
    model, tokenizer = build_model(cell, model_registry()["tiny-bert"], SCHEMA, settings)
    head = model.span_head
    with torch.no_grad():
        for layer, bias in ((head.start, -1.0), (head.end, -1.0), (head.span_match[-1], 1.0)):
            layer.weight.zero_()
            layer.bias.fill_(bias)
    return cell, settings, model, tokenizer


def test_thresholds_chosen_on_dev_beat_zero_for_an_under_confident_model(tmp_path):
    write_document(drug_doc("d0"), tmp_path)
    tables = build_tables([CorpusPart("dev", "MIMIC", tmp_path)], SCHEMA)[0]
    cell, settings, model, tokenizer = under_confident_model(tmp_path)
    frame = build_examples(tables, SCHEMA, tokenizer, example_settings(cell, settings, False)).frame
    texts = dict(zip(tables.documents["document"], tables.documents["text"], strict=True))
    chosen = choose_thresholds(model, frame, texts, 16, tokenizer.pad_token_id)
    assert set(chosen) == {"concept", "relation"}
    concept = chosen["concept"]
    assert concept["dev_f1_at_zero"] == 0.0 < concept["dev_f1"]
    assert concept["start"] == concept["end"] < -1.0 and concept["start"] in BOUNDARY_GRID
    assert concept["answered_predicted"] == 1.0 and 0 < concept["answered_gold"] < 1.0
    example = example_settings(cell, settings, False)
    default = Predictor(model, tokenizer, SCHEMA, example).predict(tables.documents, False)
    tuned = Predictor(model, tokenizer, SCHEMA, example, thresholds=span_thresholds(chosen))
    found = tuned.predict(tables.documents, False)
    key = tables.documents["document"].iloc[0]
    assert not default[key].entities and found[key].entities
    assert tuned.counts["concept_rows_answered"] == tuned.counts["concept_rows"] > 0


def test_pair_negatives_are_down_sampled_and_the_no_relation_bias_is_chosen_on_dev(tmp_path):
    write_document(drug_doc("d0"), tmp_path / "train")
    write_document(drug_doc("d1"), tmp_path / "dev")
    parts = [CorpusPart(split, "MIMIC", tmp_path / split) for split in ("train", "dev")]
    tables = build_tables(parts, SCHEMA)[0]
    cell = Cell("drug_ade", "tiny-bert", "finetune", 0, "all", "MIMIC", 0)
    settings = CellSettings(max_length=96, negative_ratio=0.0)
    model, tokenizer = build_model(cell, model_registry()["tiny-bert"], SCHEMA, settings)
    examples = build_examples(tables, SCHEMA, tokenizer, example_settings(cell, settings, True))
    pairs = examples.frame[examples.frame["query_type"] == "pair"]
    assert (pairs.loc[pairs["split"] == "train", "label"] > 0).all()  # negatives dropped
    dev = pairs[pairs["split"] == "dev"]
    assert (dev["label"] == 0).any() and (dev["label"] > 0).any()  # dev keeps the prior
    with torch.no_grad():  # a classifier that always prefers "no relation" by 2 logits
        model.pair_head.classifier.weight.zero_()
        model.pair_head.classifier.bias.copy_(
            torch.tensor([2.0] + [0.0] * len(SCHEMA.relation_types))
        )
    chosen = calibrate(model, dev, tables, 16, tokenizer.pad_token_id)
    assert chosen["pair"]["dev_f1_at_zero"] == 0.0 < chosen["pair"]["dev_f1"]
    assert chosen["pair"]["none_bias"] < -2.0 and none_bias({"pair": chosen["pair"]}) < -2.0


def test_epochs_are_compared_on_dev_at_the_thresholds_chosen_for_each(tmp_path):
    write_document(drug_doc("d0"), tmp_path)
    tables = build_tables([CorpusPart("dev", "MIMIC", tmp_path)], SCHEMA)[0]
    cell, settings, model, tokenizer = under_confident_model(tmp_path)
    at_zero = dev_scorer(cell, settings, SCHEMA, model, tokenizer, tables, calibrated=False)
    scorer = dev_scorer(cell, settings, SCHEMA, model, tokenizer, tables)
    assert at_zero(model)["concepts_f1"] == 0.0  # nothing above 0: model selection blind
    assert scorer(model)["concepts_f1"] > 0.0
    chosen = span_thresholds(scorer.thresholds(model))
    assert scorer.predictor.thresholds == chosen and chosen["concept"].start < 0.0
