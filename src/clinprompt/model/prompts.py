"""Soft prompts: trainable vectors per prompt type, in the shapes the `Encoder` takes.

In: a batch of prompt-type indices `[B]` (the examples' `prompt_index`: a concept or relation
type in the schema's order). Out: `DeepPrompt` gives, per encoder layer, prefix key/value
vectors `[B, heads, P, head_dim]` (P-tuning v2, the study's default; pass as `prefix_kv`);
`InputPrompt` gives vectors `[B, P, H]` prepended to the input embeddings (pass as
`prompt_embeds`). Parameters are initialised from the torch RNG, so a seed fixes them.
`trainable_share` counts trainable parameters for the cell's report.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _rows(type_index: Tensor, prefix_len: int) -> Tensor:
    """Embedding rows `[B, P]` of each example's prompt type: type k owns rows kP..kP+P-1."""
    return type_index[:, None] * prefix_len + torch.arange(prefix_len, device=type_index.device)


class DeepPrompt(nn.Module):
    """Per prompt type, `prefix_len` virtual tokens with their own key and value in every layer.

    Without reparameterisation an Embedding holds the 2 x layers x hidden numbers of each
    virtual token directly. With `reparam_hidden` (P-tuning v2's prefix projection) each
    virtual token is a hidden-size vector mapped by Linear-Tanh-Linear to those numbers; the
    MLP is shared by all types and layers, which steadies training.
    """

    def __init__(
        self,
        n_types: int,
        prefix_len: int,
        n_layers: int,
        n_heads: int,
        head_dim: int,
        reparam_hidden: int | None = None,
    ) -> None:
        super().__init__()
        self.prefix_len = prefix_len
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.head_dim = head_dim
        hidden = n_heads * head_dim
        width = 2 * n_layers * hidden
        # nn.Embedding's N(0, 1) init, as in P-tuning v2: keys and values of that scale.
        if reparam_hidden is None:
            self.embedding = nn.Embedding(n_types * prefix_len, width)
            self.reparam = None
        else:
            self.embedding = nn.Embedding(n_types * prefix_len, hidden)
            self.reparam = nn.Sequential(
                nn.Linear(hidden, reparam_hidden), nn.Tanh(), nn.Linear(reparam_hidden, width)
            )

    def forward(self, type_index: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Per layer a (key, value) pair, each `[B, heads, prefix_len, head_dim]`."""
        vectors = self.embedding(_rows(type_index, self.prefix_len))
        if self.reparam is not None:
            vectors = self.reparam(vectors)
        batch = type_index.shape[0]
        shape = (batch, self.prefix_len, 2 * self.n_layers, self.n_heads, self.head_dim)
        # -> [2 * layers, B, heads, P, head_dim]: even entries are keys, odd ones values.
        kv = vectors.view(shape).permute(2, 0, 3, 1, 4)
        return [(kv[2 * layer], kv[2 * layer + 1]) for layer in range(self.n_layers)]


class InputPrompt(nn.Module):
    """Per prompt type, `prefix_len` trainable vectors placed before the input embeddings."""

    def __init__(self, n_types: int, prefix_len: int, hidden: int) -> None:
        super().__init__()
        self.prefix_len = prefix_len
        self.embedding = nn.Embedding(n_types * prefix_len, hidden)
        # The scale of BERT's word embeddings (initializer_range), not nn.Embedding's N(0, 1):
        # Megatron-BERT adds inputs to its residual stream without an embedding LayerNorm.
        nn.init.normal_(self.embedding.weight, std=0.02)

    def forward(self, type_index: Tensor) -> Tensor:
        """Prompt vectors `[B, prefix_len, hidden]` of each example's prompt type."""
        return self.embedding(_rows(type_index, self.prefix_len))


def trainable_share(module: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts of `module`, shared parameters counted once."""
    parameters = list(module.parameters())
    trainable = sum(p.numel() for p in parameters if p.requires_grad)
    return trainable, sum(p.numel() for p in parameters)
