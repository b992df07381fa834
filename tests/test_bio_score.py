"""BIO diagnostics: seqeval strict IOB2 catches broken sequences that lenient mode accepts."""

from __future__ import annotations

import json

import pytest
from seqeval.metrics import f1_score

from clinprompt.errors import InvalidInputError
from clinprompt.score.bio import count_broken, format_report, score_bio, to_json

GOLD = [["B-Drug", "I-Drug", "O", "B-Dosage"], ["O", "B-ADE"]]


def test_strict_mode_rejects_a_chunk_that_lenient_mode_accepts():
    broken = [["I-Drug", "I-Drug", "O", "B-Dosage"], ["O", "B-ADE"]]
    assert f1_score(GOLD, broken) == 1.0  # seqeval's default conlleval mode
    report = score_bio(GOLD, broken)
    assert (report.micro.precision, report.micro.recall) == (1.0, 2 / 3)
    assert report.micro.f1 == pytest.approx(0.8)
    drug = next(row for row in report.per_type if row.type == "Drug")
    assert (drug.precision, drug.recall, drug.f1, drug.support) == (0.0, 0.0, 0.0, 1)
    assert report.broken_tags == 1
    assert report.token_accuracy == 5 / 6


def test_perfect_tagging():
    report = score_bio(GOLD, GOLD)
    assert (report.micro.precision, report.micro.recall, report.micro.f1) == (1.0, 1.0, 1.0)
    assert report.micro.support == 3
    assert [row.type for row in report.per_type] == ["ADE", "Dosage", "Drug"]
    assert report.token_accuracy == 1.0 and report.broken_tags == 0


def test_type_change_inside_a_chunk_is_broken():
    assert count_broken(["B-Drug", "I-Dosage", "I-Dosage", "O", "I-Drug"]) == 2
    assert count_broken(["B-Drug", "I-Drug", "B-Drug", "I-Drug"]) == 0
    assert count_broken([]) == 0


def test_no_entities_anywhere_scores_zero():
    report = score_bio([["O", "O"]], [["O", "O"]])
    assert (report.micro.f1, report.micro.support, report.per_type) == (0.0, 0, ())
    assert report.token_accuracy == 1.0


@pytest.mark.parametrize(
    ("gold", "pred", "message"),
    [
        ([["O"]], [["O"], ["O"]], "1 gold sentences but 2 predicted"),
        ([["O", "O"]], [["O"]], "sentence 0: 2 gold tags but 1 predicted"),
        ([["E-Drug"]], [["O"]], "sentence 0: tag 'E-Drug'"),
    ],
)
def test_invalid_input_is_reported(gold, pred, message):
    with pytest.raises(InvalidInputError, match=message):
        score_bio(gold, pred)


def test_json_and_report():
    report = score_bio(GOLD, GOLD)
    data = json.loads(json.dumps(to_json(report)))
    assert data["micro"]["f1"] == 1.0 and data["broken_tags"] == 0
    assert len(data["per_type"]) == 3
    text = format_report(report)
    assert "Drug  1.0000  1.0000  1.0000  1" in text and "token accuracy" in text
