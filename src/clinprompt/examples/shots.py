"""Few-shot draws: the training documents of a cell, the same for every strategy and model of a
seed."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pandas as pd

from clinprompt.corpus.tables import pooled_institutions
from clinprompt.errors import ConfigError

# --------------------------------------------------------------------------- few-shot draws


def draw_shots(
    documents: pd.DataFrame, shots: int | str, seed: int, train_institution: str | Sequence[str]
) -> list[str]:
    """Sorted keys of the training documents of a few-shot cell.

    `all` takes every training document of the institution(s); `k` shuffles the sorted keys
    with `random.Random(seed)` and takes the first k, so the draw depends only on the seed
    and the training set (the same for every strategy and model), and a larger k extends a
    smaller one. A pooled institution (`MIMIC+UW`, or a list) draws k from each of its
    institutions, each exactly as a cell trained there alone would.
    """
    if isinstance(train_institution, str):
        institutions = pooled_institutions(train_institution)
    else:
        institutions = list(train_institution)
    if shots != "all" and (isinstance(shots, bool) or not isinstance(shots, int) or shots < 1):
        raise ConfigError(f"shots must be a whole number >= 1 or 'all', got {shots!r}")
    drawn: list[str] = []
    for institution in institutions:
        train = documents[
            (documents["split"] == "train") & (documents["institution"] == institution)
        ]
        keys = sorted(train["document"])
        if not keys:
            raise ConfigError(f"no training documents from institution {institution}")
        if shots == "all":
            drawn.extend(keys)
            continue
        if shots > len(keys):
            raise ConfigError(
                f"shots: {shots} exceeds the {len(keys)} training documents of {institution}"
            )
        random.Random(seed).shuffle(keys)
        drawn.extend(keys[:shots])
    return sorted(drawn)
