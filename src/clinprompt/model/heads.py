"""Task heads on top of the encoder's hidden states, with their losses.

In: hidden states `[B, L, H]` from the encoder and, for training, gold targets built from the
example tables (`answer_starts`/`answer_ends`, `labels`, `label`). Out: logits and losses.
`SpanHead` is the MRC head of the study (BERT-MRC): start and end classifiers (Linear H -> 1)
and a span-match MLP on `[h_i; h_j]` (2H -> 2048 -> 1, GELU, dropout), trained with BCE losses
weighted 1 / 1 / 0.1. The span-match MLP is evaluated only on candidate pairs, never on the
full L x L grid: at training time the union of the gold pairs and every (predicted or gold)
start x (predicted or gold) end at most `max_span_width` tokens apart; at inference the
predicted starts x predicted ends within that width. `TagHead` is the BIO token classifier and
`PairHead` the entity-marker relation classifier of the `finetune` strategy. `ValueHead` gives
the value of a labeled argument (SDoH StatusTime, StatusEmploy, TypeLiving) from `[h_i; h_j]` of
its span (an MRC answer or a BIO mention), trained with cross-entropy on the gold spans of
those types (example columns `value_starts`/`value_ends`/`value_labels`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IGNORE_INDEX = -100
BOUNDARY_PRIOR_LOGIT = -3.0  # log-odds of about 5% of context tokens starting an answer


@dataclass(frozen=True)
class SpanGold:
    """Gold MRC targets of a batch: start/end indicators `[B, L]` and pairs `[G, 3]`.

    A pair row is (example, start token, end token), end inclusive.
    """

    starts: Tensor
    ends: Tensor
    pairs: Tensor

    @classmethod
    def from_answers(
        cls,
        answer_starts: Sequence[Sequence[int]],
        answer_ends: Sequence[Sequence[int]],
        seq_len: int,
    ) -> SpanGold:
        """Targets from the example columns `answer_starts`/`answer_ends` of a padded batch."""
        rows = [
            (b, int(i), int(j))
            for b, (starts, ends) in enumerate(zip(answer_starts, answer_ends, strict=True))
            for i, j in zip(starts, ends, strict=True)
        ]
        pairs = torch.tensor(rows, dtype=torch.long).reshape(-1, 3)
        first, last = pairs[:, 1], pairs[:, 2]
        if bool(((first < 0) | (last < first) | (last >= seq_len)).any()):
            raise ValueError(f"answer spans must satisfy 0 <= start <= end < {seq_len}: {rows}")
        shape = (len(answer_starts), seq_len)
        starts, ends = torch.zeros(shape), torch.zeros(shape)
        starts[pairs[:, 0], pairs[:, 1]] = 1.0
        ends[pairs[:, 0], pairs[:, 2]] = 1.0
        return cls(starts, ends, pairs)

    def to(self, device: torch.device | str) -> SpanGold:
        """The same targets on `device`."""
        return SpanGold(self.starts.to(device), self.ends.to(device), self.pairs.to(device))


@dataclass(frozen=True)
class SpanOutputs:
    """What `SpanHead` computes: per-token logits and match logits of the candidate pairs, and
    the hidden states they come from (which the value head reads)."""

    start_logits: Tensor
    end_logits: Tensor
    pairs: Tensor
    match_logits: Tensor
    context_mask: Tensor
    hidden_states: Tensor


@dataclass(frozen=True)
class SpanLoss:
    """The weighted total and its three parts, as tensors (no host sync for logging)."""

    total: Tensor
    start: Tensor
    end: Tensor
    match: Tensor


def candidate_pairs(
    starts: Tensor, ends: Tensor, max_span_width: int, extra: Tensor | None = None
) -> Tensor:
    """Candidate (example, i, j) rows `[P, 3]`: `starts[b, i] & ends[b, j]`, 0 <= j - i < width.

    `extra` pairs (the gold ones) are added when they lie beyond the width (those within it
    are already in the grid when their start and end are marked). Only a `[B, L, width]`
    boolean grid is built; the one host-device sync is `nonzero`, whose size depends on data.
    """
    length = starts.shape[1]
    width = min(max_span_width, length)
    ends_ahead = F.pad(ends, (0, width - 1)).unfold(1, width, 1)  # [b, i, d] = ends[b, i + d]
    grid = (starts.unsqueeze(-1) & ends_ahead).reshape(-1)
    n_grid = grid.numel()
    keep = grid
    if extra is not None and len(extra):
        keep = torch.cat([grid, extra[:, 2] - extra[:, 1] >= width])
    index = keep.nonzero().squeeze(1)
    flat = index.clamp(max=n_grid - 1)
    example, token, offset = flat // (length * width), flat // width % length, flat % width
    pairs = torch.stack([example, token, token + offset], dim=1)
    if extra is None or len(keep) == n_grid:
        return pairs
    beyond = extra[(index - n_grid).clamp(min=0, max=len(extra) - 1)]
    return torch.where((index < n_grid).unsqueeze(1), pairs, beyond)


def pair_labels(pairs: Tensor, gold_pairs: Tensor, seq_len: int) -> Tensor:
    """1.0 for each candidate pair that is a gold pair, else 0.0."""

    def keys(rows: Tensor) -> Tensor:
        return (rows[:, 0] * seq_len + rows[:, 1]) * seq_len + rows[:, 2]

    return torch.isin(keys(pairs), keys(gold_pairs)).float()


def masked_bce(
    logits: Tensor, targets: Tensor, mask: Tensor, positive_weight: float = 1.0
) -> Tensor:
    """Mean binary cross-entropy over the positions where `mask` is true (0 when none)."""
    weight = torch.as_tensor(positive_weight, dtype=logits.dtype, device=logits.device)
    losses = F.binary_cross_entropy_with_logits(
        logits, targets, reduction="none", pos_weight=weight
    )
    mask = mask.to(losses.dtype)
    return (losses * mask).sum() / mask.sum().clamp(min=1.0)


def span_states(hidden_states: Tensor, spans: Tensor) -> Tensor:
    """`[h_i; h_j]` `[P, 2H]` of the `[P, 3]` (example, first token, last token) spans."""
    h_start = hidden_states[spans[:, 0], spans[:, 1]]
    h_end = hidden_states[spans[:, 0], spans[:, 2]]
    return torch.cat([h_start, h_end], dim=-1)


class SpanHead(nn.Module):
    """BERT-MRC head: start/end classifiers and a span-match MLP on candidate pairs only."""

    def __init__(
        self,
        hidden: int,
        match_hidden: int = 2048,
        dropout: float = 0.1,
        max_span_width: int = 32,
        loss_weights: tuple[float, float, float] = (1.0, 1.0, 0.1),
        positive_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if max_span_width < 1:
            raise ValueError(f"max_span_width must be >= 1, got {max_span_width}")
        self.max_span_width = max_span_width
        self.loss_weights = loss_weights
        # Answer boundaries are a few percent of the context tokens; weighting them up lets
        # small data and frozen encoders get past predicting "no answer" everywhere.
        self.positive_weight = positive_weight
        self.start = nn.Linear(hidden, 1)
        self.end = nn.Linear(hidden, 1)
        # Start at the prior: a few percent of context tokens begin or end an answer, so
        # steps go to telling them apart rather than to learning that most tokens do not.
        for boundary in (self.start, self.end):
            nn.init.constant_(boundary.bias, BOUNDARY_PRIOR_LOGIT)
        self.span_match = nn.Sequential(
            nn.Linear(2 * hidden, match_hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(match_hidden, 1),
        )

    def forward(
        self,
        hidden_states: Tensor,
        context_mask: Tensor,
        gold: SpanGold | None = None,
        threshold: float = 0.0,
    ) -> SpanOutputs:
        """Logits for `[B, L, H]` states and a `[B, L]` context mask.

        With `gold` (training, dev loss) the candidates are the gold pairs plus (predicted or
        gold) starts x (predicted or gold) ends; without it (prediction) predicted starts x
        predicted ends. Only context tokens are candidates; "predicted" means logit >
        `threshold` (the lowest decision threshold that decoding will apply).
        """
        context_mask = context_mask.bool()
        start_logits = self.start(hidden_states).squeeze(-1)
        end_logits = self.end(hidden_states).squeeze(-1)
        starts, ends = start_logits > threshold, end_logits > threshold
        extra = None
        if gold is not None:
            starts, ends = starts | gold.starts.bool(), ends | gold.ends.bool()
            extra = gold.pairs
        pairs = candidate_pairs(
            starts & context_mask, ends & context_mask, self.max_span_width, extra
        )
        match_logits = self.match_logits(hidden_states, pairs)
        return SpanOutputs(
            start_logits, end_logits, pairs, match_logits, context_mask, hidden_states
        )

    def match_logits(self, hidden_states: Tensor, pairs: Tensor) -> Tensor:
        """Span-match logits `[P]` of the `[P, 3]` pairs from the gathered `[h_i; h_j]`."""
        return self.span_match(span_states(hidden_states, pairs)).squeeze(-1)

    def loss(self, outputs: SpanOutputs, gold: SpanGold) -> SpanLoss:
        """BCE for start and end (context tokens) and match (candidate pairs), weighted."""
        weight = self.positive_weight
        start = masked_bce(outputs.start_logits, gold.starts, outputs.context_mask, weight)
        end = masked_bce(outputs.end_logits, gold.ends, outputs.context_mask, weight)
        labels = pair_labels(outputs.pairs, gold.pairs, outputs.start_logits.shape[1])
        match = F.binary_cross_entropy_with_logits(
            outputs.match_logits, labels, reduction="sum"
        ) / max(len(labels), 1)
        w_start, w_end, w_match = self.loss_weights
        return SpanLoss(w_start * start + w_end * end + w_match * match, start, end, match)


class TagHead(nn.Module):
    """BIO token classifier of the `finetune` strategy: dropout then Linear H -> labels."""

    def __init__(self, hidden: int, n_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, n_labels)

    def forward(self, hidden_states: Tensor) -> Tensor:
        """Label logits `[B, L, n_labels]`."""
        return self.classifier(self.dropout(hidden_states))

    @staticmethod
    def loss(logits: Tensor, labels: Tensor) -> Tensor:
        """Mean cross-entropy over tokens whose label is not -100 (0 when there are none)."""
        labels = labels.long()
        total = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            labels.reshape(-1),
            ignore_index=IGNORE_INDEX,
            reduction="sum",
        )
        return total / (labels != IGNORE_INDEX).sum().clamp(min=1)


class PairHead(nn.Module):
    """Entity-marker relation classifier: `[h_[s1]; h_[s2]]` -> relation types + "none".

    Output class 0 is "none" and class k is relation type k - 1, matching the example
    column `label` (relation type index, 0 = none).
    """

    def __init__(self, hidden: int, n_relation_types: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * hidden, n_relation_types + 1)

    def forward(self, hidden_states: Tensor, marker_positions: Tensor) -> Tensor:
        """Class logits `[B, n_relation_types + 1]`; `marker_positions` `[B, 2]` = ([s1], [s2])."""
        rows = torch.arange(hidden_states.shape[0], device=hidden_states.device)
        markers = hidden_states[rows.unsqueeze(1), marker_positions.long()]  # [B, 2, H]
        return self.classifier(self.dropout(markers.flatten(1)))

    @staticmethod
    def loss(logits: Tensor, labels: Tensor) -> Tensor:
        """Mean cross-entropy over the candidate pairs."""
        return F.cross_entropy(logits, labels.long())


class ValueHead(nn.Module):
    """Value classifier of labeled arguments: dropout then Linear 2H -> values on `[h_i; h_j]`.

    The classes are every labeled argument type's values together (`ValueVocabulary`); the
    caller keeps those the predicted type allows.
    """

    def __init__(self, hidden: int, n_values: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * hidden, n_values)

    def forward(self, hidden_states: Tensor, spans: Tensor) -> Tensor:
        """Value logits `[P, n_values]` of the `[P, 3]` (example, first, last) spans."""
        return self.classifier(self.dropout(span_states(hidden_states, spans.long())))

    @staticmethod
    def loss(logits: Tensor, labels: Tensor) -> Tensor:
        """Mean cross-entropy over the gold spans (0 when there are none)."""
        total = F.cross_entropy(logits, labels.long(), reduction="sum")
        return total / max(len(labels), 1)
