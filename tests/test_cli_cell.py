"""`clinprompt train|predict`: one cell from the command line; one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from clinprompt.cli import main
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import CorpusPart, write_corpus_tables
from clinprompt.synth.corpora import write_synthetic_corpus

CONFIG = {
    "datasets": {"sdoh": {"schema": "n2c2-2022-sdoh", "synthetic": {"kind": "sdoh"}}},
    "training": {"epochs": 1, "max_length": 96, "stride": 16, "match_hidden": 32,
                 "bootstrap": 10},
}  # fmt: skip
CELL = ["--dataset", "sdoh", "--model", "tiny-bert", "--strategy", "hard", "--shots", "2",
        "--train-institution", "MIMIC", "--seed", "2"]  # fmt: skip


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    write_synthetic_corpus("sdoh", tmp_path / "brat", seed=3, documents={"train": 5, "test": 2})
    parts = [
        CorpusPart(split, inst, tmp_path / "brat" / split / inst)
        for split in ("train", "test")
        for inst in ("MIMIC", "UW")
    ]
    tables = tmp_path / "results/corpora/sdoh/tables"
    write_corpus_tables(parts, load_schema("n2c2-2022-sdoh"), tables, dev_fraction=0.2)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_train_then_predict_other_institution(workdir, capsys):
    assert main(["train", "--config", "config.yaml", *CELL]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["train_documents"] == 2 and summary["cell"]["train_institution"] == "MIMIC"
    assert main(["predict", "--config", "config.yaml", *CELL, "--test-institution", "UW"]) == 0
    path = capsys.readouterr().out.strip()
    assert path == "results/sdoh/tiny-bert/hard/p0/k2/MIMIC/seed2/metrics/UW.json"
    metrics = json.loads((workdir / path).read_text())
    assert metrics["documents"] == 2 and metrics["cell"]["test_institution"] == "UW"
    assert "events" in metrics and "micro" in metrics["events"]
    both = ["--test-institution", "MIMIC", "UW"]
    assert main(["predict", "--config", "config.yaml", *CELL, *both]) == 0
    paths = capsys.readouterr().out.split()
    assert [Path(p).name for p in paths] == ["MIMIC.json", "UW.json"]
    again = json.loads((workdir / paths[1]).read_text())
    assert again["entities"] == metrics["entities"] and again["relations"] == metrics["relations"]
    assert sorted(p.name for p in (workdir / path).parents[1].glob("predictions/*/")) == [
        "MIMIC",
        "UW",
    ]


def test_pooled_cell_trains_on_the_union_of_its_institutions(workdir, capsys):
    pooled = [*CELL[:-4], "--train-institution", "MIMIC+UW", "--seed", "2"]
    assert main(["train", "--config", "config.yaml", *pooled]) == 0
    summary = json.loads(capsys.readouterr().out)
    # 2 shots from each institution's 4 training notes; dev: the one carved at each.
    assert summary["train_documents"] == 4 and summary["dev_documents"] == 2
    assert main(["predict", "--config", "config.yaml", *pooled, "--test-institution", "UW"]) == 0
    path = capsys.readouterr().out.strip()
    assert path == "results/sdoh/tiny-bert/hard/p0/k2/MIMIC+UW/seed2/metrics/UW.json"
    assert json.loads((workdir / path).read_text())["cell"]["train_institution"] == "MIMIC+UW"


def test_shots_that_are_no_count_fail_in_argparse_one_line(workdir, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--config", "config.yaml", *CELL, "--shots", "0"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "shots must be a whole number >= 1 or 'all'" in err[-1]
    assert not any("Traceback" in line for line in err)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "bert-huge"], "error: model 'bert-huge' not in the registry"),
        (["--prompt-length", "8"], "error: prompt length 8 given for 'hard'"),
        (["--shots", "99"], "error: shots: 99 exceeds the 4 training documents of MIMIC"),
        (["--dataset", "radiology"], "error: dataset 'radiology' not in config.yaml"),
    ],
)
def test_impossible_cells_fail_in_one_line(workdir, capsys, extra, message):
    assert main(["train", "--config", "config.yaml", *CELL, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(message), err
    assert not any("Traceback" in line for line in err)
