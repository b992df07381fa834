"""Batches: per-task balance of a training epoch, seeded order, every row at prediction."""

from __future__ import annotations

import random
from collections import Counter

import pandas as pd

from clinprompt.train.batching import bucketed_batches


def table(kinds: dict[str, int], seed: int = 0) -> pd.DataFrame:
    """Rows of the given query types (BIO, pair or a concept type) with random lengths."""
    rng = random.Random(seed)
    query_types = [name for name, count in kinds.items() for _ in range(count)]
    lengths = [rng.randint(3, 60) for _ in query_types]
    return pd.DataFrame({"input_ids": [[1] * n for n in lengths], "query_type": query_types})


def kinds_of(batches) -> Counter:
    return Counter(kind for kind, _ in batches)


def test_finetune_tagger_and_pair_classifier_get_the_same_batches_per_epoch():
    frame = table({"BIO": 30, "pair": 300})  # one BIO row per window, one pair row per pair
    for epoch_seed in (0, 1, 7):
        batches = bucketed_batches(frame, batch_size=4, seed=epoch_seed, pool=5)
        assert kinds_of(batches) == {"bio": 75, "pair": 75}
        seen = Counter(row for _, rows in batches for row in rows)
        assert all(seen[row] == 1 for row in range(30, 330))  # the largest task: once
        assert {seen[row] for row in range(30)} <= {9, 10, 11}  # upsampled, every row seen
        assert all(len(rows) <= 4 for _, rows in batches)
        assert all(all(frame.query_type[r] == "BIO" for r in rows) == (kind == "bio")
                   for kind, rows in batches)  # fmt: skip


def test_batch_list_depends_only_on_the_seed_and_its_length_on_the_row_counts():
    frame = table({"BIO": 13, "pair": 101})
    first = bucketed_batches(frame, 4, seed=5, pool=3)
    assert bucketed_batches(frame, 4, seed=5, pool=3) == first  # resume rebuilds the epoch
    other = bucketed_batches(frame, 4, seed=6, pool=3)
    assert other != first and len(other) == len(first)  # the scheduler length holds


def test_a_single_task_epoch_and_prediction_see_every_row_once():
    mrc = table({"Drug": 40, "Strength": 25})
    for seed in (None, 3):
        batches = bucketed_batches(mrc, 8, seed=seed, pool=2)
        assert sorted(r for _, rows in batches for r in rows) == list(range(65))
    finetune = table({"BIO": 5, "pair": 50})
    batches = bucketed_batches(finetune, 8, seed=None)
    assert sorted(r for _, rows in batches for r in rows) == list(range(55))
    assert kinds_of(batches) == {"bio": 1, "pair": 7}
