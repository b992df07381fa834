"""The shape of an encoder, torch-free: what a checkpoint's `config.json` says, validated.

The model registry sizes jobs from it without importing the model code (`encoder` builds the
modules from an `EncoderConfig`); `tiny_config` is the `config.json` of the tiny random models
that tests and the embedded default use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clinprompt.errors import ConfigError

ARCHITECTURES = ("bert", "roberta", "megatron-bert")
ACTIVATION_NAMES = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")


@dataclass(frozen=True)
class EncoderConfig:
    """The shape of an encoder, read from a checkpoint's `config.json`."""

    architecture: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    pad_token_id: int
    layer_norm_eps: float
    hidden_act: str
    hidden_dropout: float
    attention_dropout: float

    @classmethod
    def from_pretrained_config(cls, config: Mapping, source: str = "config.json") -> EncoderConfig:
        """The config of a transformers `config.json` mapping; `source` names it in errors."""
        model_type = config.get("model_type")
        if model_type not in ARCHITECTURES:
            raise ConfigError(
                f"{source}: model_type {model_type!r} is not supported "
                f"(supported: {', '.join(ARCHITECTURES)})"
            )
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ConfigError(f"{source}: only absolute position embeddings are supported")
        if config.get("hidden_act", "gelu") not in ACTIVATION_NAMES:
            raise ConfigError(f"{source}: hidden_act {config['hidden_act']!r} is not supported")
        required = ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads"]
        for key in [*required, "intermediate_size", "max_position_embeddings"]:
            if key not in config:
                raise ConfigError(f"{source}: key '{key}' is missing")
        if config["hidden_size"] % config["num_attention_heads"]:
            raise ConfigError(f"{source}: hidden_size is not a multiple of num_attention_heads")
        return cls(
            architecture=model_type,
            vocab_size=config["vocab_size"],
            hidden_size=config["hidden_size"],
            num_layers=config["num_hidden_layers"],
            num_heads=config["num_attention_heads"],
            intermediate_size=config["intermediate_size"],
            max_position_embeddings=config["max_position_embeddings"],
            type_vocab_size=config.get("type_vocab_size", 2),
            pad_token_id=config.get("pad_token_id", 1 if model_type == "roberta" else 0),
            layer_norm_eps=config.get("layer_norm_eps", 1e-12),
            hidden_act=config.get("hidden_act", "gelu"),
            hidden_dropout=config.get("hidden_dropout_prob", 0.1),
            attention_dropout=config.get("attention_probs_dropout_prob", 0.1),
        )

    @property
    def pre_layer_norm(self) -> bool:
        """Megatron-BERT normalises before each sub-layer and once at the end."""
        return self.architecture == "megatron-bert"

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def position_offset(self) -> int:
        """Index of the first position: RoBERTa counts from `pad_token_id + 1`."""
        return self.pad_token_id + 1 if self.architecture == "roberta" else 0

    @property
    def max_tokens(self) -> int:
        """Longest input, input-prompt vectors included, that the position table covers."""
        return self.max_position_embeddings - self.position_offset

    def parameter_count(self) -> int:
        """Number of parameters of the encoder (without pooler), without building it."""
        h, i = self.hidden_size, self.intermediate_size
        tables = (self.vocab_size + self.max_position_embeddings + self.type_vocab_size) * h
        # One LayerNorm outside the layers: after the embeddings (post-LN) or at the end (pre-LN).
        layer = 4 * h * h + 4 * h + 2 * h * i + i + h + 4 * h
        return tables + 2 * h + self.num_layers * layer


def tiny_config(
    architecture: str = "bert",
    layers: int = 2,
    hidden: int = 32,
    heads: int = 4,
    intermediate: int | None = None,
    max_tokens: int = 512,
    initializer_range: float = 0.02,
) -> dict:
    """The `config.json` mapping of a tiny model over the MiniLM vocabulary (30,522, pad 0)."""
    if architecture not in ARCHITECTURES:
        raise ConfigError(
            f"unknown architecture {architecture!r} (known: {', '.join(ARCHITECTURES)})"
        )
    pad = 0
    offset = pad + 1 if architecture == "roberta" else 0
    return {
        "model_type": architecture,
        "vocab_size": 30522,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": intermediate or 4 * hidden,
        "max_position_embeddings": max_tokens + offset,
        "type_vocab_size": 1 if architecture == "roberta" else 2,
        "pad_token_id": pad,
        "initializer_range": initializer_range,
    }
