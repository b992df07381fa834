"""Document-level bootstrap: resampling, intervals, paired comparison and its p-value."""

from __future__ import annotations

import numpy as np
import pytest

from clinprompt.errors import InvalidInputError
from clinprompt.score.bootstrap import (
    compare_evaluations,
    compare_tables,
    comparisons_json,
    format_comparisons,
    percentile_interval,
    resample_weights,
    resampled_scores,
    with_interval,
    with_intervals,
)
from clinprompt.score.n2c2 import CountTable, Evaluation, MicroScore, prf, to_json


def table(per_document: list[tuple[int, int, int]]) -> CountTable:
    """A one-row table from per-document (tp, fp, fn)."""
    return CountTable(("Drug",), np.array(per_document, dtype=np.int64)[:, None, :])


def evaluation(per_document: list[tuple[int, int, int]]) -> Evaluation:
    keys = [(t, m) for t in ("entities", "relations") for m in ("strict", "lenient")]
    ids = tuple(f"d{i}" for i in range(len(per_document)))
    return Evaluation(ids, {key: table(per_document) for key in keys})


def test_weights_count_draws_and_are_seeded():
    weights = resample_weights(7, resamples=50, seed=3)
    assert weights.shape == (50, 7)
    assert (weights.sum(axis=1) == 7).all() and (weights >= 0).all()
    assert np.array_equal(weights, resample_weights(7, resamples=50, seed=3))
    assert not np.array_equal(weights, resample_weights(7, resamples=50, seed=4))


def test_weights_need_documents_and_resamples():
    with pytest.raises(InvalidInputError):
        resample_weights(0, 10)
    with pytest.raises(InvalidInputError):
        resample_weights(5, 0)


def test_resampled_scores_are_weighted_count_sums():
    counts = table([(3, 1, 0), (0, 2, 4)])
    weights = np.array([[2, 0], [0, 2], [1, 1]])
    expected = prf(np.array([[6, 2, 0], [0, 4, 8], [3, 3, 4]]))
    assert np.array_equal(resampled_scores(counts, weights), expected)


def test_resamples_must_cover_the_documents():
    with pytest.raises(InvalidInputError, match="resamples cover 3 documents, the table 2"):
        resampled_scores(table([(1, 0, 0), (1, 0, 0)]), np.ones((4, 3), dtype=np.int64))


def test_percentile_interval_uses_the_tails():
    values = np.arange(101, dtype=float)[:, None]
    assert percentile_interval(values, 0.9).tolist() == [[pytest.approx(5.0), pytest.approx(95.0)]]


def test_identical_documents_give_a_point_interval():
    counts = table([(3, 1, 2)] * 10)
    ci = with_interval(counts, resample_weights(10, 200, seed=1)).ci
    p, r, f = prf(counts.micro)
    assert np.allclose(ci, [[p, p], [r, r], [f, f]])


def test_intervals_bracket_the_estimate_and_reach_the_json():
    rng = np.random.default_rng(0)
    per_document = [tuple(int(x) for x in rng.integers(0, 10, 3)) for _ in range(40)]
    scored = with_intervals(evaluation(per_document), resample_weights(40, 500, seed=0))
    report = to_json(scored)
    micro = report["entities"]["strict"]["micro"]
    for metric in ("precision", "recall", "f1"):
        low, high = micro["ci"][metric]
        assert 0.0 <= low <= micro[metric] <= high <= 1.0
    assert set(report["relations"]["lenient"]["micro"]["ci"]) == {"precision", "recall", "f1"}


def test_micro_score_reads_back_the_json_block_with_its_interval():
    per_document = [(i % 4, i % 3, i % 5) for i in range(30)]
    report = to_json(with_intervals(evaluation(per_document), resample_weights(30, 200, seed=2)))
    block = report["relations"]["lenient"]["micro"]
    score = MicroScore.read(report, "relations", "lenient")
    assert (score.precision, score.recall, score.f1) == (
        block["precision"],
        block["recall"],
        block["f1"],
    )
    assert (score.tp, score.fp, score.fn) == (
        sum(d[0] for d in per_document),
        sum(d[1] for d in per_document),
        sum(d[2] for d in per_document),
    )
    assert score.ci["f1"] == tuple(block["ci"]["f1"])
    assert MicroScore.read(to_json(evaluation(per_document)), "entities").ci == {}


def test_same_seed_same_interval():
    per_document = [(i % 4, i % 3, i % 5) for i in range(30)]
    first = with_interval(table(per_document), resample_weights(30, 300, seed=9)).ci
    again = with_interval(table(per_document), resample_weights(30, 300, seed=9)).ci
    assert np.array_equal(first, again)


def test_system_against_itself_has_no_difference():
    counts = table([(i, 1, 2) for i in range(10)])
    comparison = compare_tables(counts, counts, resample_weights(10, 100, seed=0))
    assert comparison.difference == 0.0 and comparison.ci == (0.0, 0.0)
    assert comparison.p_value == 1.0


def test_always_better_system_gets_the_smallest_p_value():
    perfect, empty = table([(2, 0, 0)] * 20), table([(0, 0, 2)] * 20)
    comparison = compare_tables(perfect, empty, resample_weights(20, 99, seed=0))
    assert (comparison.f1_a, comparison.f1_b, comparison.difference) == (1.0, 0.0, 1.0)
    assert comparison.ci == (1.0, 1.0)
    assert comparison.p_value == 1 / 100


def test_p_value_counts_resamples_at_least_as_far_from_the_estimate():
    # A is right on document 0 only, B on document 1 only; observed F1 difference is 0.5 - 0.5.
    # Resamples: (2, 0) gives +1, (0, 2) gives -1, (1, 1) gives 0.
    a, b = table([(1, 0, 0), (0, 1, 1)]), table([(0, 1, 1), (1, 0, 0)])
    weights = np.array([[2, 0], [0, 2], [1, 1], [1, 1]])
    comparison = compare_tables(a, b, weights)
    assert comparison.difference == 0.0
    assert comparison.p_value == (1 + 4) / (4 + 1)
    a = table([(2, 0, 0), (0, 1, 1)])  # observed: F1(A) = 2/3, F1(B) = 1/2
    comparison = compare_tables(a, b, weights)
    assert comparison.difference == pytest.approx(1 / 6)
    # resampled differences: (2,0): 1 - 0, (0,2): 0 - 1, both at least 1/6 away from 1/6;
    # (1,1) twice: exactly 1/6, not counted
    assert comparison.p_value == (1 + 2) / (4 + 1)


def test_comparisons_json_and_table():
    weights = resample_weights(5, 50, seed=2)
    a, b = evaluation([(3, 0, 1)] * 5), evaluation([(1, 2, 3)] * 5)
    comparisons = compare_evaluations(a, b, weights)
    report = comparisons_json(comparisons, documents=5, resamples=50, seed=2)
    assert set(report) == {"documents", "resamples", "seed", "entities", "relations"}
    block = report["entities"]["strict"]
    assert set(block) == {"f1_a", "f1_b", "difference", "ci", "p_value"}
    assert block["difference"] == pytest.approx(block["f1_a"] - block["f1_b"])
    assert "entities strict" in format_comparisons(comparisons)


def test_comparison_needs_the_same_documents():
    with pytest.raises(InvalidInputError, match="different documents"):
        compare_evaluations(evaluation([(1, 0, 0)]), evaluation([(1, 0, 0)] * 2), np.ones((2, 1)))
