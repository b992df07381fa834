"""The `clinprompt evaluate` / `clinprompt compare` contract: exit codes, messages, JSON shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clinprompt.cli import main
from clinprompt.corpus.brat import format_ann
from tests.test_event_score import gold_document, study_view_prediction

CLI = Path(sys.executable).parent / "clinprompt"
TEXT = "aspirin 81 mg po daily\n"
GOLD_ANN = "T1\tDrug 0 7\taspirin\nT2\tStrength 8 13\t81 mg\nR1\tStrength-Drug Arg1:T2 Arg2:T1\n"
PRED_ANN = "T1\tDrug 0 7\taspirin\nT2\tStrength 8 10\t81\nR1\tStrength-Drug Arg1:T2 Arg2:T1\n"
METRICS = {"precision", "recall", "f1"}
COUNTED = METRICS | {"tp", "fp", "fn"}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, check=False)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """Gold `a` (drug, strength, relation) and `b` (empty); a prediction for `a` only."""
    gold, pred = tmp_path / "gold", tmp_path / "pred"
    gold.mkdir()
    pred.mkdir()
    (gold / "a.txt").write_text(TEXT, encoding="utf-8")
    (gold / "a.ann").write_text(GOLD_ANN, encoding="utf-8")
    (gold / "b.txt").write_text(TEXT, encoding="utf-8")
    (gold / "b.ann").write_text("", encoding="utf-8")
    (pred / "a.ann").write_text(PRED_ANN, encoding="utf-8")
    return gold, pred


def evaluate_json(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "scores.json"
    assert main(["evaluate", *args, "--json", str(out)]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def assert_shape(report: dict, ci: bool) -> None:
    assert set(report) == {"documents", "entities", "relations"}
    for target in ("entities", "relations"):
        assert set(report[target]) == {"strict", "lenient"}
        for block in report[target].values():
            assert set(block) == {"micro", "macro", "per_type"}
            assert set(block["micro"]) == (COUNTED | {"ci"} if ci else COUNTED)
            assert set(block["macro"]) == METRICS
            assert all(set(row) == COUNTED for row in block["per_type"].values())
            if ci:
                assert set(block["micro"]["ci"]) == METRICS
                assert all(len(pair) == 2 for pair in block["micro"]["ci"].values())


def test_evaluate_writes_the_documented_json(folders, tmp_path, capsys):
    gold, pred = folders
    report = evaluate_json(tmp_path, str(gold), str(pred), "--bootstrap", "0")
    assert_shape(report, ci=False)
    assert report["documents"] == 2
    strict = report["entities"]["strict"]
    assert strict["micro"] == {
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "tp": 1,
        "fp": 1,
        "fn": 1,
    }
    assert strict["macro"] == {"precision": 0.25, "recall": 0.25, "f1": 0.25}
    assert report["entities"]["lenient"]["micro"]["f1"] == 1.0
    assert report["relations"]["strict"]["per_type"]["Strength-Drug"]["fn"] == 1
    assert report["relations"]["lenient"]["per_type"]["Strength-Drug"]["tp"] == 1
    assert "Overall (micro)" in capsys.readouterr().out


def test_evaluate_adds_bootstrap_intervals_by_default(folders, tmp_path):
    report = evaluate_json(tmp_path, *map(str, folders), "--seed", "1")
    assert_shape(report, ci=True)
    again = evaluate_json(tmp_path, *map(str, folders), "--seed", "1")
    assert again == report


def test_schema_lists_every_type(folders, tmp_path):
    report = evaluate_json(tmp_path, *map(str, folders), "--schema", "n2c2-2018")
    assert len(report["entities"]["strict"]["per_type"]) == 9
    assert report["entities"]["strict"]["per_type"]["ADE"]["f1"] == 0.0
    assert len(report["relations"]["lenient"]["per_type"]) == 8


def test_missing_prediction_is_warned_about_and_counts_as_empty(folders):
    result = run("evaluate", *map(str, folders), "--bootstrap", "0")
    assert result.returncode == 0
    assert "no prediction file b.ann" in result.stderr
    assert "2 documents scored" in result.stdout


def test_official_mode_drops_documents_without_prediction(folders, tmp_path):
    report = evaluate_json(tmp_path, *map(str, folders), "--official", "--bootstrap", "0")
    assert report["documents"] == 1
    assert report["entities"]["strict"]["macro"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5}


def test_prediction_without_gold_exits_2_with_one_line(folders):
    gold, pred = folders
    (pred / "zz.ann").write_text("", encoding="utf-8")
    result = run("evaluate", str(gold), str(pred))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "zz.ann: no gold document zz.ann" in result.stderr


def test_relation_with_missing_argument_exits_2_naming_file_and_line(folders):
    gold, pred = folders
    (pred / "a.ann").write_text("T1\tDrug 0 7\taspirin\nR1\tStrength-Drug Arg1:T9 Arg2:T1\n")
    result = run("evaluate", str(gold), str(pred), "--official")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"{pred / 'a.ann'}:2: R1 Arg1 points at missing id T9" in result.stderr


def test_bad_arguments_exit_2(folders, capsys):
    gold, pred = folders
    assert main(["evaluate", str(gold), str(pred), "--events"]) == 2
    assert "--events needs --schema" in capsys.readouterr().err
    assert main(["evaluate", str(gold), str(pred), "--schema", "no-such-schema"]) == 2
    assert main(["evaluate", str(gold), str(gold.parent / "missing")]) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(gold), str(pred), "--bootstrap", "-1"])
    assert exit_info.value.code == 2


def test_events_add_an_events_block(tmp_path):
    gold, pred = tmp_path / "gold", tmp_path / "pred"
    gold.mkdir()
    pred.mkdir()
    document = gold_document()
    (gold / "sh1.txt").write_text(document.text, encoding="utf-8")
    (gold / "sh1.ann").write_text(format_ann(document), encoding="utf-8")
    (pred / "sh1.ann").write_text(format_ann(study_view_prediction()), encoding="utf-8")
    args = (str(gold), str(pred), "--schema", "n2c2-2022-sdoh", "--events", "--bootstrap", "20")
    report = evaluate_json(tmp_path, *args)
    assert set(report) == {"documents", "entities", "relations", "events"}
    events = report["events"]
    assert set(events) == {"documents", "micro", "rows"}
    assert (events["micro"]["tp"], events["micro"]["fp"], events["micro"]["fn"]) == (6, 2, 1)
    assert set(events["micro"]["ci"]) == METRICS
    assert set(events["rows"][0]) == {"event", "argument", "value"} | COUNTED
    assert report["relations"]["strict"]["per_type"]["StatusTime-Alcohol"]["tp"] == 1


def test_compare_writes_difference_interval_and_p_value(folders, tmp_path, capsys):
    gold, pred = folders
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.ann").write_text(GOLD_ANN, encoding="utf-8")
    (other / "b.ann").write_text("", encoding="utf-8")
    out = tmp_path / "compare.json"
    args = ["compare", str(gold), str(other), str(pred), "--json", str(out), "--bootstrap", "50"]
    assert main(args) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert (report["documents"], report["resamples"], report["seed"]) == (2, 50, 0)
    strict = report["entities"]["strict"]
    assert set(strict) == {"f1_a", "f1_b", "difference", "ci", "p_value"}
    assert (strict["f1_a"], strict["f1_b"], strict["difference"]) == (1.0, 0.5, 0.5)
    assert 0.0 < strict["p_value"] <= 1.0
    assert "entities strict" in capsys.readouterr().out


def test_compare_needs_at_least_one_resample(folders):
    gold, pred = folders
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", str(gold), str(pred), str(pred), "--bootstrap", "0"])
    assert exit_info.value.code == 2
