"""The model registry: size-bucket defaults, overrides, and offline path resolution."""

from __future__ import annotations

import pytest

from clinprompt.errors import ConfigError
from clinprompt.model.checkpoint import load_encoder, tiny_random_checkpoint
from clinprompt.registry import (
    job_gpus,
    model_registry,
    model_spec,
    parse_parameters,
    resolve_model_path,
)


def test_builtin_models_fall_into_size_buckets():
    registry = model_registry()
    minilm = registry["minilm"]
    assert (minilm.architecture, minilm.parameters) == ("bert", 22_565_376)  # pooler not counted
    assert (minilm.batch_size, minilm.lr_encoder, minilm.gpus) == (32, 3e-5, 1)
    base = registry["gatortron-base"]
    assert (base.architecture, base.parameters, base.gpu_memory_gb) == ("megatron-bert", 345e6, 40)
    medium, large = registry["gatortron-medium"], registry["gatortron-large"]
    assert (medium.batch_size, medium.gradient_checkpointing, medium.gpus) == (8, True, 1)
    assert (large.batch_size, large.lr_encoder, large.gpus) == (4, 5e-6, 2)
    assert registry["tiny-roberta"].architecture == "roberta"
    assert all(spec.lr_prompt > 100 * spec.lr_encoder for spec in registry.values())


def test_config_entries_add_and_override():
    registry = model_registry(
        {
            "gatortron-base": {"path": "/data/gatortron-base", "parameters": 345e6,
                               "architecture": "megatron-bert", "batch_size": 12},
            "bert-large": {"path": "google-bert/bert-large-uncased", "architecture": "bert",
                           "parameters": "340M", "lr_prompt": 1e-2},
        }
    )  # fmt: skip
    assert registry["gatortron-base"].path == "/data/gatortron-base"
    assert registry["gatortron-base"].batch_size == 12
    assert registry["gatortron-base"].lr_encoder == 2e-5
    assert (registry["bert-large"].parameters, registry["bert-large"].lr_prompt) == (340e6, 1e-2)
    assert "minilm" in registry


def test_architecture_and_size_read_from_a_local_folder(tmp_path):
    folder = tiny_random_checkpoint(tmp_path / "m", "megatron-bert", hidden=16, heads=2)
    spec = model_spec("mine", {"path": str(folder)})
    assert spec.architecture == "megatron-bert"
    encoder, _ = load_encoder(resolve_model_path(spec))
    assert spec.parameters == sum(p.numel() for p in encoder.parameters())


@pytest.mark.parametrize(
    ("value", "count"), [("345M", 345_000_000), ("3.9B", 3_900_000_000), (110e6, 110_000_000)]
)
def test_parse_parameters(value, count):
    assert parse_parameters(value, "models.x.parameters") == count


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"path": "tiny:bert", "batchsize": 4}, "config key 'models.x.batchsize' is not known"),
        ({"architecture": "bert"}, "config key 'models.x.path' is missing"),
        ({"path": "/nowhere/model"}, "give 'architecture' and 'parameters'"),
        ({"path": "tiny:bert", "architecture": "gpt2"}, "'gpt2' is not one of bert, roberta"),
        ({"path": "tiny:bert", "parameters": "lots"}, "'lots' is not a parameter count"),
    ],
)
def test_bad_entries_are_one_line(entry, message):
    with pytest.raises(ConfigError, match=message) as caught:
        model_spec("x", entry)
    assert "\n" not in str(caught.value)


def test_package_path_resolves_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = resolve_model_path(model_registry()["minilm"])
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def test_missing_package():
    with pytest.raises(ConfigError, match="package 'no_such_model_pkg' is not installed"):
        resolve_model_path("package:no_such_model_pkg")


def test_tiny_model_is_built_once_and_deterministic(tmp_path):
    spec = model_registry()["tiny-bert"]
    folder = resolve_model_path(spec, tmp_path / "a")
    assert folder == tmp_path / "a" / "tiny-bert"
    modified = (folder / "model.safetensors").stat().st_mtime_ns
    assert resolve_model_path(spec, tmp_path / "a") == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == modified
    again = resolve_model_path(spec, tmp_path / "b")
    assert (folder / "model.safetensors").read_bytes() == (again / "model.safetensors").read_bytes()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["tiny-bert"]
    encoder, tokenizer = load_encoder(folder)
    assert encoder.config.parameter_count() == spec.parameters
    assert tokenizer.vocab_size == 30522


def test_unknown_tiny_architecture(tmp_path):
    with pytest.raises(ConfigError, match="unknown architecture 'gpt2'"):
        resolve_model_path("tiny:gpt2", tmp_path)
    assert not (tmp_path / "tiny-gpt2").exists()


def test_hub_id_must_already_be_cached(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError) as caught:
        resolve_model_path("clinprompt-tests/no-such-model")
    message = str(caught.value)
    assert message.startswith("clinprompt-tests/no-such-model: not a local folder")
    assert "downloads are disabled" in message


def test_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match="checkpoint folder not found"):
        resolve_model_path(str(tmp_path / "a" / "b" / "c"))


def test_frozen_encoders_ask_for_one_gpu_unless_their_weights_need_more():
    models = model_registry({"huge": {"path": "x", "architecture": "bert", "parameters": "60B"}})
    assert job_gpus(models["gatortron-large"], "soft") == 2
    assert job_gpus(models["gatortron-large"], "soft-frozen") == 1
    assert job_gpus(models["gatortron-medium"], "soft-frozen") == 1
    assert job_gpus(models["gatortron-base"], "finetune") == 1
    # 120 GB of bf16 weights do not fit one 80 GB card even frozen.
    assert job_gpus(models["huge"], "soft-frozen") == models["huge"].gpus == 2
