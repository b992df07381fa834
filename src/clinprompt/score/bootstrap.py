"""Document-level bootstrap: confidence intervals for micro scores, paired system comparison.

In: `CountTable`s (tp/fp/fn per document) of `clinprompt.score.n2c2` or `clinprompt.score.events`, a
number of resamples (default 1,000) and a seed. A resample draws the documents with replacement;
it is stored as how often each document was drawn, so its micro counts are a weighted sum of the
per-document count vectors and nothing is matched again. Out: tables with `ci` set, the
percentile interval (numpy's linear interpolation, default 95%) of micro precision, recall and
F1, which the JSON of `clinprompt evaluate` shows inside each `micro` block as
`"ci": {"precision": [lo, hi], "recall": [lo, hi], "f1": [lo, hi]}`; and `Comparison`s of two
systems scored on the same documents with the same resamples: d = micro F1(A) - micro F1(B), the
percentile interval of the resampled differences d_b, and the two-sided p-value
p = (1 + #{b : |d_b - d| >= |d|}) / (B + 1), which tests "no difference" by shifting the
bootstrap distribution of the difference to zero (Efron & Tibshirani 1993, section 16.4); the +1
keeps p above 0 with a finite number of resamples.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from clinprompt.errors import InvalidInputError
from clinprompt.score.n2c2 import MODES, TARGETS, CountTable, Evaluation, prf

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Comparison:
    """Micro F1 of systems A and B, their difference A - B with its interval, and a p-value."""

    f1_a: float
    f1_b: float
    difference: float
    ci: tuple[float, float]
    p_value: float


def resample_weights(
    documents: int, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> np.ndarray:
    """How often each document is drawn in each resample, shape (resamples, documents)."""
    if documents < 1 or resamples < 1:
        raise InvalidInputError(
            f"the bootstrap needs documents and resamples (got {documents} and {resamples})"
        )
    draws = np.random.default_rng(seed).integers(0, documents, size=(resamples, documents))
    flat = (draws + documents * np.arange(resamples)[:, None]).ravel()
    return np.bincount(flat, minlength=resamples * documents).reshape(resamples, documents)


def resampled_scores(table: CountTable, weights: np.ndarray) -> np.ndarray:
    """Micro precision, recall and F1 of every resample, shape (resamples, 3)."""
    if weights.shape[1] != len(table.counts):
        raise InvalidInputError(
            f"resamples cover {weights.shape[1]} documents, the table {len(table.counts)}"
        )
    return prf(weights @ table.per_document)


def percentile_interval(values: np.ndarray, confidence: float = DEFAULT_CONFIDENCE) -> np.ndarray:
    """[low, high] per column of `values`, shape (columns, 2)."""
    tail = (1 - confidence) / 2
    return np.quantile(values, [tail, 1 - tail], axis=0).T


def with_interval(
    table: CountTable, weights: np.ndarray, confidence: float = DEFAULT_CONFIDENCE
) -> CountTable:
    """The table with `ci` set from the resamples in `weights`."""
    return replace(table, ci=percentile_interval(resampled_scores(table, weights), confidence))


def with_intervals(
    evaluation: Evaluation, weights: np.ndarray, confidence: float = DEFAULT_CONFIDENCE
) -> Evaluation:
    """Every table of an evaluation with `ci` set, all from the same resamples."""
    tables = {key: with_interval(t, weights, confidence) for key, t in evaluation.tables.items()}
    return replace(evaluation, tables=tables)


def compare_tables(
    a: CountTable, b: CountTable, weights: np.ndarray, confidence: float = DEFAULT_CONFIDENCE
) -> Comparison:
    """Paired bootstrap of micro F1 on the same documents and resamples."""
    f1_a, f1_b = float(prf(a.micro)[2]), float(prf(b.micro)[2])
    observed = f1_a - f1_b
    differences = resampled_scores(a, weights)[:, 2] - resampled_scores(b, weights)[:, 2]
    extreme = np.count_nonzero(np.abs(differences - observed) >= abs(observed))
    low, high = percentile_interval(differences[:, None], confidence)[0]
    p_value = (1 + extreme) / (len(differences) + 1)
    return Comparison(f1_a, f1_b, observed, (float(low), float(high)), p_value)


def compare_evaluations(
    a: Evaluation, b: Evaluation, weights: np.ndarray, confidence: float = DEFAULT_CONFIDENCE
) -> dict[tuple[str, str], Comparison]:
    """Comparisons of entities and relations, strict and lenient, keyed by (target, mode)."""
    if a.doc_ids != b.doc_ids:
        raise InvalidInputError("the two systems were scored on different documents")
    return {
        key: compare_tables(a.tables[key], b.tables[key], weights, confidence) for key in a.tables
    }


def _comparison_json(comparison: Comparison) -> dict:
    return {
        "f1_a": comparison.f1_a,
        "f1_b": comparison.f1_b,
        "difference": comparison.difference,
        "ci": list(comparison.ci),
        "p_value": comparison.p_value,
    }


def comparisons_json(
    comparisons: dict[tuple[str, str], Comparison], documents: int, resamples: int, seed: int
) -> dict:
    """The comparison JSON: documents, resamples, seed, then target -> mode -> comparison."""
    report: dict = {"documents": documents, "resamples": resamples, "seed": seed}
    for target in TARGETS:
        report[target] = {mode: _comparison_json(comparisons[target, mode]) for mode in MODES}
    return report


def format_comparisons(comparisons: dict[tuple[str, str], Comparison]) -> str:
    """One line per (target, mode): F1 of A and B, A - B with its interval, p-value."""
    lines = [f"{'':20}  {'F1 A':8}{'F1 B':8}{'A - B':9}{'interval':21}p-value"]
    for (target, mode), c in comparisons.items():
        interval = f"[{c.ci[0]:+.4f}, {c.ci[1]:+.4f}]"
        lines.append(
            f"{f'{target} {mode}':>20}  {c.f1_a:<8.4f}{c.f1_b:<8.4f}{c.difference:<+9.4f}"
            f"{interval:21}{c.p_value:.4f}"
        )
    return "\n".join(lines) + "\n"
