"""Config validation: defaults filled in, and one line naming the key for every mistake."""

from __future__ import annotations

import copy

import pytest
import yaml

from clinprompt.config import dataset_parts, validate_config
from clinprompt.errors import ConfigError
from tests.conftest import REPO, run_snakemake

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
DEFAULT = yaml.safe_load((REPO / "config/config.yaml").read_text())
REAL = {
    "datasets": {
        "drug_ade": {
            "schema": "n2c2-2018",
            "parts": [
                {"split": "train", "institution": "MIMIC", "path": "/data/train"},
                {"split": "test", "institution": "MIMIC", "path": "/data/test"},
            ],
        }
    }
}


def test_embedded_default_is_valid_and_gets_defaults():
    config = validate_config(copy.deepcopy(DEFAULT), SCHEMA)
    assert config["datasets"]["drug_ade"]["skip_invalid"] is False
    assert config["datasets"]["sdoh"]["trust_offsets"] is False
    assert config["corpus"] == {"dev_fraction": 0.15, "dev_seed": 13}


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
            "config key 'modles' is not known (allowed here: corpus, datasets, models, training)",
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
        ("train", "MIMIC", "/data/train"),
        ("test", "MIMIC", "/data/test"),
    ]
    synthetic = dataset_parts(validate_config(copy.deepcopy(DEFAULT), SCHEMA), "sdoh")
    assert [(p.split, p.institution) for p in synthetic] == [
        ("train", "MIMIC"), ("train", "UW"), ("test", "MIMIC"), ("test", "UW"),
    ]  # fmt: skip
    assert str(synthetic[1].path) == "results/corpora/sdoh/brat/train/UW"


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
