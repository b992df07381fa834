"""PGxCorpus, a real public BRAT corpus, as a user brings it: `clinprompt brat validate`, then
the corpus stage and one tiny cell through Snakemake on 30 of its documents.

The corpus lives beside the repository (`../shared/data/pgxcorpus`, never copied into it); the
test is skipped, saying so, where it is absent.
"""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

from clinprompt.cli import main
from clinprompt.corpus.tables import carved_size
from tests.conftest import REPO, run_snakemake

PGX = REPO.parent / "shared/data/pgxcorpus/brat"
DOCUMENTS = 30
CELL = "results/pgx/tiny-bert/hard/p0/kall/PubMed/seed1"

pytestmark = [
    pytest.mark.workflow,
    pytest.mark.skipif(
        not PGX.is_dir(),
        reason=f"PGxCorpus not found at {PGX} (no ../shared/data beside the repository)",
    ),
]


@pytest.fixture(scope="module")
def brat(tmp_path_factory):
    """The first 30 documents of PGxCorpus, in a temporary folder."""
    folder = tmp_path_factory.mktemp("pgxcorpus")
    for ann in sorted(PGX.glob("*.ann"))[:DOCUMENTS]:
        shutil.copy(ann, folder)
        shutil.copy(ann.with_suffix(".txt"), folder)
    return folder


def test_validate_names_every_problem(brat, capsys):
    assert main(["brat", "validate", str(brat), "--schema", "pgxcorpus"]) == 2
    captured = capsys.readouterr()
    problems = captured.err.splitlines()
    mismatch = re.compile(r".+\.ann:\d+: text field of T\d+ does not match the text at its offsets")
    assert problems and all(mismatch.fullmatch(line) for line in problems)
    assert captured.out == f"checked {DOCUMENTS} documents: {len(problems)} errors, 0 warnings\n"
    assert main(["brat", "validate", str(brat), "--schema", "pgxcorpus", "--trust-offsets"]) == 0
    assert capsys.readouterr().out == (
        f"checked {DOCUMENTS} documents: 0 errors, {len(problems)} warnings\n"
    )


def test_corpus_stage_and_one_tiny_cell(brat, tmp_path):
    config = {
        "datasets": {"pgx": {"schema": "pgxcorpus", "trust_offsets": True,
                             "split": {"test": 0.2, "seed": 7},
                             "parts": [{"institution": "PubMed", "path": str(brat)}]}},
        "corpus": {"dev_fraction": 0.2, "dev_seed": 1},
        "training": {"epochs": 1, "max_length": 96, "stride": 16, "match_hidden": 32,
                     "bootstrap": 10, "negative_ratio": 0.5},
        "grid": {"models": ["tiny-bert"], "seeds": [1],
                 "experiments": {"main": {"strategies": ["hard"]}}},
    }  # fmt: skip
    targets = ["results/corpora/pgx/statistics.html", f"{CELL}/metrics/PubMed.json"]
    result = run_snakemake(tmp_path, config, *targets)
    assert result.returncode == 0, result.stderr[-3000:]
    validation = json.loads((tmp_path / "results/corpora/pgx/validation.json").read_text())
    assert validation["documents"] == DOCUMENTS and validation["errors"] == 0
    assert validation["warnings"] > 0 and validation["dropped_annotations"] == 0
    tables = tmp_path / "results/corpora/pgx/tables"
    documents = pd.read_parquet(tables / "documents.parquet")
    test = carved_size(DOCUMENTS, 0.2)
    dev = carved_size(DOCUMENTS - test, 0.2)
    assert documents["split"].value_counts().to_dict() == {
        "train": DOCUMENTS - test - dev,
        "test": test,
        "dev": dev,
    }
    assert len(pd.read_parquet(tables / "entities.parquet")) > 0
    assert len(pd.read_parquet(tables / "relations.parquet")) > 0
    metrics = json.loads((tmp_path / CELL / "metrics/PubMed.json").read_text())
    assert metrics["documents"] == test and metrics["cell"]["train_institution"] == "PubMed"
    assert {"entities", "relations"} <= set(metrics)
    assert len(list((tmp_path / CELL / "predictions/PubMed").glob("*.ann"))) == test
