"""Extraction models: one encoder with the heads and prompts of one strategy.

In: a loaded `Encoder`, the strategy and the schema's type inventory. Out: an
`ExtractionModel` whose `loss(batch)` trains and whose `forward_*` methods predict:
- `finetune`: a BIO tag head (concepts) and an entity-marker pair head (relations);
- `hard`: the MRC span head, the query text in the input;
- `soft`: the span head plus a soft prompt per concept and relation type (deep prompts by
  default, or input prompts), encoder trained;
- `soft-frozen`: as `soft` with every pretrained encoder tensor frozen.
Concept and relation queries share one model: the query (or prompt) says what to find. A
schema with labeled arguments (SDoH) adds a value head (`ValueHead`, `n_values` classes) under
every strategy, on the spans of MRC answers and BIO mentions; its loss (weight
`VALUE_LOSS_WEIGHT`, over a batch's gold spans of labeled types) is added to the span or tag
loss. A model without labeled arguments has none and pays nothing for it.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from clinprompt.errors import ConfigError
from clinprompt.model.encoder import Encoder
from clinprompt.model.heads import PairHead, SpanGold, SpanHead, SpanOutputs, TagHead, ValueHead
from clinprompt.model.prompts import DeepPrompt, InputPrompt, trainable_share
from clinprompt.study import Strategy

PROMPT_MODES = ("deep", "input")
VALUE_LOSS_WEIGHT = 1.0


@dataclass(frozen=True)
class ModelSettings:
    """What a cell's model looks like, checked when it is built."""

    strategy: str
    prompt_length: int = 0
    prompt_mode: str = "deep"
    reparameterize: int | None = None
    max_span_width: int = 32
    match_hidden: int = 2048
    positive_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.prompt_mode not in PROMPT_MODES:
            raise ConfigError(f"prompt_mode '{self.prompt_mode}' unknown (use deep or input)")
        if self.kind.soft and self.prompt_length < 1:
            raise ConfigError(f"strategy '{self.strategy}' needs a prompt length >= 1")
        if not self.kind.soft and self.prompt_length:
            raise ConfigError(
                f"prompt length {self.prompt_length} given for '{self.strategy}', which has no "
                "soft prompt (use 0)"
            )

    @property
    def kind(self) -> Strategy:
        """The strategy (checked)."""
        return Strategy.named(self.strategy)


class ExtractionModel(nn.Module):
    """Encoder + strategy heads (+ soft prompt) for concepts and relations."""

    def __init__(
        self,
        encoder: Encoder,
        settings: ModelSettings,
        n_prompt_types: int,
        n_bio_labels: int,
        n_relation_types: int,
        n_values: int = 0,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.encoder = encoder
        config = encoder.config
        hidden = config.hidden_size
        if settings.kind.entity_markers:
            self.tag_head = TagHead(hidden, n_bio_labels)
            self.pair_head = PairHead(hidden, n_relation_types)
        else:
            self.span_head = SpanHead(
                hidden,
                settings.match_hidden,
                max_span_width=settings.max_span_width,
                positive_weight=settings.positive_weight,
            )
        self.value_head = ValueHead(hidden, n_values) if n_values else None
        self.prompt: nn.Module | None = None
        if settings.kind.soft and settings.prompt_mode == "deep":
            self.prompt = DeepPrompt(
                n_prompt_types,
                settings.prompt_length,
                config.num_layers,
                config.num_heads,
                config.head_dim,
                settings.reparameterize,
            )
        elif settings.kind.soft:
            self.prompt = InputPrompt(n_prompt_types, settings.prompt_length, hidden)
        if settings.kind.frozen:
            encoder.freeze()

    def encode(self, batch: dict[str, Tensor]) -> Tensor:
        """Hidden states of a batch, the soft prompt of each row's type injected."""
        prefix_kv = prompt_embeds = None
        if isinstance(self.prompt, DeepPrompt):
            prefix_kv = self.prompt(batch["prompt_index"])
        elif isinstance(self.prompt, InputPrompt):
            prompt_embeds = self.prompt(batch["prompt_index"])
        return self.encoder(
            batch["input_ids"],
            batch["token_type_ids"],
            batch.get("attention_mask"),
            prefix_kv=prefix_kv,
            prompt_embeds=prompt_embeds,
        )

    def forward_spans(
        self, batch: dict[str, Tensor], gold: SpanGold | None = None, threshold: float = 0.0
    ) -> SpanOutputs:
        """MRC outputs; candidates come from gold too when `gold` is given (training), and
        from start/end logits above `threshold`."""
        return self.span_head(self.encode(batch), batch["context_mask"], gold, threshold)

    def forward_tags(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """BIO logits `[B, L, labels]` and the hidden states they come from."""
        hidden_states = self.encode(batch)
        return self.tag_head(hidden_states), hidden_states

    def forward_values(self, hidden_states: Tensor, spans: Tensor) -> Tensor:
        """Value logits `[P, n_values]` of the `[P, 3]` (example, first, last) spans."""
        return self.value_head(hidden_states, spans)

    def forward_pairs(self, batch: dict[str, Tensor]) -> Tensor:
        """Relation-type logits `[B, types + 1]` (0 = no relation), -inf for the labels the
        two arguments' types do not allow (`labels_allowed`): training and prediction alike
        choose among the possible relation types only."""
        logits = self.pair_head(self.encode(batch), batch["marker_positions"][:, :2])
        return logits.masked_fill(~batch["labels_allowed"], -torch.inf)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """The training loss of a homogeneous batch (`kind`: span, bio or pair)."""
        kind = batch["kind"]
        if kind == "pair":
            return PairHead.loss(self.forward_pairs(batch), batch["label"])
        if kind == "span":
            gold = batch["span_gold"]
            outputs = self.forward_spans(batch, gold)
            loss, hidden_states = self.span_head.loss(outputs, gold).total, outputs.hidden_states
        else:
            logits, hidden_states = self.forward_tags(batch)
            loss = TagHead.loss(logits, batch["labels"])
        if self.value_head is not None and "value_gold" in batch:
            gold_values = batch["value_gold"]
            logits = self.forward_values(hidden_states, gold_values[:, :3])
            loss = loss + VALUE_LOSS_WEIGHT * ValueHead.loss(logits, gold_values[:, 3])
        return loss

    def parameter_groups(
        self, lr_encoder: float, lr_prompt: float, lr_head: float, weight_decay: float
    ) -> list[dict[str, object]]:
        """AdamW groups, each with its own learning rate and weight decay: pretrained encoder,
        prompts, heads, each split into `name` (decayed) and `name/no_decay`.

        Biases and LayerNorm weights (the only 1-D tensors) are not decayed, as in BERT's
        recipe, nor is anything of the prompt group (prompt vectors, their reparameterisation,
        marker embeddings): those make the model's input, which decay would pull to zero.
        Marker embeddings (entity markers of `finetune`, trigger markers of MRC) are new rows
        of the vocabulary and learn with the encoder whenever it trains: at the prompts' rate
        they grew until every pair row encoded to nearly the same vector and the classifier
        could not tell one pair from another. With a frozen encoder they learn with the prompts.
        """
        with_prompts = self.settings.kind.frozen
        groups: dict[str, list[nn.Parameter]] = defaultdict(list)
        for name, parameter in self.named_parameters():
            if not parameter.requires_grad:
                continue
            marker = "added_embeddings" in name
            if name.startswith("prompt.") or (marker and with_prompts):
                group, decayed = "prompt", False
            elif name.startswith("encoder."):
                group, decayed = "encoder", parameter.ndim > 1 and not marker
            else:
                group, decayed = "head", parameter.ndim > 1
            groups[group if decayed else f"{group}/no_decay"].append(parameter)
        rates = {"encoder": lr_encoder, "prompt": lr_prompt, "head": lr_head}
        return [
            {
                "name": name,
                "params": groups[name],
                "lr": rates[name.split("/")[0]],
                "weight_decay": 0.0 if name.endswith("/no_decay") else weight_decay,
            }
            for base in rates
            for name in (base, f"{base}/no_decay")
            if groups.get(name)
        ]

    def trainable(self) -> dict[str, float]:
        """Trainable and total parameters and the trainable share."""
        trainable, total = trainable_share(self)
        return {"trainable": trainable, "total": total, "share": trainable / total}


def autocast(device: torch.device):
    """bf16 autocast on GPU; plain fp32 on CPU (bit-reproducible runs)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def seeded_model(
    encoder: Encoder, settings: ModelSettings, seed: int, **sizes: int
) -> ExtractionModel:
    """Build the model with heads and prompts initialised from `seed` alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ExtractionModel(encoder, settings, **sizes)
