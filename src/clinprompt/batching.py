"""Batches: example rows in, padded tensors out, in a seeded length-bucketed order.

In: an example table (`examples`). Out: lists of row indices grouped by kind (span, bio,
pair) and by similar length — rows are shuffled with the seed, cut into pools of
`pool` batches, sorted by length inside a pool and cut into batches, whose order is
shuffled again — so padding stays small and the order depends only on the seed and epoch.
`collate` pads a batch to its longest row (dynamic padding) and builds the tensors the
model and heads take.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from clinprompt.heads import SpanGold

POOL_BATCHES = 50


def row_kind(query_type: str) -> str:
    """`bio` and `pair` rows belong to the fine-tuning heads; every other row is MRC."""
    return {"BIO": "bio", "pair": "pair"}.get(query_type, "span")


def bucketed_batches(
    frame: pd.DataFrame, batch_size: int, seed: int | None, pool: int = POOL_BATCHES
) -> list[tuple[str, list[int]]]:
    """(kind, row positions) per batch; `seed=None` keeps file order sorted by length."""
    lengths = frame["input_ids"].map(len).to_numpy()
    kinds = frame["query_type"].map(row_kind).to_numpy()
    rng = random.Random(seed)
    batches: list[tuple[str, list[int]]] = []
    for kind in ("span", "bio", "pair"):
        rows = [int(i) for i in np.flatnonzero(kinds == kind)]
        if seed is not None:
            rng.shuffle(rows)
        step = batch_size * pool
        for start in range(0, len(rows), step):
            chunk = sorted(rows[start : start + step], key=lambda i: lengths[i])
            batches.extend(
                (kind, chunk[i : i + batch_size]) for i in range(0, len(chunk), batch_size)
            )
    if seed is not None:
        rng.shuffle(batches)
    return batches


def padding_waste(frame: pd.DataFrame, batches: Sequence[tuple[str, list[int]]]) -> float:
    """Padded positions per real token over the batches."""
    lengths = frame["input_ids"].map(len).to_numpy()
    real = sum(int(lengths[rows].sum()) for _, rows in batches)
    padded = sum(int(lengths[rows].max()) * len(rows) for _, rows in batches)
    return (padded - real) / max(real, 1)


def _pad(values: Sequence[Sequence[int]], width: int, fill: int, dtype=torch.long) -> Tensor:
    out = torch.full((len(values), width), fill, dtype=dtype)
    for i, row in enumerate(values):
        out[i, : len(row)] = torch.tensor(np.asarray(row), dtype=dtype)
    return out


def collate(frame: pd.DataFrame, kind: str, rows: list[int], pad_id: int) -> dict:
    """Tensors of one batch: inputs, masks and the gold of its kind where present."""
    part = frame.iloc[rows]
    ids = part["input_ids"].tolist()
    width = max(len(r) for r in ids)
    starts = _pad(part["token_starts"].tolist(), width, -1)
    batch: dict = {
        "kind": kind,
        "input_ids": _pad(ids, width, pad_id),
        "token_type_ids": _pad(part["token_type_ids"].tolist(), width, 0),
        "context_mask": starts >= 0,
        "token_starts": starts,
        "token_ends": _pad(part["token_ends"].tolist(), width, -1),
        "prompt_index": torch.tensor(part["prompt_index"].fillna(0).astype(int).to_numpy()),
    }
    lengths = torch.as_tensor([len(r) for r in ids])
    if int(lengths.min()) < width:
        batch["attention_mask"] = torch.arange(width)[None] < lengths[:, None]
    if kind == "pair":
        batch["marker_positions"] = _pad(part["marker_positions"].tolist(), 4, 0)
        if part["label"].notna().all():
            batch["label"] = torch.tensor(part["label"].astype(int).to_numpy())
    elif kind == "bio" and part["labels"].notna().all():
        batch["labels"] = _pad(part["labels"].tolist(), width, -100)
    elif kind == "span" and part["answer_starts"].notna().all():
        batch["span_gold"] = SpanGold.from_answers(
            [list(a) for a in part["answer_starts"]], [list(a) for a in part["answer_ends"]], width
        )
    return batch


def to_device(batch: dict, device: torch.device) -> dict:
    """The batch with every tensor (and the span gold) on `device`."""
    moved = {}
    for key, value in batch.items():
        if isinstance(value, (Tensor, SpanGold)):
            value = value.to(device)
        moved[key] = value
    return moved
