"""Batches: example rows in, padded tensors out, in a seeded length-bucketed order.

In: an example table (`examples`). Out: lists of row indices grouped by kind (span, bio,
pair) and by similar length — rows are shuffled with the seed, cut into pools of
`pool` batches, sorted by length inside a pool and cut into batches, whose order is
shuffled again — so padding stays small and the order depends only on the seed and epoch.
A seeded (training) epoch gives every kind present the same number of batches: that of the
kind with the most, the others upsampled by further passes over their rows (each pass a fresh
shuffle, the last pass cut to a seeded subset of its batches), so every row is seen every
epoch and `finetune`'s tagger (one BIO row per window) takes as many optimiser steps as its
pair classifier (one row per candidate pair). The batch count depends only on the row counts.
MRC tables hold one kind (span) and are unchanged. `seed=None` (prediction) yields every row
once. `collate` pads a batch to its longest row (dynamic padding) and builds the tensors the
model and heads take, the value head's targets (`value_gold`) included where the rows hold them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from clinprompt.model.heads import SpanGold

POOL_BATCHES = 50
KINDS = ("span", "bio", "pair")


def row_kind(query_type: str) -> str:
    """`bio` and `pair` rows belong to the fine-tuning heads; every other row is MRC."""
    return {"BIO": "bio", "pair": "pair"}.get(query_type, "span")


def _pass(
    rows: list[int], lengths: np.ndarray, batch_size: int, pool: int, rng: random.Random | None
) -> list[list[int]]:
    """One pass over `rows`: shuffled (unless `rng` is None), pooled, sorted, cut."""
    if rng is not None:
        rows = list(rows)
        rng.shuffle(rows)
    batches = []
    step = batch_size * pool
    for start in range(0, len(rows), step):
        chunk = sorted(rows[start : start + step], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return batches


def _n_batches(rows: int, batch_size: int, pool: int) -> int:
    """Batches of one pass over `rows` rows."""
    step = batch_size * pool
    full, rest = divmod(rows, step)
    return full * pool + math.ceil(rest / batch_size)


def bucketed_batches(
    frame: pd.DataFrame, batch_size: int, seed: int | None, pool: int = POOL_BATCHES
) -> list[tuple[str, list[int]]]:
    """(kind, row positions) per batch; every kind as many batches as the largest when seeded,
    `seed=None` keeps file order sorted by length, each row once."""
    lengths = frame["input_ids"].map(len).to_numpy()
    kinds = frame["query_type"].map(row_kind).to_numpy()
    rows_of = {kind: [int(i) for i in np.flatnonzero(kinds == kind)] for kind in KINDS}
    if seed is None:
        return [
            (kind, rows)
            for kind in KINDS
            for rows in _pass(rows_of[kind], lengths, batch_size, pool, None)
        ]
    rng = random.Random(seed)
    target = max(_n_batches(len(rows), batch_size, pool) for rows in rows_of.values())
    batches: list[tuple[str, list[int]]] = []
    for kind, rows in rows_of.items():
        own: list[list[int]] = []
        while rows and len(own) < target:
            one_pass = _pass(rows, lengths, batch_size, pool, rng)
            if len(own) + len(one_pass) > target:
                one_pass = rng.sample(one_pass, target - len(own))
            own += one_pass
        batches += [(kind, batch) for batch in own]
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
        batch["labels_allowed"] = torch.tensor(np.stack(part["labels_allowed"].tolist()))
        if part["label"].notna().all():
            batch["label"] = torch.tensor(part["label"].astype(int).to_numpy())
    elif kind == "bio" and part["labels"].notna().all():
        batch["labels"] = _pad(part["labels"].tolist(), width, -100)
    elif kind == "span" and part["answer_starts"].notna().all():
        batch["span_gold"] = SpanGold.from_answers(
            [list(a) for a in part["answer_starts"]], [list(a) for a in part["answer_ends"]], width
        )
    # Tables built without the value columns (benchmarks) or null in them have no value gold.
    if kind != "pair" and "value_starts" in part and part["value_starts"].notna().all():
        batch["value_gold"] = value_gold(part)
    return batch


def value_gold(part: pd.DataFrame) -> Tensor:
    """Value head targets `[V, 4]`: (example, first, last, value id) of every gold span of a
    labeled argument type in the rows' `value_starts`/`value_ends`/`value_labels`."""
    columns = zip(part["value_starts"], part["value_ends"], part["value_labels"], strict=True)
    rows = [
        (b, int(i), int(j), int(v))
        for b, (starts, ends, labels) in enumerate(columns)
        for i, j, v in zip(starts, ends, labels, strict=True)
    ]
    return torch.tensor(rows, dtype=torch.long).reshape(-1, 4)


def to_device(batch: dict, device: torch.device) -> dict:
    """The batch with every tensor (and the span gold) on `device`."""
    moved = {}
    for key, value in batch.items():
        if isinstance(value, (Tensor, SpanGold)):
            value = value.to(device)
        moved[key] = value
    return moved
