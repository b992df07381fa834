"""Entity-marker pairs choose among the relation types their arguments' types allow."""

from __future__ import annotations

import torch

from clinprompt.cell import build_model, example_settings
from clinprompt.corpus.brat import write_document
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import CorpusPart, build_tables
from clinprompt.examples.tables import build_examples
from clinprompt.registry import model_registry
from clinprompt.settings import CellSettings
from clinprompt.study import Cell
from clinprompt.train.batching import collate
from tests.test_corpus import drug_doc


def test_pair_labels_allow_only_schema_valid_relation_types():
    schema = load_schema("n2c2-2022-sdoh")
    allowed = schema.pair_labels("StatusTime", "Alcohol")
    names = [name for name, ok in zip(schema.relation_types, allowed[1:], strict=True) if ok]
    assert allowed[0] and names == ["StatusTime-Alcohol"]
    assert schema.pair_labels("StatusTime", "Employment")[1:] == [
        name == "StatusTime-Employment" for name in schema.relation_types
    ]
    drug = load_schema("n2c2-2018")
    assert sum(drug.pair_labels("Dosage", "Drug")) == 2  # none + Dosage-Drug
    assert drug.pair_labels("Drug", "Dosage") == [True] + [False] * len(drug.relation_types)


def test_pair_loss_and_logits_ignore_the_relation_types_the_arguments_cannot_have(tmp_path):
    schema = load_schema("n2c2-2018")
    write_document(drug_doc("d0"), tmp_path)
    tables = build_tables([CorpusPart("train", "MIMIC", tmp_path)], schema)[0]
    cell = Cell("drug_ade", "tiny-bert", "finetune", 0, "all", "MIMIC", 0)
    settings = CellSettings(max_length=96)
    model, tokenizer = build_model(cell, model_registry()["tiny-bert"], schema, settings)
    frame = build_examples(tables, schema, tokenizer, example_settings(cell, settings, True)).frame
    pairs = frame[frame["query_type"] == "pair"].reset_index(drop=True)
    types = tables.entities.set_index("entity_id")["type"]
    for row in pairs.itertuples():
        allowed = schema.pair_labels(types[row.arg1_id], types[row.arg2_id])
        assert list(row.labels_allowed) == allowed and allowed[row.label]
    batch = collate(pairs, "pair", list(range(len(pairs))), tokenizer.pad_token_id)
    model.eval()
    with torch.no_grad():
        before = model.loss(batch)
        # every pair of a drug note allows one relation type at most: push all the others up
        impossible = ~batch["labels_allowed"].any(0)
        model.pair_head.classifier.bias[impossible] += 50.0
        assert torch.equal(model.loss(batch), before)
        logits = model.forward_pairs(batch)
    assert torch.isinf(logits[~batch["labels_allowed"]]).all()
    assert batch["labels_allowed"].gather(1, logits.argmax(-1, keepdim=True)).all()
