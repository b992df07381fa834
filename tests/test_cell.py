"""One cell end to end on CPU with a tiny random BERT: train, resume, predict, score."""

from __future__ import annotations

import json
import re
import signal
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from clinprompt.cell import (
    BEST,
    build_model,
    example_settings,
    load_trained,
    predict_and_score,
    predict_institutions,
    select_documents,
    train_cell,
)
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import CorpusTables, Dataset
from clinprompt.errors import ConfigError
from clinprompt.examples.tables import build_examples
from clinprompt.model.checkpoint import load_tokenizer
from clinprompt.model.extraction import ModelSettings
from clinprompt.registry import model_registry, resolve_model_path
from clinprompt.settings import CellSettings, TrainSettings
from clinprompt.study import Cell
from clinprompt.train.loop import CHECKPOINT, Preempted, trainable_state

SETTINGS = CellSettings(
    train=TrainSettings(epochs=2, batch_size=8, seed=3),
    max_length=96,
    stride=16,
    negative_ratio=0.5,
    match_hidden=32,
    bootstrap=20,
)


def drug_ade(tables: Path) -> Dataset:
    return Dataset.read(tables, "n2c2-2018")


def run(cell: Cell, tables: Path, folder: Path, settings: CellSettings = SETTINGS) -> dict:
    spec = model_registry()["tiny-bert"]
    data = drug_ade(tables)
    train_cell(cell, data, spec, settings, folder)
    return predict_and_score(cell, data, spec, settings, folder, ["MIMIC"])["MIMIC"]


@pytest.mark.parametrize(
    ("strategy", "prompt_length"), [("finetune", 0), ("hard", 0), ("soft", 4), ("soft-frozen", 4)]
)
def test_cell_writes_predictions_and_metrics(tables, tmp_path, strategy, prompt_length):
    cell = Cell("drug_ade", "tiny-bert", strategy, prompt_length, "all", "MIMIC", 3)
    report = run(cell, tables, tmp_path)
    test_docs = sorted(p.stem for p in (tables.parent / "brat/test/MIMIC").glob("*.ann"))
    assert sorted(p.stem for p in (tmp_path / "predictions/MIMIC").glob("*.ann")) == test_docs
    saved = json.loads((tmp_path / "metrics/MIMIC.json").read_text())
    assert saved == json.loads(json.dumps(report))
    assert saved["documents"] == 2
    assert set(saved["entities"]["strict"]["micro"]) >= {"precision", "recall", "f1", "ci"}
    cost = saved["cost"]["parameters"]
    assert 0 < cost["trainable"] <= cost["total"]
    if strategy == "soft-frozen":
        assert cost["share"] < 0.5
    else:
        assert cost["share"] == 1.0
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in log] == [1, 2]
    counts = json.loads((tmp_path / "train.json").read_text())["examples"]
    assert {"entities_without_tokens", "examples"} <= set(counts)
    assert ("spans_too_long" in counts) == (strategy != "finetune")
    assert {"loss", "dev_score", "tokens_per_second"} <= set(log[0])


def test_same_seed_gives_identical_metrics(tables, tmp_path):
    cell = Cell("drug_ade", "tiny-bert", "hard", 0, "all", "MIMIC", 3)
    first = run(cell, tables, tmp_path / "a")
    second = run(cell, tables, tmp_path / "b")
    assert first["entities"] == second["entities"] and first["relations"] == second["relations"]
    a = torch.load(tmp_path / "a/best.pt")
    b = torch.load(tmp_path / "b/best.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_after_sigterm_equals_uninterrupted_run(tables, tmp_path, monkeypatch):
    cell = Cell("drug_ade", "tiny-bert", "soft", 4, "all", "MIMIC", 3)
    settings = replace(SETTINGS, train=replace(SETTINGS.train, epochs=2))
    reference = run(cell, tables, tmp_path / "whole", settings)

    from clinprompt.train import loop as train_module

    calls = {"n": 0}
    original = train_module.Trainer._step

    def step_then_sigterm(self):
        original(self)
        calls["n"] += 1
        if calls["n"] == 5:
            signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(train_module.Trainer, "_step", step_then_sigterm)
    spec = model_registry()["tiny-bert"]
    folder = tmp_path / "resumed"
    with pytest.raises(Preempted, match="run again to resume"):
        train_cell(cell, drug_ade(tables), spec, settings, folder)
    state = torch.load(folder / CHECKPOINT, weights_only=False)
    assert (state["epoch"], state["step"]) == (0, 5)
    assert not (folder / "best.pt").exists()
    monkeypatch.setattr(train_module.Trainer, "_step", original)
    resumed = run(cell, tables, folder, settings)
    assert resumed["entities"] == reference["entities"]
    assert resumed["relations"] == reference["relations"]
    whole = torch.load(tmp_path / "whole/best.pt")
    again = torch.load(folder / "best.pt")
    assert all(torch.equal(whole[k], again[k]) for k in whole)


def test_frozen_encoder_stays_bit_identical(tables, tmp_path):
    cell = Cell("drug_ade", "tiny-bert", "soft-frozen", 4, "all", "MIMIC", 3)
    schema = load_schema("n2c2-2018")
    before, _ = build_model(cell, model_registry()["tiny-bert"], schema, SETTINGS)
    initial = {k: v.clone() for k, v in before.state_dict().items()}
    train_cell(cell, drug_ade(tables), model_registry()["tiny-bert"], SETTINGS, tmp_path)
    trained = torch.load(tmp_path / "best.pt")
    assert trained, "nothing trainable was saved"
    assert not any(k.startswith("encoder.") and "added_embeddings" not in k for k in trained)
    assert any(k.startswith("prompt.") for k in trained)
    assert any(not torch.equal(trained[k], initial[k]) for k in trained if k.startswith("prompt."))
    after, _ = build_model(cell, model_registry()["tiny-bert"], schema, SETTINGS)
    after.load_state_dict(trained, strict=False)
    for name, tensor in after.encoder.state_dict().items():
        if "added_embeddings" not in name:
            assert torch.equal(tensor, initial[f"encoder.{name}"]), name


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "hard", "prompt_length": 8}, "prompt length 8 given for 'hard'"),
        ({"strategy": "soft", "prompt_length": 0}, "needs a prompt length >= 1"),
        ({"strategy": "lora"}, "strategy 'lora' unknown"),
        ({"strategy": "soft", "prompt_length": 4, "prompt_mode": "mixed"}, "prompt_mode 'mixed'"),
    ],
)
def test_impossible_model_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ModelSettings(**kwargs)


def test_unknown_training_institution(tables, tmp_path):
    cell = Cell("drug_ade", "tiny-bert", "hard", 0, "all", "UW", 3)
    with pytest.raises(ConfigError, match="training institution 'UW' not in dataset drug_ade"):
        train_cell(
            cell,
            drug_ade(tables),
            model_registry()["tiny-bert"],
            SETTINGS,
            tmp_path,
        )


def test_input_mode_soft_prompt_cell(tables, tmp_path):
    cell = Cell("drug_ade", "tiny-bert", "soft", 4, "all", "MIMIC", 3)
    settings = replace(SETTINGS, prompt_mode="input", train=replace(SETTINGS.train, epochs=1))
    report = run(cell, tables, tmp_path, settings)
    assert report["documents"] == 2
    trained = torch.load(tmp_path / "best.pt")
    n_types = len(load_schema("n2c2-2018").concept_types) + 8
    assert trained["prompt.embedding.weight"].shape == (n_types * 4, 32)


def saved_weights(cell: Cell, folder: Path, settings: CellSettings = SETTINGS) -> Path:
    """`best.pt` of an untrained model of `cell`, as training writes it (trainable tensors)."""
    model, _ = build_model(cell, model_registry()["tiny-bert"], load_schema("n2c2-2018"), settings)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(trainable_state(model), folder / BEST)
    return folder / BEST


FROZEN = Cell("drug_ade", "tiny-bert", "soft-frozen", 4, "all", "MIMIC", 3)


def test_trained_weights_load_without_the_frozen_encoder(tmp_path):
    path = saved_weights(FROZEN, tmp_path)
    model, _ = build_model(
        FROZEN, model_registry()["tiny-bert"], load_schema("n2c2-2018"), SETTINGS
    )
    load_trained(model, path)
    saved = torch.load(path)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: {**s, "pooler.dense.weight": torch.zeros(1)}, "unexpected weight 'pooler."),
        (lambda s: {k: v for k, v in s.items() if k != "prompt.embedding.weight"},
         "weight 'prompt.embedding.weight' is missing"),
        (lambda s: {**s, "prompt.embedding.weight": torch.zeros(3, 3)},
         "weight 'prompt.embedding.weight' has shape \\(3, 3\\)"),
    ],
)  # fmt: skip
def test_trained_weights_that_do_not_fit_are_named(tmp_path, change, message):
    path = saved_weights(FROZEN, tmp_path)
    torch.save(change(torch.load(path)), path)
    model, _ = build_model(
        FROZEN, model_registry()["tiny-bert"], load_schema("n2c2-2018"), SETTINGS
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(str(tmp_path / BEST))}: {message}"):
        load_trained(model, path)


def test_weights_of_a_frozen_cell_do_not_load_into_a_trained_encoder(tables, tmp_path):
    """A soft cell must not silently predict with random encoder weights from a soft-frozen
    `best.pt` (which holds no encoder tensors)."""
    saved_weights(FROZEN, tmp_path)
    soft = replace(FROZEN, strategy="soft")
    with pytest.raises(ConfigError, match=r"best.pt: weight 'encoder\.embeddings\.\S+' is missing"):
        predict_institutions(
            soft, drug_ade(tables), model_registry()["tiny-bert"], SETTINGS, tmp_path,
            ["MIMIC"],
        )  # fmt: skip
    assert not (tmp_path / "predictions").exists()


def test_example_counts_report_long_spans_and_entities_without_tokens(tables):
    """Gold answers wider than `max_span_width` and entities over no token are counted, with
    the cell's `max_span_width` (train.json's "examples" holds these counts)."""
    corpus = CorpusTables.read(tables)
    train = corpus.documents[corpus.documents["split"] == "train"].iloc[0]
    blank = train.text.index(" ")
    entity = corpus.entities[corpus.entities["document"] == train.document].iloc[0]
    over_blank = entity.copy()
    over_blank[["entity_id", "start", "end", "fragments"]] = [
        "T999",
        blank,
        blank + 1,
        [{"start": blank, "end": blank + 1}],
    ]
    corpus.entities = pd.concat([corpus.entities, over_blank.to_frame().T], ignore_index=True)
    one = select_documents(corpus, [train.document])
    tokenizer = load_tokenizer(resolve_model_path(model_registry()["tiny-bert"]))
    cell = Cell("drug_ade", "tiny-bert", "hard", 0, "all", "MIMIC", 3)
    settings = replace(SETTINGS, max_span_width=1, negative_ratio=None)
    examples = build_examples(one, load_schema("n2c2-2018"), tokenizer,
                              example_settings(cell, settings, True))  # fmt: skip
    frame = examples.frame
    wide = sum(
        sum(e - s >= 1 for s, e in zip(starts, ends, strict=True))
        for starts, ends in zip(frame["answer_starts"], frame["answer_ends"], strict=True)
    )
    assert examples.counts["spans_too_long"] == wide > 0
    assert examples.counts["entities_without_tokens"] == 1
    default = build_examples(one, load_schema("n2c2-2018"), tokenizer,
                             example_settings(cell, SETTINGS, True))  # fmt: skip
    assert default.counts["spans_too_long"] < wide
