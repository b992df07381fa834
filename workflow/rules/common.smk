"""Helpers for the rules: dataset lookups, input functions and the targets of `rule all`."""

import re

from clinprompt.cell import Cell
from clinprompt.config import dataset_parts
from clinprompt.registry import model_registry

CORPUS_TABLES = ("documents", "entities", "relations", "events", "attributes")
DATASETS = sorted(config["datasets"])


wildcard_constraints:
    dataset="|".join(DATASETS),


def dataset_settings(wildcards):
    """The config block of the rule's dataset."""
    return config["datasets"][wildcards.dataset]


def synthetic_settings(wildcards):
    """The `synthetic` block of the rule's dataset."""
    return config["datasets"][wildcards.dataset]["synthetic"]


def corpus_table_files():
    """The Parquet tables of a dataset's corpus, with the `{dataset}` wildcard."""
    return [f"results/corpora/{{dataset}}/tables/{table}.parquet" for table in CORPUS_TABLES]


def is_synthetic(dataset):
    """Whether the pipeline generates this dataset's corpus itself."""
    return "synthetic" in config["datasets"][dataset]


def corpus_folders(wildcards):
    """The BRAT folders of a dataset: generated ones or the user's."""
    if is_synthetic(wildcards.dataset):
        return [f"results/corpora/{wildcards.dataset}/brat"]
    return [str(part.path) for part in dataset_parts(config, wildcards.dataset)]


def corpus_parts(wildcards):
    """(split, institution, path) triples of a dataset, for the scripts."""
    return [
        (part.split, part.institution, str(part.path))
        for part in dataset_parts(config, wildcards.dataset)
    ]


def final_outputs():
    """Everything `rule all` asks for."""
    return [f"results/corpora/{dataset}/statistics.html" for dataset in DATASETS]


CELL = "results/{dataset}/{model}/{strategy}/p{plen}/k{shots}/{train_inst}/seed{seed}"
CELL_LOG = "{dataset}/{model}/{strategy}/p{plen}/k{shots}/{train_inst}/seed{seed}"
MODELS = model_registry(config.get("models"))


wildcard_constraints:
    model="|".join(re.escape(name) for name in MODELS),
    strategy="finetune|hard|soft|soft-frozen",
    plen=r"\d+",
    shots=r"\d+|all",
    seed=r"\d+",
    train_inst=r"[A-Za-z0-9_-]+",
    test_inst=r"[A-Za-z0-9_-]+",


def cell_of(wildcards):
    """The grid cell named by a rule's wildcards."""
    shots = wildcards.shots if wildcards.shots == "all" else int(wildcards.shots)
    return Cell(
        wildcards.dataset,
        wildcards.model,
        wildcards.strategy,
        int(wildcards.plen),
        shots,
        wildcards.train_inst,
        int(wildcards.seed),
    )


def dataset_schema(wildcards):
    """The dataset schema name or path of the rule's dataset."""
    return config["datasets"][wildcards.dataset]["schema"]


def train_gpus(wildcards):
    """GPUs a training job asks for (from the model registry)."""
    return MODELS[wildcards.model].gpus


def train_mem_mb(wildcards, attempt):
    """Host memory of a training job, doubled on each retry."""
    return 8000 * attempt
