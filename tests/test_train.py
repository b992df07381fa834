"""Fast-path training options on a tiny random BERT (CPU): gradient checkpointing changes
nothing but memory, compiled encoder layers train, and a step never waits for the device."""

from __future__ import annotations

import inspect
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from clinprompt import train as train_module
from clinprompt.batching import collate
from clinprompt.cell import Cell, CellSettings, build_model, example_settings, select_documents
from clinprompt.corpus import CorpusPart, build_tables
from clinprompt.encoder import Layer
from clinprompt.examples import build_examples
from clinprompt.registry import model_registry
from clinprompt.schema import load_schema
from clinprompt.synth import write_synthetic_corpus
from clinprompt.train import Trainer, TrainSettings

SETTINGS = CellSettings(max_length=64, stride=16, match_hidden=32, device="cpu")
SCHEMA = load_schema("n2c2-2018")
PACKAGE = str(Path(inspect.getfile(train_module)).parent)
SYNCS = ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__")


@pytest.fixture(scope="module")
def one_note(tmp_path_factory):
    root = tmp_path_factory.mktemp("note")
    write_synthetic_corpus("drug_ade", root, seed=2, documents={"train": 1})
    tables, _ = build_tables([CorpusPart("train", "MIMIC", root / "train/MIMIC")], SCHEMA)
    return select_documents(tables, list(tables.documents["document"][:1]))


def model_and_examples(one_note, strategy: str, checkpointing: bool = False):
    cell = Cell("drug_ade", "tiny-bert", strategy, 4, "all", "MIMIC", 1)
    spec = replace(model_registry()["tiny-bert"], gradient_checkpointing=checkpointing)
    model, tokenizer = build_model(cell, spec, SCHEMA, SETTINGS)
    examples = build_examples(one_note, SCHEMA, tokenizer, example_settings(cell, SETTINGS, True))
    return model, examples.frame.head(16).reset_index(drop=True), tokenizer.pad_token_id


def loss_and_gradients(model, frame: pd.DataFrame, pad_id: int):
    batch = collate(frame, "span", list(range(8)), pad_id)
    model.train()
    torch.manual_seed(0)  # the same dropout masks for both models
    loss = model.loss(batch)
    loss.backward()
    return loss.detach(), {n: p.grad for n, p in model.named_parameters() if p.grad is not None}


def count_layer_calls(model) -> list[int]:
    calls = [0]
    for module in model.modules():
        if isinstance(module, Layer):
            module.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def test_gradient_checkpointing_recomputes_layers_and_changes_nothing_else(one_note):
    plain, frame, pad_id = model_and_examples(one_note, "soft")
    checkpointed, _, _ = model_and_examples(one_note, "soft", checkpointing=True)
    assert checkpointed.encoder.gradient_checkpointing and not plain.encoder.gradient_checkpointing
    plain_calls, checkpointed_calls = count_layer_calls(plain), count_layer_calls(checkpointed)
    loss, gradients = loss_and_gradients(plain, frame, pad_id)
    loss_ckpt, gradients_ckpt = loss_and_gradients(checkpointed, frame, pad_id)
    layers = plain.encoder.config.num_layers
    assert (plain_calls[0], checkpointed_calls[0]) == (layers, 2 * layers)  # recomputed in backward
    assert torch.equal(loss, loss_ckpt)
    assert gradients.keys() == gradients_ckpt.keys()
    for name, gradient in gradients.items():
        torch.testing.assert_close(gradients_ckpt[name], gradient, rtol=1e-5, atol=1e-7, msg=name)


def test_frozen_encoder_is_not_checkpointed(one_note):
    model, _, _ = model_and_examples(one_note, "soft-frozen", checkpointing=True)
    assert not model.encoder.gradient_checkpointing


def trainer(model, frame: pd.DataFrame, pad_id: int, folder: Path, **settings) -> Trainer:
    train = TrainSettings(epochs=1, batch_size=8, seed=1, **settings)
    return Trainer(model, frame, lambda _model: {"score": 0.0}, train, folder, pad_id)


def test_no_host_sync_inside_a_step(one_note, tmp_path, monkeypatch):
    """No package code inside loss, backward or optimiser step reads a tensor on the host.

    (On CPU, torch's own non-fused AdamW reads its step counter; on GPU the fused one does not.)
    """
    model, frame, pad_id = model_and_examples(one_note, "soft", checkpointing=True)
    depth, reads = [0], []

    def inside(function):
        def wrapped(*args, **kwargs):
            depth[0] += 1
            try:
                return function(*args, **kwargs)
            finally:
                depth[0] -= 1

        return wrapped

    def recording(name: str):
        original = getattr(torch.Tensor, name)

        def read(self, *args, **kwargs):
            caller = inspect.currentframe().f_back.f_code
            if depth[0] and caller.co_filename.startswith(PACKAGE):
                reads.append(f"{name} in {caller.co_name}")
            return original(self, *args, **kwargs)

        return read

    monkeypatch.setattr(train_module, "training_loss", inside(train_module.training_loss))
    monkeypatch.setattr(torch.Tensor, "backward", inside(torch.Tensor.backward))
    monkeypatch.setattr(Trainer, "_step", inside(Trainer._step))
    for name in SYNCS:
        monkeypatch.setattr(torch.Tensor, name, recording(name))
    result = trainer(model, frame, pad_id, tmp_path).run()
    assert result.epochs_run == 1 and result.history[0]["loss"] > 0
    assert reads == []


@pytest.mark.slow
def test_compiled_layers_give_the_eager_loss_and_train(one_note, tmp_path):
    model, frame, pad_id = model_and_examples(one_note, "soft")
    batch = collate(frame, "span", list(range(8)), pad_id)
    model.eval()  # no dropout: compiled kernels draw other random numbers
    eager = model.loss(batch).detach()
    train_module.compile_layers(model)
    assert all(layer._compiled_call_impl is not None for layer in model.encoder.encoder.layer)
    torch.testing.assert_close(model.loss(batch).detach(), eager, rtol=1e-5, atol=1e-6)
    fresh, _, _ = model_and_examples(one_note, "soft")
    result = trainer(fresh, frame, pad_id, tmp_path, compile=True).run()
    assert result.epochs_run == 1 and torch.isfinite(torch.tensor(result.history[0]["loss"]))
    assert all(layer._compiled_call_impl is not None for layer in fresh.encoder.encoder.layer)
