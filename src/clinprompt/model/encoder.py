"""The BERT family of encoders in one PyTorch implementation, with soft-prompt injection.

`Encoder` maps token ids to the last hidden states `[B, L, H]` of a BERT, RoBERTa or
Megatron-BERT (GatorTron) model, numerically equivalent to transformers' `BertModel`,
`RobertaModel` and `MegatronBertModel` (pooler left out). Attention runs through
`scaled_dot_product_attention`, so GPUs use the flash or memory-efficient kernels (transformers'
MegatronBert is eager only). Soft prompts enter in two ways that keep that path: deep prompts
(P-tuning v2) as per-layer key/value vectors prepended inside attention, and input prompts as
vectors prepended to the word embeddings, which take positions 0..P-1 (the real tokens move to
P..P+L-1) and token type 0, so P + L must fit the position table. Loading a checkpoint folder
into it is `clinprompt.model.checkpoint`; the shapes (`EncoderConfig`, `tiny_config`) live in
the torch-free `encoder_config`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from clinprompt.errors import ConfigError
from clinprompt.model.encoder_config import ACTIVATION_NAMES, EncoderConfig

log = logging.getLogger(__name__)

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = dict(
    zip(
        ACTIVATION_NAMES,
        (
            F.gelu,
            lambda x: F.gelu(x, approximate="tanh"),
            lambda x: F.gelu(x, approximate="tanh"),
            F.relu,
        ),
        strict=True,
    )
)

PrefixKV = Sequence[tuple[Tensor, Tensor]]


def _module(**children: nn.Module) -> nn.Module:
    """A plain container, so that parameter names follow the checkpoints' key layout."""
    container = nn.Module()
    for name, child in children.items():
        container.add_module(name, child)
    return container


class Layer(nn.Module):
    """One transformer layer, post-LN (BERT, RoBERTa) or pre-LN (Megatron-BERT).

    Submodules carry the checkpoints' names: `attention.self.{query,key,value}`,
    `attention.output.dense`, `intermediate.dense`, `output.dense`, and the LayerNorms
    `attention.output.LayerNorm` + `output.LayerNorm` (post-LN) or `attention.ln` + `ln` (pre-LN).
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        h, eps = config.hidden_size, config.layer_norm_eps
        self.config = config
        post = {} if config.pre_layer_norm else {"LayerNorm": nn.LayerNorm(h, eps=eps)}
        pre = {"ln": nn.LayerNorm(h, eps=eps)} if config.pre_layer_norm else {}
        self.attention = _module(
            self=_module(query=nn.Linear(h, h), key=nn.Linear(h, h), value=nn.Linear(h, h)),
            output=_module(dense=nn.Linear(h, h), **post),
            **pre,
        )
        self.intermediate = _module(dense=nn.Linear(h, config.intermediate_size))
        post = {} if config.pre_layer_norm else {"LayerNorm": nn.LayerNorm(h, eps=eps)}
        self.output = _module(dense=nn.Linear(config.intermediate_size, h), **post)
        if config.pre_layer_norm:
            self.ln = nn.LayerNorm(h, eps=eps)
        self.activation = ACTIVATIONS[config.hidden_act]

    def forward(
        self, hidden: Tensor, mask: Tensor | None, prefix: tuple[Tensor, Tensor] | None
    ) -> Tensor:
        attention, output = self.attention, self.output
        if self.config.pre_layer_norm:
            attended = self._attend(attention.ln(hidden), mask, prefix)
            hidden = hidden + self._dropout(attention.output.dense(attended))
            inner = self.activation(self.intermediate.dense(self.ln(hidden)))
            return hidden + self._dropout(output.dense(inner))
        attended = self._attend(hidden, mask, prefix)
        hidden = attention.output.LayerNorm(
            self._dropout(attention.output.dense(attended)) + hidden
        )
        inner = self.activation(self.intermediate.dense(hidden))
        return output.LayerNorm(self._dropout(output.dense(inner)) + hidden)

    def _dropout(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.config.hidden_dropout, self.training)

    def _attend(
        self, x: Tensor, mask: Tensor | None, prefix: tuple[Tensor, Tensor] | None
    ) -> Tensor:
        batch, length, _ = x.shape
        shape = (batch, length, self.config.num_heads, self.config.head_dim)
        projections = self.attention.self
        q, k, v = (
            linear(x).view(shape).transpose(1, 2)
            for linear in (projections.query, projections.key, projections.value)
        )
        if prefix is not None:
            # Prompt parameters stay fp32 under autocast; match the projections' dtype.
            k = torch.cat([prefix[0].to(k.dtype), k], dim=2)
            v = torch.cat([prefix[1].to(v.dtype), v], dim=2)
        dropout = self.config.attention_dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        return out.transpose(1, 2).reshape(batch, length, -1)


class Embeddings(nn.Module):
    """Word + token type + position embeddings; LayerNorm only for post-LN architectures."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        h = config.hidden_size
        self.config = config
        self.word_embeddings = nn.Embedding(config.vocab_size, h, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, h)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, h)
        self.first_added_id = config.vocab_size
        self.added_embeddings: nn.Embedding | None = None
        if not config.pre_layer_norm:
            self.LayerNorm = nn.LayerNorm(h, eps=config.layer_norm_eps)

    def forward(
        self, input_ids: Tensor, token_type_ids: Tensor | None, prompt_embeds: Tensor | None
    ) -> Tensor:
        words = self._words(input_ids)
        n_prompt = 0 if prompt_embeds is None else prompt_embeds.shape[1]
        # A model with one token type (RoBERTa) cannot represent segments: all get type 0.
        if token_type_ids is None or self.config.type_vocab_size == 1:
            token_type_ids = torch.zeros_like(input_ids)
        if n_prompt:
            words = torch.cat([prompt_embeds.to(words.dtype), words], dim=1)
            token_type_ids = F.pad(token_type_ids, (n_prompt, 0))
        embeddings = words + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(self._positions(input_ids, n_prompt))
        if not self.config.pre_layer_norm:
            embeddings = self.LayerNorm(embeddings)
        return F.dropout(embeddings, self.config.hidden_dropout, self.training)

    def add_tokens(self, first_id: int, count: int) -> None:
        """Give token ids `first_id .. first_id + count - 1` (marker tokens added to the
        tokenizer) their own embedding table, initialised like BERT's, kept out of `freeze`."""
        self.first_added_id = first_id
        self.added_embeddings = nn.Embedding(count, self.config.hidden_size)
        nn.init.normal_(self.added_embeddings.weight, std=0.02)

    def _words(self, input_ids: Tensor) -> Tensor:
        if self.added_embeddings is None:
            return self.word_embeddings(input_ids)
        added = input_ids >= self.first_added_id
        words = self.word_embeddings(input_ids.masked_fill(added, self.config.pad_token_id))
        extra = self.added_embeddings((input_ids - self.first_added_id).clamp(min=0))
        return torch.where(added[..., None], extra.to(words.dtype), words)

    def _positions(self, input_ids: Tensor, n_prompt: int) -> Tensor:
        if self.config.architecture != "roberta":
            return torch.arange(n_prompt + input_ids.shape[1], device=input_ids.device)[None]
        # RoBERTa (fairseq): real tokens count from pad + 1, pad tokens sit at the pad index.
        real = F.pad(input_ids.ne(self.config.pad_token_id).long(), (n_prompt, 0), value=1)
        return torch.cumsum(real, dim=1) * real + self.config.pad_token_id


class Encoder(nn.Module):
    """A BERT, RoBERTa or Megatron-BERT encoder returning the last hidden states."""

    def __init__(self, config: EncoderConfig, gradient_checkpointing: bool = False) -> None:
        super().__init__()
        self.config = config
        self.gradient_checkpointing = gradient_checkpointing
        self.embeddings = Embeddings(config)
        body = {"layer": nn.ModuleList(Layer(config) for _ in range(config.num_layers))}
        if config.pre_layer_norm:
            body["ln"] = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.encoder = _module(**body)

    def forward(
        self,
        input_ids: Tensor,
        token_type_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        prefix_kv: PrefixKV | None = None,
        prompt_embeds: Tensor | None = None,
    ) -> Tensor:
        """Hidden states `[B, L, H]` of the real tokens (input-prompt positions removed).

        `attention_mask` `[B, L]` (1 = token, 0 = padding; None = no padding, which lets GPUs
        use the flash kernel); `prefix_kv`: per layer (key, value) `[B, heads, P, head_dim]`;
        `prompt_embeds`: `[B, P, H]` vectors placed before the tokens.
        """
        n_prompt = 0 if prompt_embeds is None else prompt_embeds.shape[1]
        if n_prompt + input_ids.shape[1] > self.config.max_tokens:
            raise ConfigError(
                f"prompt length {n_prompt} + sequence length {input_ids.shape[1]} exceeds the "
                f"encoder's {self.config.max_tokens} positions"
            )
        self._check_prefix(prefix_kv, input_ids.shape[0])
        hidden = self.embeddings(input_ids, token_type_ids, prompt_embeds)
        mask = self._key_mask(attention_mask, n_prompt, prefix_kv)
        for index, layer in enumerate(self.encoder.layer):
            prefix = None if prefix_kv is None else prefix_kv[index]
            if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                hidden = checkpoint(layer, hidden, mask, prefix, use_reentrant=False)
            else:
                hidden = layer(hidden, mask, prefix)
        if self.config.pre_layer_norm:
            hidden = self.encoder.ln(hidden)
        return hidden[:, n_prompt:]

    def freeze(self) -> Encoder:
        """Stop gradients for every pretrained parameter (the soft-frozen strategy).

        Embeddings of added marker tokens stay trainable: they are new, and frozen random
        rows could not tell the markers apart.
        """
        for name, parameter in self.named_parameters():
            parameter.requires_grad_(name.startswith("embeddings.added_embeddings."))
        return self

    def _check_prefix(self, prefix_kv: PrefixKV | None, batch: int) -> None:
        if prefix_kv is None:
            return
        if len(prefix_kv) != self.config.num_layers:
            raise ConfigError(
                f"deep prompt has {len(prefix_kv)} layers, the encoder {self.config.num_layers}"
            )
        key = prefix_kv[0][0]
        expected = (batch, self.config.num_heads, key.shape[2], self.config.head_dim)
        for layer_key, layer_value in prefix_kv:
            if layer_key.shape != expected or layer_value.shape != expected:
                raise ConfigError(
                    f"deep prompt key/value shape {tuple(layer_key.shape)} does not fit the "
                    f"encoder; expected {expected}"
                )

    @staticmethod
    def _key_mask(
        attention_mask: Tensor | None, n_prompt: int, prefix_kv: PrefixKV | None
    ) -> Tensor | None:
        """Boolean `[B, 1, 1, keys]` mask: prefix and prompt positions always visible."""
        if attention_mask is None:
            return None
        n_prefix = 0 if prefix_kv is None else prefix_kv[0][0].shape[2]
        mask = F.pad(attention_mask.bool(), (n_prefix + n_prompt, 0), value=True)
        return mask[:, None, None, :]
