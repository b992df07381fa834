"""Decoding: from head logits to character spans and BRAT entities of a document.

In: the logits of a batch (`SpanHead` outputs, or BIO label ids from `TagHead`), the tokens'
character offsets in the document (`token_starts`/`token_ends`, -1 for query, special and
marker tokens) and the document text. Out: token spans `(i, j, score)` (end inclusive), their
character spans, BRAT fragments (split at line breaks, edges trimmed, since a BRAT fragment
cannot hold a newline) and `Entity` objects. MRC decoding keeps every candidate pair with
start, end and match logits all > 0, so one query may yield several and nested answers; a
span must start at the start of a word and end at the end of one, where a word boundary is a
token edge not inside a run of alphanumeric characters of the text (so "##ing" of "walking"
can neither start nor end a span). BIO decoding follows strict IOB2. Predictions from
overlapping windows are merged: one entity per (type, character span), with the best score.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from clinprompt.brat import Entity

LINE = re.compile(r"[^\r\n]+")


@dataclass(frozen=True)
class SpanPrediction:
    """A predicted mention: type, character span in the document (end exclusive), score."""

    type: str
    start: int
    end: int
    score: float


def _inside_word(text: str, boundary: int) -> bool:
    """Whether character offset `boundary` falls between two alphanumeric characters."""
    return 0 < boundary < len(text) and text[boundary - 1].isalnum() and text[boundary].isalnum()


def word_boundary_masks(
    text: str, token_starts: Sequence[int], token_ends: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the tokens that may start and end a span (context tokens only)."""
    starts = np.array([s >= 0 and not _inside_word(text, s) for s in token_starts], dtype=bool)
    ends = np.array([e >= 0 and not _inside_word(text, e) for e in token_ends], dtype=bool)
    return starts, ends


def _cpu(values: Tensor | np.ndarray) -> Tensor:
    """A detached CPU tensor of `values`, floating point promoted to float32."""
    tensor = torch.as_tensor(values).detach().cpu()
    return tensor.float() if tensor.is_floating_point() else tensor


def decode_spans(
    start_logits: Tensor,
    end_logits: Tensor,
    pairs: Tensor,
    match_logits: Tensor,
    context_mask: Tensor | np.ndarray,
    word_start_mask: Tensor | np.ndarray,
    word_end_mask: Tensor | np.ndarray,
    max_span_width: int,
) -> list[list[tuple[int, int, float]]]:
    """Per example of the batch, every accepted span `(i, j, score)` sorted by position.

    A candidate pair `(b, i, j)` is accepted when start, end and match logits are all > 0,
    both tokens are in the context, i starts a word, j ends one and 0 <= j - i < width.
    The score is sigmoid(start) * sigmoid(end) * sigmoid(match).
    """
    start_logits, end_logits, match_logits = map(_cpu, (start_logits, end_logits, match_logits))
    masks = (context_mask, word_start_mask, word_end_mask)
    context, word_start, word_end = (_cpu(mask).bool() for mask in masks)
    pairs = _cpu(pairs).long()
    b, i, j = pairs.unbind(1)
    starts, ends = start_logits[b, i], end_logits[b, j]
    keep = (starts > 0) & (ends > 0) & (match_logits > 0) & (j >= i) & (j - i < max_span_width)
    keep &= context[b, i] & context[b, j] & word_start[b, i] & word_end[b, j]
    scores = torch.sigmoid(starts) * torch.sigmoid(ends) * torch.sigmoid(match_logits)
    spans: list[list[tuple[int, int, float]]] = [[] for _ in range(start_logits.shape[0])]
    accepted = zip(pairs[keep].tolist(), scores[keep].tolist(), strict=True)
    for (example, first, last), score in accepted:
        spans[example].append((first, last, score))
    return [sorted(found) for found in spans]


def token_span_to_chars(
    i: int, j: int, token_starts: Sequence[int], token_ends: Sequence[int]
) -> tuple[int, int]:
    """Character span (end exclusive) from token i's start to token j's end."""
    start, end = int(token_starts[i]), int(token_ends[j])
    if start < 0 or end < 0 or end <= start:
        raise ValueError(f"tokens {i}..{j} do not cover document text ({start}, {end})")
    return start, end


def char_span_to_fragments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """BRAT fragments of `text[start:end]`: split at line breaks, whitespace trimmed, none empty."""
    fragments = []
    for line in LINE.finditer(text, start, end):
        piece = line.group()
        left = len(piece) - len(piece.lstrip())
        right = len(piece.rstrip())
        if right > left:
            fragments.append((line.start() + left, line.start() + right))
    return fragments


def bio_decode(
    label_ids: Sequence[int], id2label: Mapping[int, str] | Sequence[str]
) -> list[tuple[int, int, str]]:
    """Token spans `(i, j, type)` (end inclusive) of an IOB2 label sequence.

    Strict IOB2: `B-X` opens a mention of type X; `I-X` extends it only when the open mention
    has type X; any other `I-` (after `O`, at the start, or after another type) opens nothing
    and is dropped, and it closes the open mention. Negative ids (-100) count as `O`.
    """
    spans: list[tuple[int, int, str]] = []
    open_type: str | None = None
    open_start = 0
    for index, label_id in enumerate(label_ids):
        label = "O" if label_id < 0 else id2label[int(label_id)]
        prefix, _, kind = label.partition("-")
        if prefix == "I" and kind == open_type:
            continue
        if open_type is not None:
            spans.append((open_start, index - 1, open_type))
        open_type, open_start = (kind, index) if prefix == "B" else (None, index)
    if open_type is not None:
        spans.append((open_start, len(label_ids) - 1, open_type))
    return spans


def merge_duplicates(predictions: Iterable[SpanPrediction]) -> list[SpanPrediction]:
    """One prediction per (type, start, end), keeping the highest score; sorted by span."""
    best: dict[tuple[str, int, int], SpanPrediction] = {}
    for prediction in predictions:
        key = (prediction.type, prediction.start, prediction.end)
        if key not in best or prediction.score > best[key].score:
            best[key] = prediction
    return sorted(best.values(), key=lambda p: (p.start, p.end, p.type))


def predictions_to_entities(
    text: str, predictions: Iterable[SpanPrediction], first_id: int = 1
) -> list[Entity]:
    """BRAT entities `T<n>` for merged predictions; a span of only whitespace is skipped."""
    entities = []
    for prediction in merge_duplicates(predictions):
        fragments = char_span_to_fragments(text, prediction.start, prediction.end)
        if fragments:
            entity_id = f"T{first_id + len(entities)}"
            entities.append(Entity.from_offsets(entity_id, prediction.type, fragments, text))
    return entities
