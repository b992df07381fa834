"""Fast-path training options on a tiny random BERT (CPU): gradient checkpointing changes
nothing but memory, compiled encoder layers train, and a step never waits for the device."""

from __future__ import annotations

import inspect
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from clinprompt.cell import build_model, example_settings, select_documents
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import CorpusPart, build_tables
from clinprompt.examples.tables import build_examples
from clinprompt.model.encoder import Layer
from clinprompt.registry import model_registry
from clinprompt.settings import CellSettings, TrainSettings
from clinprompt.study import Cell
from clinprompt.synth.corpora import write_synthetic_corpus
from clinprompt.train import loop as train_module
from clinprompt.train.batching import collate
from clinprompt.train.loop import Trainer

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
    prompt_length = 4 if strategy.startswith("soft") else 0
    cell = Cell("drug_ade", "tiny-bert", strategy, prompt_length, "all", "MIMIC", 1)
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
    run = trainer(model, frame, pad_id, tmp_path)
    result = run.run()
    assert result.epochs_run == 1 and result.history[0]["loss"] > 0
    assert result.history[0]["steps"] == len(run._batches(0)) > 0  # the learning curves' x
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


def decay_of(optimizer: torch.optim.Optimizer, model) -> dict[str, tuple[str, float, float]]:
    """(group name, learning rate, weight decay) of every trainable parameter, by name."""
    group_of = {
        id(p): (g["name"], g["lr"], g["weight_decay"])
        for g in optimizer.param_groups
        for p in g["params"]
    }
    return {name: group_of[id(p)] for name, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("strategy", ["soft", "finetune", "soft-frozen"])
def test_weight_decay_spares_biases_layer_norms_and_prompts(one_note, tmp_path, strategy):
    model, frame, pad_id = model_and_examples(one_note, strategy)
    settings = {"lr_encoder": 1e-5, "lr_prompt": 1e-2, "lr_head": 1e-3, "weight_decay": 0.05}
    groups = decay_of(trainer(model, frame, pad_id, tmp_path, **settings).optimizer, model)
    marker = "encoder.embeddings.added_embeddings.weight"
    for name, (group, lr, decay) in groups.items():
        prompt = name.startswith("prompt.") or (name == marker and strategy == "soft-frozen")
        vector = "bias" in name or "LayerNorm" in name or name.split(".")[-2] == "ln"
        assert decay == (0.0 if prompt or vector or name == marker else 0.05), name
        assert group.endswith("/no_decay") == (decay == 0.0), name
        base = "prompt" if prompt else "encoder" if name.startswith("encoder.") else "head"
        assert (group.split("/")[0], lr) == (base, settings[f"lr_{base}"]), name
    # Markers (entity markers of finetune, trigger markers of MRC) learn with the encoder
    # when it trains, with the prompts when it is frozen.
    if strategy == "soft-frozen":
        assert groups[marker] == ("prompt/no_decay", 1e-2, 0.0)
        assert not any(name.startswith("encoder.") and name != marker for name in groups)
    else:
        assert groups[marker] == ("encoder/no_decay", 1e-5, 0.0)
        assert groups["encoder.embeddings.LayerNorm.weight"][2] == 0.0
        assert groups["encoder.encoder.layer.0.attention.self.query.bias"][2] == 0.0
        assert groups["encoder.encoder.layer.0.attention.self.query.weight"][2] == 0.05
    if strategy != "finetune":
        assert groups["prompt.embedding.weight"] == ("prompt/no_decay", 1e-2, 0.0)


def test_checkpoint_carries_cuda_rng_states(one_note, tmp_path, monkeypatch):
    """CUDA RNG states go into the checkpoint and come back on resume; a checkpoint written
    without them (older, or on a CPU) still resumes. CUDA is simulated: its RNG calls only."""
    model, frame, pad_id = model_and_examples(one_note, "hard")
    states = [torch.arange(16, dtype=torch.uint8), torch.arange(16, 32, dtype=torch.uint8)]
    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: states)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.append)
    trainer(model, frame, pad_id, tmp_path).run()
    path = tmp_path / train_module.CHECKPOINT
    saved = torch.load(path, weights_only=False)
    assert [s.tolist() for s in saved["cuda_rng"]] == [s.tolist() for s in states]
    trainer(model, frame, pad_id, tmp_path).run()  # resumes after the last epoch
    assert [[s.tolist() for s in call] for call in restored] == [[s.tolist() for s in states]]
    del saved["cuda_rng"]
    torch.save(saved, path)
    result = trainer(model, frame, pad_id, tmp_path).run()
    assert result.epochs_run == 1 and len(restored) == 1


@pytest.mark.parametrize("prompt_mode", ["deep", "input"])
def test_frozen_encoder_in_bf16_trains_fp32_prompts(one_note, monkeypatch, prompt_mode):
    """On GPU a frozen encoder loads in bf16: here the GPU decision is taken on the CPU, and
    the model trains and predicts under CPU bf16 autocast as it would under CUDA's."""
    from clinprompt import cell as cell_module
    from clinprompt.model.checkpoint import encoder_dtype
    from clinprompt.predict.predictor import Predictor

    assert encoder_dtype(torch.device("cuda"), frozen=True) == torch.bfloat16
    assert encoder_dtype(torch.device("cuda"), frozen=False) == torch.float32
    assert encoder_dtype(torch.device("cpu"), frozen=True) == torch.float32
    monkeypatch.setattr(
        cell_module,
        "encoder_dtype",
        lambda device, frozen: encoder_dtype(torch.device("cuda"), frozen),
    )
    settings = replace(SETTINGS, prompt_mode=prompt_mode)
    cell = Cell("drug_ade", "tiny-bert", "soft-frozen", 4, "all", "MIMIC", 1)
    model, tokenizer = build_model(cell, model_registry()["tiny-bert"], SCHEMA, settings)
    frozen = {p.dtype for p in model.parameters() if not p.requires_grad}
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert frozen == {torch.bfloat16}
    assert {p.dtype for p in trainable.values()} == {torch.float32}
    assert "encoder.embeddings.added_embeddings.weight" in trainable
    examples = build_examples(one_note, SCHEMA, tokenizer, example_settings(cell, settings, True))
    batch = collate(examples.frame, "span", list(range(8)), tokenizer.pad_token_id)
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model.loss(batch)
    loss.backward()
    assert torch.isfinite(loss)
    for name, parameter in trainable.items():
        assert parameter.grad is not None and parameter.grad.dtype == torch.float32, name
        assert torch.isfinite(parameter.grad).all(), name
    predictor = Predictor(model, tokenizer, SCHEMA, example_settings(cell, settings, False))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        predicted = predictor.predict(one_note.documents)
    assert set(predicted) == set(one_note.documents["document"])


def test_workflow_job_log_takes_the_progress_bar_and_epoch_lines(one_note, tmp_path, capfd):
    """In a workflow job (`run_step`), the tqdm bar, the epoch lines and whatever reaches file
    descriptor 2 go to the job's log, not to the terminal Snakemake shares between jobs."""
    import os

    from clinprompt.scripting import run_step

    model, frame, pad_id = model_and_examples(one_note, "hard")

    def step():
        os.write(2, b"written to descriptor 2\n")
        return trainer(model, frame, pad_id, tmp_path / "cell").run()

    log = tmp_path / "job.log"
    result = run_step(str(log), step)
    assert result.epochs_run == 1
    print("after the job", file=sys.stderr)
    text = log.read_text()
    assert "epoch 1/1:" in text  # the bar
    assert "epoch 1/1 loss" in text  # the epoch line
    assert "written to descriptor 2" in text
    terminal = capfd.readouterr()
    assert "epoch" not in terminal.err + terminal.out
    assert "descriptor 2" not in terminal.err
    assert terminal.err.endswith("after the job\n")  # stderr comes back after the job


def test_workflow_job_error_is_one_line_on_the_terminal(tmp_path, capfd):
    from clinprompt.errors import ConfigError
    from clinprompt.scripting import run_step

    def step():
        raise ConfigError("config key 'x' is wrong")

    with pytest.raises(SystemExit) as caught:
        run_step(str(tmp_path / "job.log"), step)
    assert caught.value.code == 1
    assert "config key 'x' is wrong" in (tmp_path / "job.log").read_text()
    assert capfd.readouterr().err == "error: config key 'x' is wrong\n"
