"""Shared fixtures: the repository root and a runner for Snakemake in a temporary folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def tables(tmp_path_factory) -> Path:
    """Corpus tables of a small synthetic drug-ADE corpus (5 train, 2 test notes, MIMIC)."""
    from clinprompt.corpus.schema import load_schema
    from clinprompt.corpus.tables import CorpusPart, write_corpus_tables
    from clinprompt.synth.corpora import write_synthetic_corpus

    root = tmp_path_factory.mktemp("drug_ade_tables")
    write_synthetic_corpus("drug_ade", root / "brat", seed=5, documents={"train": 5, "test": 2})
    parts = [
        CorpusPart(split, "MIMIC", root / "brat" / split / "MIMIC") for split in ("train", "test")
    ]
    write_corpus_tables(parts, load_schema("n2c2-2018"), root / "tables", dev_fraction=0.2)
    return root / "tables"


def run_snakemake(workdir: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    """Run the workflow with `config` in `workdir` (targets first, then options)."""
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    command = [
        sys.executable, "-m", "snakemake", *args,
        "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(config_path), "--cores", "2",
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, cwd=workdir, check=False)


def job_counts(output: str) -> dict[str, int]:
    """The job-stats table of a Snakemake run or dry run."""
    rows = (line.split() for line in output.splitlines())
    return {
        row[0]: int(row[1])
        for row in rows
        if len(row) == 2 and row[1].isdigit() and not row[0].endswith(":")
    }


SMALL = {
    "datasets": {
        "drug_ade": {
            "schema": "n2c2-2018",
            "synthetic": {"kind": "drug_ade", "seed": 3, "documents": {"train": 6, "test": 3}},
        },
        "sdoh": {
            "schema": "n2c2-2022-sdoh",
            "synthetic": {
                "kind": "sdoh",
                "seed": 4,
                "documents": {"train": 5, "test": 2},
                "institutions": ["MIMIC", "UW"],
            },
        },
    },
    "corpus": {"dev_fraction": 0.2, "dev_seed": 1},
}


GRID_CONFIG = {
    **SMALL,
    "training": {"epochs": 1, "max_length": 96, "stride": 16, "match_hidden": 32,
                 "bootstrap": 10, "negative_ratio": 0.5},
    "grid": {
        "models": ["tiny-bert"],
        "seeds": [1],
        "prompt_lengths": [2],
        "experiments": {
            "main": {"strategies": ["finetune", "soft"]},
            "few_shot": {"datasets": ["drug_ade"], "strategies": ["soft-frozen"], "shots": [2]},
        },
    },
}  # fmt: skip
GRID_CELLS = [
    "drug_ade/tiny-bert/finetune/p0/kall/MIMIC/seed1",
    "drug_ade/tiny-bert/soft/p2/kall/MIMIC/seed1",
    "drug_ade/tiny-bert/soft-frozen/p2/k2/MIMIC/seed1",
    *(
        f"sdoh/tiny-bert/{s}/kall/{i}/seed1"
        for s in ("finetune/p0", "soft/p2")
        for i in ("MIMIC", "UW")
    ),
]


@pytest.fixture(scope="session")
def grid_run(tmp_path_factory):
    """The reduced embedded grid run once by Snakemake (shared by the workflow and report tests)."""
    workdir = tmp_path_factory.mktemp("grid")
    result = run_snakemake(workdir, GRID_CONFIG)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def write_examples(frame, path: Path) -> None:
    """An example table written as Parquet in `EXAMPLE_SCHEMA`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from clinprompt.examples.settings import EXAMPLE_SCHEMA

    pq.write_table(pa.Table.from_pandas(frame, schema=EXAMPLE_SCHEMA, preserve_index=False), path)


def read_examples(path: Path):
    """A table of `write_examples`, read with the dtypes the example builders give."""
    import pyarrow.parquet as pq

    from clinprompt.examples.settings import _NULLABLE, EXAMPLE_SCHEMA

    return pq.read_table(path, schema=EXAMPLE_SCHEMA).to_pandas(types_mapper=_NULLABLE.get)
