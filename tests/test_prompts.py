"""Soft prompts change the encoder's output, respect positions and padding, and train alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from transformers import AutoModel

from clinprompt.errors import ConfigError
from clinprompt.model.checkpoint import load_encoder, tiny_random_checkpoint
from clinprompt.model.encoder import Encoder
from clinprompt.model.prompts import DeepPrompt, InputPrompt, trainable_share

ARCHITECTURES = ["bert", "roberta", "megatron-bert"]
MAX_TOKENS = 24


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Tiny checkpoints with a short position table, so the budget is easy to exceed."""
    root = tmp_path_factory.mktemp("checkpoints")
    return {
        arch: tiny_random_checkpoint(
            root / arch, arch, seed=2, max_tokens=MAX_TOKENS, initializer_range=0.2
        )
        for arch in ARCHITECTURES
    }


def encoder_of(checkpoints, architecture: str) -> Encoder:
    encoder, _ = load_encoder(checkpoints[architecture])
    return encoder.eval()


def deep_prompt(encoder: Encoder, prefix_len: int = 4, reparam: int | None = None) -> DeepPrompt:
    config = encoder.config
    return DeepPrompt(3, prefix_len, config.num_layers, config.num_heads, config.head_dim, reparam)


def batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two examples, the second padded; ids from the MiniLM vocabulary (pad = 0)."""
    ids = torch.tensor(
        [[101, 2054, 5850, 102, 2004, 8197, 6657, 102], [101, 2054, 102, 11687, 102, 0, 0, 0]]
    )
    types = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 0, 0, 0]])
    return ids, types, (ids != 0).long()


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("reparam", [None, 16])
def test_deep_prompt_changes_the_output(checkpoints, architecture, reparam):
    torch.manual_seed(0)
    encoder = encoder_of(checkpoints, architecture)
    prompt = deep_prompt(encoder, reparam=reparam)
    ids, types, mask = batch()
    kinds = torch.tensor([0, 2])
    prefix = prompt(kinds)
    assert len(prefix) == encoder.config.num_layers
    assert prefix[0][0].shape == (2, encoder.config.num_heads, 4, encoder.config.head_dim)
    with torch.no_grad():
        plain = encoder(ids, types, mask)
        prompted = encoder(ids, types, mask, prefix_kv=prefix)
        other_type = encoder(ids, types, mask, prefix_kv=prompt(kinds.flip(0)))
    assert prompted.shape == plain.shape
    assert (prompted - plain).abs().min() > 0
    assert not torch.allclose(prompted, other_type)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_zero_length_prefix_equals_no_prefix(checkpoints, architecture):
    encoder = encoder_of(checkpoints, architecture)
    ids, types, mask = batch()
    with torch.no_grad():
        plain = encoder(ids, types, mask)
        empty = encoder(ids, types, mask, prefix_kv=deep_prompt(encoder, 0)(torch.tensor([0, 1])))
    assert torch.allclose(plain, empty, atol=1e-6, rtol=0)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("mode", ["deep", "input"])
def test_prompted_padding_changes_nothing(checkpoints, architecture, mode):
    """A padded example's real tokens get what they get alone: prompts are always visible."""
    torch.manual_seed(0)
    encoder = encoder_of(checkpoints, architecture)
    prompt = deep_prompt(encoder) if mode == "deep" else InputPrompt(3, 4, 32)
    key = "prefix_kv" if mode == "deep" else "prompt_embeds"
    ids, types, mask = batch()
    with torch.no_grad():
        padded = encoder(ids, types, mask, **{key: prompt(torch.tensor([1, 1]))})
        alone = encoder(
            ids[1:, :5], types[1:, :5], mask[1:, :5], **{key: prompt(torch.tensor([1]))}
        )
    assert torch.allclose(padded[1, :5], alone[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_input_prompt_changes_the_output(checkpoints, architecture):
    torch.manual_seed(0)
    encoder = encoder_of(checkpoints, architecture)
    prompt = InputPrompt(3, 5, encoder.config.hidden_size)
    ids, types, mask = batch()
    vectors = prompt(torch.tensor([0, 2]))
    assert vectors.shape == (2, 5, encoder.config.hidden_size)
    with torch.no_grad():
        plain = encoder(ids, types, mask)
        prompted = encoder(ids, types, mask, prompt_embeds=vectors)
    assert prompted.shape == plain.shape  # prompt positions are not returned
    assert (prompted - plain).abs().min() > 0


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_input_prompt_is_transformers_inputs_embeds(checkpoints, architecture):
    """Prompt vectors take positions 0..P-1 and token type 0, as transformers' inputs_embeds."""
    torch.manual_seed(0)
    encoder = encoder_of(checkpoints, architecture)
    reference = AutoModel.from_pretrained(checkpoints[architecture], attn_implementation="eager")
    vectors = InputPrompt(3, 5, encoder.config.hidden_size)(torch.tensor([1]))
    ids = batch()[0][:1]
    types = torch.zeros_like(ids) if architecture == "roberta" else batch()[1][:1]
    with torch.no_grad():
        words = reference.get_input_embeddings()(ids)
        expected = reference.eval()(
            inputs_embeds=torch.cat([vectors, words], dim=1),
            token_type_ids=torch.cat([torch.zeros(1, 5, dtype=torch.long), types], dim=1),
        ).last_hidden_state[:, 5:]
        ours = encoder(ids, types, torch.ones_like(ids), prompt_embeds=vectors)
    assert (expected - ours).abs().max() < 1e-5


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_positions_stay_within_the_table(checkpoints, architecture):
    encoder = encoder_of(checkpoints, architecture)
    assert encoder.config.max_tokens == MAX_TOKENS
    ids = torch.full((1, MAX_TOKENS - 4), 2054)
    with torch.no_grad():
        fits = encoder(ids, prompt_embeds=torch.zeros(1, 4, 32))
        assert fits.shape == (1, MAX_TOKENS - 4, 32)
        with pytest.raises(ConfigError, match=r"^prompt length 5 \+ sequence length 20 exceeds"):
            encoder(ids, prompt_embeds=torch.zeros(1, 5, 32))
        with pytest.raises(ConfigError, match="sequence length 25 exceeds the encoder's 24"):
            encoder(torch.full((1, MAX_TOKENS + 1), 2054))


def test_deep_prompt_of_the_wrong_shape_is_refused(checkpoints):
    encoder = encoder_of(checkpoints, "bert")
    ids, types, mask = batch()
    wrong = DeepPrompt(3, 4, encoder.config.num_layers + 1, 4, 8)(torch.tensor([0, 1]))
    with pytest.raises(ConfigError, match="deep prompt has 3 layers, the encoder 2"):
        encoder(ids, types, mask, prefix_kv=wrong)


def test_prompts_are_seeded():
    torch.manual_seed(7)
    first = DeepPrompt(2, 3, 2, 4, 8, reparam_hidden=8).state_dict()
    torch.manual_seed(7)
    second = DeepPrompt(2, 3, 2, 4, 8, reparam_hidden=8).state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_deep_prompt_under_bf16_autocast(checkpoints):
    encoder = encoder_of(checkpoints, "megatron-bert")
    prompt = deep_prompt(encoder)
    ids, types, mask = batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = encoder(ids, types, mask, prefix_kv=prompt(torch.tensor([0, 1])))
    assert out.isfinite().all()
    assert prompt.embedding.weight.dtype == torch.float32


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("mode", ["deep", "input"])
def test_frozen_encoder_stays_bit_identical(checkpoints, architecture, mode):
    torch.manual_seed(0)
    encoder, _ = load_encoder(checkpoints[architecture])
    encoder.freeze().train()  # dropout stays on, as in training
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    prompt = deep_prompt(encoder, reparam=16) if mode == "deep" else InputPrompt(3, 4, 32)
    head = nn.Linear(32, 1)
    prompt_before = {k: v.clone() for k, v in prompt.state_dict().items()}
    optimizer = torch.optim.AdamW([*prompt.parameters(), *head.parameters()], lr=1e-2)
    ids, types, mask = batch()
    key = "prefix_kv" if mode == "deep" else "prompt_embeds"
    for _ in range(3):
        hidden = encoder(ids, types, mask, **{key: prompt(torch.tensor([0, 2]))})
        loss = head(hidden).squeeze(-1)[mask.bool()].sigmoid().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert all(p.grad is None for p in encoder.parameters())
    for name, tensor in encoder.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    for name, tensor in prompt.state_dict().items():
        assert not torch.equal(tensor, prompt_before[name]), name


def test_trainable_share(checkpoints):
    encoder = encoder_of(checkpoints, "bert")
    total = encoder.config.parameter_count()
    # 3 types x 4 virtual tokens x (2 x 2 layers x 32 hidden)
    assert trainable_share(deep_prompt(encoder)) == (1536, 1536)
    # embedding 12 x 32 + Linear(32, 16) + Linear(16, 128)
    assert trainable_share(deep_prompt(encoder, reparam=16)) == (3088, 3088)
    assert trainable_share(InputPrompt(3, 4, 32)) == (384, 384)
    model = nn.ModuleDict({"encoder": encoder.freeze(), "prompt": deep_prompt(encoder)})
    assert trainable_share(model) == (1536, total + 1536)
    shared = nn.Linear(4, 4)
    assert trainable_share(nn.Sequential(shared, shared)) == (20, 20)
