"""Decoding: from head logits to character spans and BRAT entities of a document.

In: the logits of a batch (`SpanHead` outputs, or BIO label ids from `TagHead`), the tokens'
character offsets in the document (`token_starts`/`token_ends`, -1 for query, special and
marker tokens) and the document text. Out: token spans `(i, j, score)` (end inclusive), their
character spans, BRAT fragments (split at line breaks, edges trimmed, since a BRAT fragment
cannot hold a newline) and `Entity` objects. A word is a maximal run of tokens each of whose
inner edges falls inside a run of alphanumeric characters of the text (so "##ing" of
"walking" continues "walk"); every decoded span starts at the start of a word and ends at the
end of one. MRC decoding keeps every candidate pair with start, end and match logits above
their thresholds (default 0), so one query may yield several and nested answers, then drops
bridges: an accepted span holding two accepted spans that do not overlap each other (two
adjacent mentions swallowed by a weak match head); a span holding one is kept (nesting).
BIO decoding tags words: each word takes the label of its first token, strict IOB2 runs over
words, and a mention ending in a word cut by the row's edge is dropped. Predictions from
overlapping windows are merged: one entity per (type, character span), with the best score.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from seqeval.scheme import IOB2, Entities
from torch import Tensor

from clinprompt.corpus.brat import Entity
from clinprompt.examples.windows import word_boundary_masks

MAX_ANSWERS = 16  # spans one query may answer; a window holds far fewer mentions of a type
LINE = re.compile(r"[^\r\n]+")


@dataclass(frozen=True)
class SpanPrediction:
    """A predicted mention: type, character span in the document (end exclusive), score."""

    type: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class SpanThresholds:
    """Logit thresholds of MRC decoding: start, end and match must each exceed theirs.

    0 everywhere is the study's rule (probability > 0.5); `thresholds.choose_thresholds`
    picks them on dev, per task, since training rows keep fewer unanswered queries than test.
    """

    start: float = 0.0
    end: float = 0.0
    match: float = 0.0

    @property
    def candidates(self) -> float:
        """The start/end logit above which a token is a span candidate."""
        return min(self.start, self.end)


def _cpu(values: Tensor | np.ndarray) -> Tensor:
    """A detached CPU tensor of `values`, floating point promoted to float32."""
    tensor = torch.as_tensor(values).detach().cpu()
    return tensor.float() if tensor.is_floating_point() else tensor


def _shifted(values: Tensor, fill: Tensor) -> Tensor:
    """`values[:, a + 1]` at column a, `fill` past the last column."""
    return torch.cat([values[:, 1:], fill.expand(values.shape[0], 1)], dim=1)


def _bridges(example: Tensor, first: Tensor, last: Tensor, batch_size: int) -> Tensor:
    """Which of the accepted spans `(example, first, last)` hold two accepted spans of their
    example that do not overlap each other.

    Over widths d = 0, 1, ...: `min_end[b, a]` is the smallest end and `max_start[b, a]` the
    largest start of the accepted spans inside tokens a..a+d; the spans inside (a, a+d) other
    than itself are those inside (a+1, a+d) or (a, a+d-1), and two of them are disjoint
    exactly when the largest start among them exceeds the smallest end.
    """
    if len(first) == 0:
        return torch.zeros(0, dtype=torch.bool)
    width, length = int((last - first).max()) + 1, int(last.max()) + 1
    accepted = torch.zeros(batch_size, length, width, dtype=torch.bool)
    accepted[example, first, last - first] = True
    bridge = torch.zeros_like(accepted)
    position = torch.arange(length)
    no_end, no_start = torch.tensor(length), torch.tensor(-1)
    min_end = torch.where(accepted[:, :, 0], position, no_end)
    max_start = torch.where(accepted[:, :, 0], position, no_start)
    for d in range(1, width):
        inner_end = torch.minimum(min_end, _shifted(min_end, no_end))
        inner_start = torch.maximum(max_start, _shifted(max_start, no_start))
        bridge[:, :, d] = accepted[:, :, d] & (inner_start > inner_end)
        min_end = torch.minimum(inner_end, torch.where(accepted[:, :, d], position + d, no_end))
        max_start = torch.maximum(inner_start, torch.where(accepted[:, :, d], position, no_start))
    return bridge[example, first, last - first]


def decode_spans(
    start_logits: Tensor,
    end_logits: Tensor,
    pairs: Tensor,
    match_logits: Tensor,
    context_mask: Tensor | np.ndarray,
    word_start_mask: Tensor | np.ndarray,
    word_end_mask: Tensor | np.ndarray,
    max_span_width: int,
    *,
    start_threshold: float = 0.0,
    end_threshold: float = 0.0,
    match_threshold: float = 0.0,
    counts: Counter[str] | None = None,
) -> list[list[tuple[int, int, float]]]:
    """Per example of the batch, every accepted span `(i, j, score)` sorted by position.

    A candidate pair `(b, i, j)` is accepted when its start, end and match logits exceed
    their thresholds, both tokens are in the context, i starts a word, j ends one and
    0 <= j - i < width; an accepted span holding two disjoint accepted spans of the same
    example (a bridge) is then dropped and added to `counts["spans_dropped"]`. At most
    `MAX_ANSWERS` spans per example are kept, the best-scored (the rest counted as
    `spans_over_cap`): a model that marks every token, untrained or under a threshold chosen
    for a random model, cannot turn one query into hundreds of answers and triggers.
    The score is sigmoid(start) * sigmoid(end) * sigmoid(match).
    """
    start_logits, end_logits, match_logits = map(_cpu, (start_logits, end_logits, match_logits))
    masks = (context_mask, word_start_mask, word_end_mask)
    context, word_start, word_end = (_cpu(mask).bool() for mask in masks)
    pairs = _cpu(pairs).long()
    b, i, j = pairs.unbind(1)
    starts, ends = start_logits[b, i], end_logits[b, j]
    keep = (starts > start_threshold) & (ends > end_threshold) & (match_logits > match_threshold)
    keep &= (j >= i) & (j - i < max_span_width)
    keep &= context[b, i] & context[b, j] & word_start[b, i] & word_end[b, j]
    scores = torch.sigmoid(starts) * torch.sigmoid(ends) * torch.sigmoid(match_logits)
    bridges = _bridges(b[keep], i[keep], j[keep], start_logits.shape[0])
    if counts is not None:
        counts["spans_dropped"] += int(bridges.sum())
    spans: list[list[tuple[int, int, float]]] = [[] for _ in range(start_logits.shape[0])]
    accepted = zip(pairs[keep][~bridges].tolist(), scores[keep][~bridges].tolist(), strict=True)
    for (example, first, last), score in accepted:
        spans[example].append((first, last, score))
    over = sum(max(0, len(found) - MAX_ANSWERS) for found in spans)
    if counts is not None and over:
        counts["spans_over_cap"] += over
    return [sorted(sorted(found, key=lambda s: -s[2])[:MAX_ANSWERS]) for found in spans]


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
    label_ids: Sequence[int],
    id2label: Mapping[int, str] | Sequence[str],
    counts: Counter[str] | None = None,
) -> list[tuple[int, int, str]]:
    """Token spans `(i, j, type)` (end inclusive) of an IOB2 label sequence, read by seqeval's
    strict IOB2 scheme (`mode="strict", scheme=IOB2`; its default conlleval mode would make a
    chunk of `O I-Drug`).

    `B-X` opens a mention of type X; `I-X` extends it only when the open mention has type X;
    any other `I-` (after `O`, at the start, or after another type) opens nothing and is
    dropped, and it closes the open mention; `counts["bio_broken_tags"]` adds those. Negative
    ids (-100) count as `O`.
    """
    tags = ["O" if label_id < 0 else id2label[int(label_id)] for label_id in label_ids]
    chunks = Entities([tags], IOB2).entities[0]
    if counts is not None:
        inside = sum(chunk.end - chunk.start - 1 for chunk in chunks)
        counts["bio_broken_tags"] += sum(tag.startswith("I-") for tag in tags) - inside
    return [(chunk.start, chunk.end - 1, chunk.tag) for chunk in chunks]


def bio_decode_words(
    label_ids: Sequence[int],
    text: str,
    token_starts: Sequence[int],
    token_ends: Sequence[int],
    id2label: Mapping[int, str] | Sequence[str],
    counts: Counter[str] | None = None,
) -> list[tuple[int, int, str]]:
    """Token spans `(i, j, type)` (end inclusive) of IOB2 labels read per word (broken tags
    counted per word into `counts`, as by `bio_decode`).

    A word is a context token that starts a word of `text` and the continuation tokens after
    it; it takes its first token's label, so a tag on a continuation token is never read.
    A partial word at the row's start (its first token lies before the row) counts as `O`,
    and a mention whose last word runs past the row's end is dropped: every span starts at a
    word's start and ends at a word's end, as in MRC decoding.
    """
    word_start, word_end = word_boundary_masks(text, token_starts, token_ends)
    words: list[list[int]] = []  # [first token, last token] per word, other tokens alone
    labels: list[int] = []
    for k, label_id in enumerate(label_ids):
        continues = k > 0 and token_starts[k] >= 0 and token_starts[k - 1] >= 0
        if continues and not word_start[k] and not word_end[k - 1]:
            words[-1][1] = k
            continue
        words.append([k, k])
        labels.append(int(label_id) if word_start[k] else -1)
    return [
        (words[first][0], words[last][1], kind)
        for first, last, kind in bio_decode(labels, id2label, counts)
        if word_end[words[last][1]]
    ]


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
