"""Dictionary baseline: training strings found again in test text, longest first; its grid
rows follow the training draws of `main` and `few_shot`; its metrics file is a cell's."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from clinprompt.config import validate_config
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import CorpusTables, table_documents
from clinprompt.errors import ConfigError
from clinprompt.examples.shots import draw_shots
from clinprompt.grid import grid_frame
from clinprompt.predict.baseline import (
    DICTIONARY,
    NO_MODEL,
    dictionary_cells,
    dictionary_predictions,
    mention_dictionary,
    score_dictionary,
)
from clinprompt.registry import model_registry
from clinprompt.report.tidy import read_scores, tidy_frame
from clinprompt.score.cell import documents_tested_at, score_predictions
from clinprompt.study import CELL_FIELDS
from tests.conftest import REPO

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def test_dictionary_labels_and_longest_match():
    train = pd.DataFrame({
        "text": ["aspirin", "Aspirin", "nausea", "nausea", "nausea", "chest pain", "pain"],
        "type": ["Drug", "Drug", "ADE", "Reason", "Reason", "Reason", "ADE"],
    })  # fmt: skip
    dictionary = mention_dictionary(train, ("Drug", "Reason", "ADE"))
    assert dictionary == {"aspirin": "Drug", "nausea": "Reason", "chest pain": "Reason",
                          "pain": "ADE"}  # fmt: skip
    docs = pd.DataFrame({
        "document": ["MIMIC/test/d1"],
        "text": ["ASPIRIN for chest\npain; nausea.  aspirinX no"],
    })  # fmt: skip
    found = dictionary_predictions(dictionary, docs)["MIMIC/test/d1"]
    assert found.doc_id == "d1"
    assert [(e.type, e.fragments) for e in found.entities] == [
        ("Drug", ((0, 7),)),
        ("Reason", ((12, 17), (18, 22))),
        ("Reason", ((24, 30),)),
    ]
    assert found.relations == []


def test_empty_dictionary_predicts_nothing():
    docs = pd.DataFrame({"document": ["MIMIC/test/d1"], "text": ["aspirin daily"]})
    assert dictionary_predictions({}, docs)["MIMIC/test/d1"].entities == []


def embedded_grid() -> tuple[dict, pd.DataFrame]:
    config = validate_config(yaml.safe_load((REPO / "config/config.yaml").read_text()), SCHEMA)
    return config, grid_frame(config, model_registry(config.get("models")))


def test_dictionary_cells_are_the_training_draws_of_main_and_few_shot():
    config, grid = embedded_grid()
    assert config["grid"]["dictionary_baseline"] is True  # the schema's default
    cells = dictionary_cells(config, grid)
    assert set(cells["strategy"]) == {DICTIONARY} and set(cells["model"]) == {NO_MODEL}
    assert set(cells["prompt_length"]) == {0}
    chosen = grid[grid["experiments"].str.contains("main|few_shot")]
    keys = ["dataset", "shots", "train_institution", "seed"]
    assert sorted(map(tuple, cells[keys].to_numpy())) == sorted(
        set(map(tuple, chosen[keys].to_numpy()))
    )
    experiments = cells.set_index(keys)["experiments"]
    assert experiments["drug_ade", "all", "MIMIC", 1] == "main,few_shot"
    assert experiments["drug_ade", "1", "MIMIC", 1] == "few_shot"
    assert experiments["drug_ade", "2", "MIMIC", 1] == "few_shot"
    assert set(experiments["sdoh"]) == {"main"}
    assert dictionary_cells({**config, "select": {"strategy": ["soft"]}}, grid).empty
    both = {**config, "select": {"strategy": ["soft", DICTIONARY]}}
    assert len(dictionary_cells(both, grid)) == len(cells)
    off = {**config, "grid": {**config["grid"], "dictionary_baseline": False}}
    off_cells = dictionary_cells(off, grid)
    assert off_cells.empty and list(off_cells.columns) == [*CELL_FIELDS, "experiments"]


def test_dictionary_switch_is_validated():
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["grid"]["dictionary_baseline"] = "yes"
    with pytest.raises(ConfigError, match=r"config key 'grid\.dictionary_baseline'"):
        validate_config(config, SCHEMA)


def test_score_dictionary_writes_a_cells_metrics_file(tables, tmp_path):
    cell = {"dataset": "drug_ade", "model": NO_MODEL, "strategy": DICTIONARY,
            "prompt_length": 0, "shots": 2, "train_institution": "MIMIC", "seed": 3}  # fmt: skip
    path = tmp_path / "metrics/MIMIC.json"
    written = score_dictionary(tables, "n2c2-2018", cell, "MIMIC", path, bootstrap=20)
    report = json.loads(path.read_text())
    assert report == json.loads(json.dumps(written))
    assert report["cell"] == {**cell, "test_institution": "MIMIC"}
    assert report["cost"]["parameters"] == {"trainable": 0, "total": 0, "share": 0.0}
    assert report["cost"]["epochs_run"] == 0 and report["cost"]["predict_seconds"] >= 0
    corpus = CorpusTables.read(tables)
    train_keys = draw_shots(corpus.documents, 2, 3, "MIMIC")
    assert report["diagnostics"]["train_documents"] == len(train_keys) == 2
    train = corpus.entities[corpus.entities["document"].isin(train_keys)]
    entries = mention_dictionary(train, load_schema("n2c2-2018").concept_types)
    assert report["diagnostics"]["dictionary_entries"] == len(entries)
    concepts = report["entities"]["strict"]["micro"]
    assert concepts["tp"] > 0 and "ci" in concepts
    assert report["relations"]["strict"]["micro"]["f1"] == 0.0
    assert report["relations"]["strict"]["micro"]["fp"] == 0
    drug = report["entities"]["strict"]["per_type"]["Drug"]
    assert drug["gold"] == drug["tp"] + drug["fn"] and drug["predicted"] == drug["tp"] + drug["fp"]
    # The same test documents as a model cell: the same digest as gold scored against itself.
    test = documents_tested_at(corpus, "MIMIC")
    gold = table_documents(corpus, list(test["document"]))
    reference = score_predictions(gold, gold, load_schema("n2c2-2018"))
    assert report["per_document"]["digest"] == reference["per_document"]["digest"]
    model_cell = {**cell, "shots": "2", "model": "tiny-bert", "strategy": "finetune"}
    grid = dictionary_cells({}, pd.DataFrame([{**model_cell, "experiments": "main"}]))
    tidy = tidy_frame(read_scores([path], grid))
    assert set(tidy["strategy"]) == {DICTIONARY} and (tidy["trainable"] == 0).all()


def test_unknown_test_institution_is_one_line(tables, tmp_path):
    cell = {"dataset": "drug_ade", "model": NO_MODEL, "strategy": DICTIONARY, "prompt_length": 0,
            "shots": "all", "train_institution": "MIMIC", "seed": 1}  # fmt: skip
    with pytest.raises(ConfigError, match="no test documents from institution 'UW'"):
        score_dictionary(tables, "n2c2-2018", cell, "UW", tmp_path / "UW.json")


def test_the_baseline_job_imports_no_torch():
    code = "import sys, clinprompt.predict.baseline; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)  # fmt: skip
    assert result.stdout.strip() == "False", "the dictionary job (envs/core.yaml) needs no torch"
