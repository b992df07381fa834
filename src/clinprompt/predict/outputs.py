"""A trained model run over batches of example rows, without gold: span head outputs and their
decoded spans (MRC rows), value head probabilities and pair logits (`finetune` pair rows).

Shared by prediction (`clinprompt.predict.predictor`) and the choice of decision thresholds on
dev (`clinprompt.predict.thresholds`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import pandas as pd
import torch
from torch import Tensor

from clinprompt.examples.windows import word_boundary_masks
from clinprompt.model.extraction import ExtractionModel, autocast
from clinprompt.model.heads import SpanOutputs
from clinprompt.predict.decode import SpanThresholds, decode_spans
from clinprompt.train.batching import bucketed_batches, collate, to_device


def row_batches(
    model: ExtractionModel, frame: pd.DataFrame, batch_size: int, pad_id: int
) -> Iterator[tuple[pd.DataFrame, dict]]:
    """Batches of `frame` in bucketed order: the rows and their collated tensors on the
    model's device."""
    device = next(model.parameters()).device
    for kind, rows in bucketed_batches(frame, batch_size, seed=None):
        yield frame.iloc[rows], to_device(collate(frame, kind, rows, pad_id), device)


def span_outputs(
    model: ExtractionModel,
    frame: pd.DataFrame,
    texts: dict[str, str],
    batch_size: int,
    pad_id: int,
    threshold: float = 0.0,
) -> Iterator[tuple[pd.DataFrame, SpanOutputs, Tensor, Tensor]]:
    """Per batch of MRC rows: the rows, the span head's outputs (candidates above
    `threshold`) and the word-start and word-end masks of its tokens."""
    device = next(model.parameters()).device
    for part, batch in row_batches(model, frame, batch_size, pad_id):
        with autocast(device):
            out = model.forward_spans(batch, threshold=threshold)
        length = batch["input_ids"].shape[1]
        starts = torch.zeros(len(part), length, dtype=torch.bool)
        ends = torch.zeros_like(starts)
        for b, row in enumerate(part.itertuples()):
            s, e = word_boundary_masks(texts[row.document], row.token_starts, row.token_ends)
            starts[b, : len(s)] = torch.as_tensor(s)
            ends[b, : len(e)] = torch.as_tensor(e)
        yield part, out, starts, ends


def decode_outputs(
    out: SpanOutputs,
    starts: Tensor,
    ends: Tensor,
    width: int,
    thresholds: SpanThresholds,
    counts: Counter[str] | None = None,
) -> list[list[tuple[int, int, float]]]:
    """`decode_spans` of one batch of `span_outputs` under `thresholds`."""
    return decode_spans(
        out.start_logits,
        out.end_logits,
        out.pairs,
        out.match_logits,
        out.context_mask,
        starts,
        ends,
        width,
        start_threshold=thresholds.start,
        end_threshold=thresholds.end,
        match_threshold=thresholds.match,
        counts=counts,
    )


def value_probabilities(
    model: ExtractionModel, hidden_states: Tensor, spans: list[list[tuple]]
) -> list[Sequence[Tensor | None]]:
    """Per row of a batch, the value head's probabilities (one `[values]` vector per span) of
    its token spans `(i, j, ...)`; None for each span when the model has no value head."""
    if model.value_head is None:
        return [[None] * len(found) for found in spans]
    rows = [(b, i, j) for b, found in enumerate(spans) for i, j, *_ in found]
    index = torch.tensor(rows, dtype=torch.long, device=hidden_states.device).reshape(-1, 3)
    with autocast(hidden_states.device):
        logits = model.forward_values(hidden_states, index)
    return list(logits.float().softmax(-1).cpu().split([len(found) for found in spans]))


def span_predictions(
    model: ExtractionModel,
    frame: pd.DataFrame,
    texts: dict[str, str],
    batch_size: int,
    pad_id: int,
    counts: Counter[str],
    thresholds: SpanThresholds,
) -> Iterator[tuple[pd.Series, list[tuple[int, int, float]], Sequence[Tensor | None]]]:
    """(row, accepted token spans, their value probabilities) for every MRC row; `counts` adds
    the bridges dropped and the rows asked and answered per task."""
    width = model.settings.max_span_width
    outputs = span_outputs(model, frame, texts, batch_size, pad_id, thresholds.candidates)
    for part, out, starts, ends in outputs:
        spans = decode_outputs(out, starts, ends, width, thresholds, counts)
        values = value_probabilities(model, out.hidden_states, spans)
        for (_, row), found, found_values in zip(part.iterrows(), spans, values, strict=True):
            counts[f"{row.task}_rows"] += 1
            counts[f"{row.task}_rows_answered"] += bool(found)
            yield row, found, found_values


def pair_logits(
    model: ExtractionModel, frame: pd.DataFrame, batch_size: int, pad_id: int
) -> Iterator[tuple[pd.DataFrame, Tensor]]:
    """Per batch of pair rows: the rows and their label logits on the CPU (0 = no relation,
    -inf for the labels the arguments' types do not allow)."""
    device = next(model.parameters()).device
    for part, batch in row_batches(model, frame, batch_size, pad_id):
        with autocast(device):
            logits = model.forward_pairs(batch)
        yield part, logits.float().cpu()
