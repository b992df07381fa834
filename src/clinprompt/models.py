"""Extraction models: one encoder with the heads and prompts of one strategy.

In: a loaded `Encoder`, the strategy and the schema's type inventory. Out: an
`ExtractionModel` whose `loss(batch)` trains and whose `forward_*` methods predict:
- `finetune`: a BIO tag head (concepts) and an entity-marker pair head (relations);
- `hard`: the MRC span head, the query text in the input;
- `soft`: the span head plus a soft prompt per concept and relation type (deep prompts by
  default, or input prompts), encoder trained;
- `soft-frozen`: as `soft` with every pretrained encoder tensor frozen.
Concept and relation queries share one model: the query (or prompt) says what to find.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from clinprompt.encoder import Encoder
from clinprompt.errors import ConfigError
from clinprompt.heads import PairHead, SpanGold, SpanHead, SpanOutputs, TagHead
from clinprompt.prompts import DeepPrompt, InputPrompt, trainable_share

STRATEGIES = ("finetune", "hard", "soft", "soft-frozen")
PROMPT_MODES = ("deep", "input")


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
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy '{self.strategy}' unknown (use {', '.join(STRATEGIES)})")
        if self.prompt_mode not in PROMPT_MODES:
            raise ConfigError(f"prompt_mode '{self.prompt_mode}' unknown (use deep or input)")
        if self.soft and self.prompt_length < 1:
            raise ConfigError(f"strategy '{self.strategy}' needs a prompt length >= 1")
        if not self.soft and self.prompt_length:
            raise ConfigError(
                f"prompt length {self.prompt_length} given for '{self.strategy}', which has no "
                "soft prompt (use 0)"
            )

    @property
    def soft(self) -> bool:
        """Whether the strategy learns soft prompts."""
        return self.strategy in ("soft", "soft-frozen")

    @property
    def frozen(self) -> bool:
        """Whether the pretrained encoder stays fixed."""
        return self.strategy == "soft-frozen"


class ExtractionModel(nn.Module):
    """Encoder + strategy heads (+ soft prompt) for concepts and relations."""

    def __init__(
        self,
        encoder: Encoder,
        settings: ModelSettings,
        n_prompt_types: int,
        n_bio_labels: int,
        n_relation_types: int,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.encoder = encoder
        config = encoder.config
        hidden = config.hidden_size
        if settings.strategy == "finetune":
            self.tag_head = TagHead(hidden, n_bio_labels)
            self.pair_head = PairHead(hidden, n_relation_types)
        else:
            self.span_head = SpanHead(
                hidden,
                settings.match_hidden,
                max_span_width=settings.max_span_width,
                positive_weight=settings.positive_weight,
            )
        self.prompt: nn.Module | None = None
        if settings.soft and settings.prompt_mode == "deep":
            self.prompt = DeepPrompt(
                n_prompt_types, settings.prompt_length, config.num_layers, config.num_heads,
                config.head_dim, settings.reparameterize,
            )  # fmt: skip
        elif settings.soft:
            self.prompt = InputPrompt(n_prompt_types, settings.prompt_length, hidden)
        if settings.frozen:
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

    def forward_spans(self, batch: dict[str, Tensor], gold: SpanGold | None = None) -> SpanOutputs:
        """MRC outputs; candidates come from gold too when `gold` is given (training)."""
        return self.span_head(self.encode(batch), batch["context_mask"], gold)

    def forward_tags(self, batch: dict[str, Tensor]) -> Tensor:
        """BIO logits `[B, L, labels]`."""
        return self.tag_head(self.encode(batch))

    def forward_pairs(self, batch: dict[str, Tensor]) -> Tensor:
        """Relation-type logits `[B, types + 1]` (0 = no relation)."""
        return self.pair_head(self.encode(batch), batch["marker_positions"][:, :2])

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """The training loss of a homogeneous batch (`kind`: span, bio or pair)."""
        kind = batch["kind"]
        if kind == "span":
            gold = batch["span_gold"]
            return self.span_head.loss(self.forward_spans(batch, gold), gold).total
        if kind == "bio":
            return TagHead.loss(self.forward_tags(batch), batch["labels"])
        return PairHead.loss(self.forward_pairs(batch), batch["label"])

    def parameter_groups(
        self, lr_encoder: float, lr_prompt: float, lr_head: float
    ) -> list[dict[str, object]]:
        """AdamW groups: pretrained encoder, prompts (and marker embeddings), heads."""
        groups: dict[str, list[nn.Parameter]] = {"encoder": [], "prompt": [], "head": []}
        for name, parameter in self.named_parameters():
            if not parameter.requires_grad:
                continue
            if name.startswith("prompt.") or "added_embeddings" in name:
                groups["prompt"].append(parameter)
            elif name.startswith("encoder."):
                groups["encoder"].append(parameter)
            else:
                groups["head"].append(parameter)
        rates = {"encoder": lr_encoder, "prompt": lr_prompt, "head": lr_head}
        return [
            {"name": name, "params": params, "lr": rates[name]}
            for name, params in groups.items()
            if params
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
