"""One cell end to end on CPU with a tiny random BERT: train, resume, predict, score."""

from __future__ import annotations

import json
import signal
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from clinprompt.cell import Cell, CellSettings, build_model, predict_cell, train_cell
from clinprompt.errors import ConfigError
from clinprompt.models import ModelSettings
from clinprompt.registry import model_registry
from clinprompt.schema import load_schema
from clinprompt.train import CHECKPOINT, Preempted, TrainSettings

SETTINGS = CellSettings(
    train=TrainSettings(epochs=2, batch_size=8, seed=3),
    max_length=96,
    stride=16,
    negative_ratio=0.5,
    match_hidden=32,
    bootstrap=20,
)


def run(cell: Cell, tables: Path, folder: Path, settings: CellSettings = SETTINGS) -> dict:
    spec = model_registry()["tiny-bert"]
    train_cell(cell, tables, "n2c2-2018", spec, settings, folder)
    return predict_cell(
        cell, tables, "n2c2-2018", spec, settings, folder, "MIMIC",
        folder / "predictions/MIMIC", folder / "metrics/MIMIC.json",
    )  # fmt: skip


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

    from clinprompt import train as train_module

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
        train_cell(cell, tables, "n2c2-2018", spec, settings, folder)
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
    train_cell(cell, tables, "n2c2-2018", model_registry()["tiny-bert"], SETTINGS, tmp_path)
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
        train_cell(cell, tables, "n2c2-2018", model_registry()["tiny-bert"], SETTINGS, tmp_path)


def test_input_mode_soft_prompt_cell(tables, tmp_path):
    cell = Cell("drug_ade", "tiny-bert", "soft", 4, "all", "MIMIC", 3)
    settings = replace(SETTINGS, prompt_mode="input", train=replace(SETTINGS.train, epochs=1))
    report = run(cell, tables, tmp_path, settings)
    assert report["documents"] == 2
    trained = torch.load(tmp_path / "best.pt")
    n_types = len(load_schema("n2c2-2018").concept_types) + 8
    assert trained["prompt.embedding.weight"].shape == (n_types * 4, 32)
