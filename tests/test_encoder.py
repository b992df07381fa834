"""The encoder equals transformers' BERT, RoBERTa and Megatron-BERT; checkpoints load strictly."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModel

from clinprompt.errors import ConfigError
from clinprompt.model.checkpoint import (
    bundled_tokenizer_folder,
    load_encoder,
    load_tokenizer,
    tiny_random_checkpoint,
)
from clinprompt.model.encoder import Encoder
from clinprompt.model.encoder_config import EncoderConfig, tiny_config

ARCHITECTURES = ["bert", "roberta", "megatron-bert"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """One tiny checkpoint per architecture, weights large enough for sharp attention."""
    root = tmp_path_factory.mktemp("checkpoints")
    return {
        arch: tiny_random_checkpoint(root / arch, arch, seed=1, initializer_range=0.2)
        for arch in ARCHITECTURES
    }


def padded_batch(tokenizer, architecture: str) -> dict[str, torch.Tensor]:
    """Two query/context pairs of different lengths; segment 1 where the model has it."""
    batch = tokenizer(
        ["Which drugs are given?", "Which doses?"],
        ["Aspirin 81 mg PO daily for chest pain, metoprolol 25 mg BID.", "Lasix 40 mg."],
        padding=True,
        return_tensors="pt",
    )
    if architecture == "roberta":
        batch["token_type_ids"] = torch.zeros_like(batch["token_type_ids"])
    assert (batch["attention_mask"] == 0).any() and (batch["token_type_ids"] == 1).any() == (
        architecture != "roberta"
    )
    return batch


def max_difference(reference: torch.Tensor, ours: torch.Tensor, mask: torch.Tensor) -> float:
    return (reference - ours)[mask.bool()].abs().max().item()


def run(encoder: Encoder, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return encoder(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])


@pytest.mark.parametrize(
    ("architecture", "attention"),
    [
        ("bert", "sdpa"),
        ("bert", "eager"),
        ("roberta", "sdpa"),
        ("roberta", "eager"),
        ("megatron-bert", "eager"),
    ],
)
def test_matches_transformers(checkpoints, architecture, attention):
    folder = checkpoints[architecture]
    reference = AutoModel.from_pretrained(folder, attn_implementation=attention).eval()
    encoder, tokenizer = load_encoder(folder)
    batch = padded_batch(tokenizer, architecture)
    with torch.no_grad():
        expected = reference(**batch).last_hidden_state
        ours = run(encoder.eval(), batch)
    assert ours.shape == expected.shape
    assert expected.abs().max() > 1.0
    assert max_difference(expected, ours, batch["attention_mask"]) < 1e-5


def test_bundled_minilm_matches_automodel():
    folder = bundled_tokenizer_folder()
    reference = AutoModel.from_pretrained(folder).eval()
    encoder, tokenizer = load_encoder(folder)
    assert encoder.config.num_layers == 6 and encoder.config.hidden_size == 384
    batch = tokenizer(
        ["Aspirin 81 mg PO daily for chest pain.", "Patient denies alcohol use."],
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        expected = reference(**batch).last_hidden_state
        ours = run(encoder.eval(), batch)
    assert max_difference(expected, ours, batch["attention_mask"]) < 1e-5


def test_tokenizer_keeps_its_own_casing(checkpoints, tmp_path):
    uncased = load_tokenizer(checkpoints["bert"])
    assert uncased("Aspirin")["input_ids"] == uncased("aspirin")["input_ids"]
    cased_folder = shutil.copytree(checkpoints["bert"], tmp_path / "cased")
    settings_file = cased_folder / "tokenizer_config.json"
    settings = json.loads(settings_file.read_text())
    settings["do_lower_case"] = False
    settings_file.write_text(json.dumps(settings))
    cased = load_tokenizer(cased_folder)
    assert cased.is_fast
    assert cased("Aspirin")["input_ids"] != cased("aspirin")["input_ids"]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_parameter_count_without_building(checkpoints, architecture):
    encoder, _ = load_encoder(checkpoints[architecture])
    assert encoder.config.parameter_count() == sum(p.numel() for p in encoder.parameters())


def test_gatortron_345m_shape_parameter_count():
    config = EncoderConfig.from_pretrained_config(
        {
            "model_type": "megatron-bert",
            "vocab_size": 50176,
            "hidden_size": 1024,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "intermediate_size": 4096,
            "max_position_embeddings": 512,
        }
    )
    assert config.pre_layer_norm and config.head_dim == 64 and config.max_tokens == 512
    assert config.parameter_count() == 354_217_984  # the "345M" of the paper


def test_roberta_ignores_segments(checkpoints):
    encoder, tokenizer = load_encoder(checkpoints["roberta"])
    assert encoder.config.type_vocab_size == 1 and encoder.config.max_tokens == 512
    batch = tokenizer(["Which drugs?"], ["Aspirin 81 mg."], return_tensors="pt")
    with torch.no_grad():
        with_segments = run(encoder.eval(), batch)
        batch["token_type_ids"] = torch.zeros_like(batch["token_type_ids"])
        without = run(encoder, batch)
    assert torch.equal(with_segments, without)


def rewrite_weights(folder: Path, change) -> None:
    weights = load_file(folder / "model.safetensors")
    save_file(change(weights), folder / "model.safetensors")


def prefixed_with_heads(weights: dict) -> dict:
    """Keys as in a *ForMaskedLM checkpoint: `bert.` prefix, MLM head, legacy LayerNorm names."""
    renamed = {
        "bert."
        + k.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
            "LayerNorm.bias", "LayerNorm.beta"
        ): v
        for k, v in weights.items()
    }
    return {**renamed, "cls.predictions.bias": torch.zeros(3)}


def as_pytorch_bin(folder: Path) -> None:
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()


def as_shards(folder: Path) -> None:
    weights = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    names = sorted(weights)
    shards = {"part-1.safetensors": names[::2], "part-2.safetensors": names[1::2]}
    for shard, keys in shards.items():
        save_file({k: weights[k] for k in keys}, folder / shard)
    weight_map = {k: shard for shard, keys in shards.items() for k in keys}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))


@pytest.mark.parametrize(
    "layout",
    [
        lambda folder: rewrite_weights(folder, prefixed_with_heads),
        as_pytorch_bin,
        as_shards,
    ],
    ids=["prefixed-legacy-names", "pytorch-bin", "sharded"],
)
def test_checkpoint_layouts_load_the_same_weights(checkpoints, tmp_path, layout):
    folder = shutil.copytree(checkpoints["bert"], tmp_path / "copy")
    layout(folder)
    expected, _ = load_encoder(checkpoints["bert"])
    loaded, _ = load_encoder(folder)
    for (name, a), (_, b) in zip(
        expected.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_load_as_bfloat16(checkpoints):
    encoder, _ = load_encoder(checkpoints["megatron-bert"], dtype=torch.bfloat16)
    assert {p.dtype for p in encoder.parameters()} == {torch.bfloat16}
    assert all(p.requires_grad and p.device.type == "cpu" for p in encoder.parameters())


def one_line_error(folder: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_encoder(folder)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_missing_folder_is_one_line(tmp_path):
    missing = tmp_path / "no-such-model"
    assert one_line_error(missing) == f"{missing}: checkpoint folder not found"


def test_folder_without_config_or_weights(checkpoints, tmp_path):
    folder = shutil.copytree(checkpoints["bert"], tmp_path / "copy")
    (folder / "model.safetensors").unlink()
    assert "no model.safetensors or pytorch_model.bin" in one_line_error(folder)
    (folder / "config.json").unlink()
    assert "no config.json" in one_line_error(folder)


def test_unknown_key_is_named(checkpoints, tmp_path):
    folder = shutil.copytree(checkpoints["bert"], tmp_path / "copy")
    rewrite_weights(folder, lambda w: {**w, "encoder.layer.9.adapter.weight": torch.zeros(2)})
    message = one_line_error(folder)
    assert "unexpected weight 'encoder.layer.9.adapter.weight'" in message


def test_missing_key_is_named(checkpoints, tmp_path):
    folder = shutil.copytree(checkpoints["megatron-bert"], tmp_path / "copy")
    key = "encoder.layer.1.attention.ln.weight"
    rewrite_weights(folder, lambda w: {k: v for k, v in w.items() if k != key})
    assert f"weight '{key}' is missing" in one_line_error(folder)


def test_bert_weights_under_megatron_config_are_refused(checkpoints, tmp_path):
    folder = shutil.copytree(checkpoints["bert"], tmp_path / "copy")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "megatron-bert"}))
    assert "unexpected weight 'embeddings.LayerNorm.bias'" in one_line_error(folder)


def test_shape_mismatch_is_named(checkpoints, tmp_path):
    folder = shutil.copytree(checkpoints["bert"], tmp_path / "copy")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "intermediate_size": 64}))
    assert "weight 'encoder.layer.0.intermediate.dense.bias' has shape (128,)" in one_line_error(
        folder
    )


def test_unsupported_model_type(checkpoints, tmp_path):
    folder = shutil.copytree(checkpoints["bert"], tmp_path / "copy")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "deberta-v2"}))
    assert "model_type 'deberta-v2' is not supported" in one_line_error(folder)


@pytest.mark.parametrize("architecture", ["bert", "megatron-bert"])
def test_gradient_checkpointing_gives_the_same_gradients(checkpoints, architecture):
    encoder, tokenizer = load_encoder(checkpoints[architecture])
    batch = padded_batch(tokenizer, architecture)
    gradients = []
    for flag in (False, True):
        encoder.gradient_checkpointing = flag
        encoder.train().zero_grad()
        torch.manual_seed(3)  # the same dropout masks in both runs
        run(encoder, batch).pow(2).mean().backward()
        gradients.append({n: p.grad.clone() for n, p in encoder.named_parameters()})
    plain, checkpointed = gradients
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        assert torch.allclose(plain[name], checkpointed[name], atol=1e-6), name


def test_tiny_checkpoint_is_deterministic(tmp_path):
    state = torch.random.get_rng_state()
    first = tiny_random_checkpoint(tmp_path / "a", "megatron-bert", seed=5)
    second = tiny_random_checkpoint(tmp_path / "b", "megatron-bert", seed=5)
    other = tiny_random_checkpoint(tmp_path / "c", "megatron-bert", seed=6)
    assert torch.equal(torch.random.get_rng_state(), state)
    data = (first / "model.safetensors").read_bytes()
    assert data == (second / "model.safetensors").read_bytes()
    assert data != (other / "model.safetensors").read_bytes()
    assert json.loads((first / "config.json").read_text())["vocab_size"] == 30522


def cased_wordpiece_folder(folder: Path) -> Path:
    """A BERT folder whose vocabulary is cased and that has no tokenizer_config.json."""
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(tiny_config()))
    words = ["Aspirin", "aspirin", "Patient", "patient", "BID", "mg", "The", "the", "##s", "a"]
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    (folder / "vocab.txt").write_text("\n".join(specials + words) + "\n")
    return folder


def test_lowercasing_a_cased_vocabulary_is_named(tmp_path, caplog):
    folder = cased_wordpiece_folder(tmp_path / "cased-model")
    with caplog.at_level(logging.WARNING, logger="clinprompt.model.encoder"):
        tokenizer = load_tokenizer(folder)
    assert tokenizer("Aspirin")["input_ids"] == tokenizer("aspirin")["input_ids"]  # the default
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = warning.getMessage()
    assert str(folder) in message and "lowercases" in message
    assert '"do_lower_case": false' in message and "4 of the 10 vocabulary entries" in message


def test_cased_or_uncased_tokenizers_load_without_a_warning(checkpoints, tmp_path, caplog):
    folder = cased_wordpiece_folder(tmp_path / "cased-model")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    with caplog.at_level(logging.WARNING, logger="clinprompt.model.encoder"):
        cased = load_tokenizer(folder)
        load_tokenizer(checkpoints["bert"])  # uncased MiniLM vocabulary, lowercased
    assert cased("Aspirin")["input_ids"] != cased("aspirin")["input_ids"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
