"""Config validation: defaults filled in, and one line naming the key for every mistake."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from clinprompt.config import dataset_parts, split_draw, validate_config
from clinprompt.corpus.tables import SplitDraw
from clinprompt.errors import ConfigError
from tests.conftest import REPO, run_snakemake

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
DEFAULT = yaml.safe_load((REPO / "config/config.yaml").read_text())
FOLDER = str(REPO / "tests/fixtures/brat/n2c2_2018")
REAL = {
    "datasets": {
        "drug_ade": {
            "schema": "n2c2-2018",
            "parts": [
                {"split": "train", "institution": "MIMIC", "path": FOLDER},
                {"split": "test", "institution": "MIMIC", "path": FOLDER},
            ],
        }
    }
}


def test_embedded_default_is_valid_and_gets_defaults():
    config = validate_config(copy.deepcopy(DEFAULT), SCHEMA)
    assert config["datasets"]["drug_ade"]["skip_invalid"] is False
    assert config["datasets"]["sdoh"]["trust_offsets"] is False
    assert config["datasets"]["sdoh"]["on_invalid"] == "stop"
    assert config["corpus"] == {"dev_fraction": 0.25, "dev_seed": 13}


def test_defaults_for_omitted_blocks():
    config = validate_config(copy.deepcopy(REAL), SCHEMA)
    assert config["corpus"] == {"dev_fraction": 0.1, "dev_seed": 0}
    config = validate_config(
        {"datasets": {"d": {"schema": "n2c2-2018", "synthetic": {"kind": "drug_ade"}}}}, SCHEMA
    )
    assert config["datasets"]["d"]["synthetic"]["seed"] == 0
    parts = dataset_parts(config, "d")
    assert [(p.split, p.institution) for p in parts] == [("train", "MIMIC"), ("test", "MIMIC")]
    sdoh = {"datasets": {"s": {"schema": "n2c2-2022-sdoh", "synthetic": {"kind": "sdoh"}}}}
    parts = dataset_parts(validate_config(sdoh, SCHEMA), "s")
    assert [p.institution for p in parts] == ["MIMIC", "UW", "MIMIC", "UW"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["corpus"].update(dev_fractoin=0.2),
            "config key 'corpus.dev_fractoin' is not known (allowed here: dev_fraction, dev_seed)",
        ),
        (
            lambda c: c.update(modles={}),
            "config key 'modles' is not known "
            "(allowed here: corpus, datasets, grid, models, select, training)",
        ),
        (
            lambda c: c["datasets"]["drug_ade"]["synthetic"].update(kind="radiology"),
            "config key 'datasets.drug_ade.synthetic.kind': 'radiology' is not one of "
            "['drug_ade', 'sdoh']",
        ),
        (
            lambda c: c["datasets"]["drug_ade"].update(parts=[]),
            "config key 'datasets.drug_ade': give either 'synthetic' or 'parts', not both",
        ),
        (
            lambda c: c["datasets"]["sdoh"].pop("synthetic"),
            "config key 'datasets.sdoh': needs 'synthetic' (generate a corpus) or 'parts' "
            "(BRAT folders)",
        ),
        (
            lambda c: c["corpus"].update(dev_fraction=1.5),
            "config key 'corpus.dev_fraction': 1.5 is greater than or equal to the maximum of 1",
        ),
    ],
)
def test_mistakes_name_the_key(edit, message):
    config = copy.deepcopy(DEFAULT)
    edit(config)
    with pytest.raises(ConfigError) as err:
        validate_config(config, SCHEMA)
    assert str(err.value) == message


def test_parts_of_real_and_synthetic_datasets():
    real = dataset_parts(validate_config(copy.deepcopy(REAL), SCHEMA), "drug_ade")
    assert [(p.split, p.institution, str(p.path)) for p in real] == [
        ("train", "MIMIC", FOLDER),
        ("test", "MIMIC", FOLDER),
    ]
    synthetic = dataset_parts(validate_config(copy.deepcopy(DEFAULT), SCHEMA), "sdoh")
    assert [(p.split, p.institution) for p in synthetic] == [
        ("train", "MIMIC"), ("train", "UW"), ("test", "MIMIC"), ("test", "UW"),
    ]  # fmt: skip
    assert str(synthetic[1].path) == "results/corpora/sdoh/brat/train/UW"


def unsplit(**dataset) -> dict:
    """A real dataset of one unsplit folder, with `dataset` keys added."""
    part = {"institution": "PubMed", "path": FOLDER}
    return {"datasets": {"pgx": {"schema": "n2c2-2018", "parts": [part], **dataset}}}


def test_a_drawn_split_replaces_the_parts_splits():
    config = validate_config(unsplit(split={"test": 0.2}), SCHEMA)
    assert split_draw(config["datasets"]["pgx"]) == SplitDraw(0.2, 0)
    assert [(p.split, p.institution) for p in dataset_parts(config, "pgx")] == [(None, "PubMed")]
    assert split_draw(validate_config(copy.deepcopy(REAL), SCHEMA)["datasets"]["drug_ade"]) is None


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (unsplit(), "config key 'datasets.pgx.parts[0].split': missing (train, dev or test), "
         "or draw the splits with datasets.pgx.split: {test: 0.2, seed: 7}"),
        ({"datasets": {"pgx": {**unsplit(split={"test": 0.2})["datasets"]["pgx"], "parts": [
            {"split": "train", "institution": "PubMed", "path": FOLDER}]}}},
         "config key 'datasets.pgx.parts[0].split': datasets.pgx.split draws the splits; "
         "leave this out"),
        (unsplit(split={"test": 1.0, "seed": 7}),
         "config key 'datasets.pgx.split.test': 1.0 is greater than or equal to the maximum of 1"),
        (unsplit(split={"seed": 7}),
         "config key 'datasets.pgx.split': 'test' is a required property"),
        ({"datasets": {"s": {"schema": "n2c2-2018", "synthetic": {"kind": "drug_ade"},
                             "split": {"test": 0.2}}}},
         "config key 'datasets.s.split': a synthetic corpus comes split; draw a split only for "
         "parts"),
    ],
)  # fmt: skip
def test_split_mistakes_name_the_key(config, message):
    with pytest.raises(ConfigError) as err:
        validate_config(config, SCHEMA)
    assert str(err.value) == message


def test_pgxcorpus_example_config_loads(tmp_path, monkeypatch):
    from clinprompt.grid import grid_frame
    from clinprompt.registry import model_registry

    shipped = yaml.safe_load((REPO / "config/examples/pgxcorpus.yaml").read_text())
    part = shipped["datasets"]["pgxcorpus"]["parts"][0]
    assert part["path"] == "../shared/data/pgxcorpus/brat"  # beside the repository, not in it
    monkeypatch.chdir(REPO)
    if Path(part["path"]).is_dir():
        validate_config(copy.deepcopy(shipped), SCHEMA)
    for index in range(20):
        (tmp_path / f"{index}.txt").touch()
    part["path"] = str(tmp_path)
    config = validate_config(shipped, SCHEMA)
    assert config["datasets"]["pgxcorpus"]["trust_offsets"] is True
    frame = grid_frame(config, model_registry(config["models"]))
    assert sorted(frame["strategy"]) == ["finetune", "hard", "soft", "soft-frozen"]
    assert set(frame["train_institution"]) == {"PubMed"} and set(frame["seed"]) == {1}


@pytest.mark.workflow
def test_snakemake_reports_a_wrong_key_in_one_line(tmp_path):
    config = copy.deepcopy(DEFAULT)
    config["corpus"]["dev_fractoin"] = 0.2
    result = run_snakemake(tmp_path, config, "-n")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: config key 'corpus.dev_fractoin' is not known "
        "(allowed here: dev_fraction, dev_seed)"
    ]
    assert "Traceback" not in result.stderr
    assert 'File "' not in result.stderr


def test_missing_and_unset_data_folders_name_the_key(tmp_path):
    config = copy.deepcopy(REAL)
    config["datasets"]["drug_ade"]["parts"][1]["path"] = str(tmp_path / "gone")
    with pytest.raises(ConfigError, match=r"'datasets.drug_ade.parts\[1\].path': BRAT folder"):
        validate_config(config, SCHEMA)
    config["datasets"]["drug_ade"]["parts"][1]["path"] = None
    config["models"] = {"mine": {"path": None, "architecture": "bert", "parameters": "110M"}}
    with pytest.raises(ConfigError) as error:
        validate_config(config, SCHEMA)
    assert str(error.value) == (
        "config leaves 2 path(s) unset; set: datasets.drug_ade.parts[1].path (test MIMIC), "
        "models.mine.path"
    )


def test_dataset_training_takes_only_training_keys():
    config = copy.deepcopy(DEFAULT)
    config["datasets"]["sdoh"]["training"] = {"strategies": {"hard": {"epochs": 6}}}
    validate_config(config, SCHEMA)
    config["datasets"]["sdoh"]["training"]["max_length"] = 64
    with pytest.raises(ConfigError, match=r"'datasets\.sdoh\.training\.max_length' is not known"):
        validate_config(config, SCHEMA)
    config["datasets"]["sdoh"]["training"] = {"strategies": {"hrad": {"epochs": 6}}}
    with pytest.raises(ConfigError, match=r"datasets\.sdoh\.training\.strategies"):
        validate_config(config, SCHEMA)
