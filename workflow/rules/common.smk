"""Helpers for the rules: dataset lookups, input functions and the targets of `rule all`."""

from clinprompt.config import dataset_parts

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
