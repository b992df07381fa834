"""Significance over seeds and documents: the pooled interval and the paired bootstrap.

A table cell shows the mean ± sample sd of micro F1 over the seeds. Its 95% interval and
p-value come from one document-level bootstrap per (dataset, test institution), shared by every
system tested there: in each resample a system's F1 is the mean over its seeds of the resampled
micro F1 (documents drawn once, seeds averaged inside the resample), so the interval is that of
the seed-mean F1 and the test is paired on documents. Each strategy is compared with `finetune`
of the same dataset, model, shots, training and test institution, task and mode; the p-value is
the shifted two-sided one of `clinprompt.score.bootstrap`; p < 0.05 counts as a difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from clinprompt.errors import InvalidInputError
from clinprompt.report.tidy import SYSTEM_KEYS, CellScores, seed_statistics, tidy_frame
from clinprompt.score.bootstrap import (
    DEFAULT_RESAMPLES,
    percentile_interval,
    resample_weights,
    resampled_scores,
)
from clinprompt.score.n2c2 import CountTable, prf

REFERENCE = "finetune"
ALPHA = 0.05


def _systems(scores: Sequence[CellScores]) -> dict[tuple, list[np.ndarray]]:
    """Per-document counts of each system (seeds listed), after checking the documents."""
    digests: dict[tuple[str, str], tuple[str, Path]] = {}
    systems: dict[tuple, list[np.ndarray]] = {}
    for item in scores:
        digest, counts = item.document_counts()
        where = (item.cell["dataset"], item.cell["test_institution"])
        first = digests.setdefault(where, (digest, item.path))
        if first[0] != digest:
            raise InvalidInputError(f"{item.path}: scored on other documents than {first[1]}")
        for (task, mode), table in counts.items():
            key = (*(item.cell[c] for c in SYSTEM_KEYS[:-2]), task, mode)
            systems.setdefault(key, []).append(table)
    return systems


def _resampled_f1(seed_counts: list[np.ndarray], weights: np.ndarray) -> tuple[float, np.ndarray]:
    """Seed-mean micro F1 and seed-mean resampled micro F1 (resamples,)."""
    tables = [CountTable(("all",), counts[:, None, :]) for counts in seed_counts]
    observed = np.mean([prf(table.micro)[2] for table in tables])
    return float(observed), np.mean([resampled_scores(t, weights)[:, 2] for t in tables], axis=0)


def _p_value(observed: float, differences: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "no difference", as in `clinprompt.score.bootstrap`."""
    extreme = np.count_nonzero(np.abs(differences - observed) >= abs(observed))
    return (1 + extreme) / (len(differences) + 1)


def paired_bootstrap(
    scores: Sequence[CellScores], resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> pd.DataFrame:
    """Per system: the bootstrap interval of its seed-mean F1 and p against `finetune`."""
    weights: dict[tuple[str, str], np.ndarray] = {}  # one draw per (dataset, test institution)
    resampled = {}
    for key, seed_counts in _systems(scores).items():
        system = dict(zip(SYSTEM_KEYS, key, strict=True))
        where = (system["dataset"], system["test_institution"])
        if where not in weights:
            weights[where] = resample_weights(len(seed_counts[0]), resamples, seed)
        resampled[key] = _resampled_f1(seed_counts, weights[where])
    rows = []
    for key, (observed, draws) in resampled.items():
        low, high = percentile_interval(draws[:, None])[0]
        dataset, model, strategy, _length, *rest = key
        reference = resampled.get((dataset, model, REFERENCE, 0, *rest))
        p_value = np.nan
        if strategy != REFERENCE and reference is not None:
            p_value = _p_value(observed - reference[0], draws - reference[1])
        rows.append((*key, low, high, p_value))
    frame = pd.DataFrame(rows, columns=[*SYSTEM_KEYS, "ci_low", "ci_high", "p_value"])
    return frame.astype({"prompt_length": "int64", "shots": "str"})


def experiment_summary(
    scores: Sequence[CellScores], name: str, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> pd.DataFrame:
    """F1 mean, sd, seeds, pooled interval, p-value and its mark per system of an experiment."""
    chosen = [item for item in scores if name in item.experiments]
    if not chosen:
        return pd.DataFrame()
    stats = seed_statistics(tidy_frame(chosen))
    summary = stats.merge(paired_bootstrap(chosen, resamples, seed), on=list(SYSTEM_KEYS))
    summary["significant"] = summary["p_value"] < ALPHA
    return summary
