"""Helpers for the rules: dataset lookups, input functions and the targets of `rule all`."""

import re
from dataclasses import asdict

from clinprompt.config import config_or_exit, dataset_parts
from clinprompt.grid import grid_frame, institutions, metrics_files
from clinprompt.predict.baseline import DICTIONARY, NO_MODEL, dictionary_cells
from clinprompt.registry import job_gpus, model_registry
from clinprompt.report.tables import TABLES
from clinprompt.report.figures import FIGURES
from clinprompt.settings import as_params, cell_settings
from clinprompt.study import CELL_PATH, STRATEGY_NAMES, Cell, cell_path, parse_shots

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
    """The targets of the default rule - corpus statistics, every cell's metrics (the dictionary
    baseline's too), aggregates."""
    return [
        *(f"results/corpora/{dataset}/statistics.html" for dataset in DATASETS),
        *STUDY_METRICS,
        *(f"{Cell.from_record(row).folder()}/summary.html" for _, row in GRID.iterrows()),
        *aggregate_outputs(),
    ]


def aggregate_outputs():
    """The paper's tables and figures (none for a grid without cells)."""
    if GRID.empty:
        return []
    return [
        "results/tables/metrics.parquet",
        *expand("results/tables/{table}.{ext}", table=TABLES, ext=("parquet", "html", "tex")),
        *expand("results/figures/{figure}.{ext}", figure=FIGURES, ext=("png", "svg")),
    ]


CELL = f"results/{CELL_PATH}"
MODELS = config_or_exit(model_registry, config.get("models"))
GRID = config_or_exit(grid_frame, config, MODELS)
GRID_METRICS = metrics_files(config, GRID)
# The dictionary baseline: grid rows of its own (strategy `dictionary`, model `none`).
BASELINE = dictionary_cells(config, GRID)
STUDY_CELLS = [*GRID.to_dict("records"), *BASELINE.to_dict("records")]
STUDY_METRICS = [*GRID_METRICS, *metrics_files(config, BASELINE)]
DICTIONARY_LOG = cell_path(model=NO_MODEL, strategy=DICTIONARY, plen="0")
DICTIONARY_CELL = f"results/{DICTIONARY_LOG}"
KEEP_CHECKPOINTS = config.get("grid", {}).get("keep_checkpoints", False)


wildcard_constraints:
    model="|".join(re.escape(name) for name in MODELS),
    strategy="|".join(re.escape(name) for name in STRATEGY_NAMES),
    plen=r"\d+",
    shots=r"\d+|all",
    seed=r"\d+",
    train_inst=r"[A-Za-z0-9_-]+(\+[A-Za-z0-9_-]+)*",
    test_inst=r"[A-Za-z0-9_-]+",


CELL_LABELS = {
    "model": "{model}",
    "strategy": "{strategy}",
    "prompt length": "{plen}",
    "shots": "{shots}",
    "trained at": "{train_inst}",
    "seed": "{seed}",
}


def table_outputs():
    """Each paper table as Parquet, LaTeX and HTML (the HTML shown in the report)."""
    outputs = {}
    for table in TABLES:
        outputs[f"{table}_parquet"] = f"results/tables/{table}.parquet"
        outputs[f"{table}_tex"] = f"results/tables/{table}.tex"
        outputs[f"{table}_html"] = report(
            f"results/tables/{table}.html",
            caption=f"../report/table_{table}.rst",
            category="Tables",
            labels={"table": table.replace("_", " ")},
        )
    return outputs


def figure_outputs():
    """Each figure as SVG and PNG (the PNG shown in the report)."""
    outputs = {}
    for figure in FIGURES:
        outputs[f"{figure}_svg"] = f"results/figures/{figure}.svg"
        outputs[f"{figure}_png"] = report(
            f"results/figures/{figure}.png",
            caption=f"../report/figure_{figure}.rst",
            category="Figures",
            labels={"figure": figure.replace("_", " ")},
        )
    return outputs


def cell_metrics(wildcards):
    """The metrics file of every test institution of the rule's cell."""
    folder = CELL.format(**wildcards)
    return [f"{folder}/metrics/{test}.json" for test in test_institutions(wildcards)]


def cell_model(wildcards):
    """The registry entry of the rule's model, as a param: editing it reruns its cells."""
    return asdict(MODELS[wildcards.model])


def cell_training(wildcards):
    """The resolved settings of the rule's cell, as a param: a config change reruns exactly
    the cells whose settings it changes."""
    cell = Cell.from_wildcards(wildcards)
    return as_params(cell_settings(config, MODELS[cell.model], cell))


def dictionary_cell(wildcards):
    """The dictionary baseline's cell named by a rule's wildcards (as in its metrics JSON)."""
    return {
        "dataset": wildcards.dataset,
        "model": NO_MODEL,
        "strategy": DICTIONARY,
        "prompt_length": 0,
        "shots": parse_shots(wildcards.shots),
        "train_institution": wildcards.train_inst,
        "seed": int(wildcards.seed),
    }


def dataset_schema(wildcards):
    """The dataset schema name or path of the rule's dataset."""
    return config["datasets"][wildcards.dataset]["schema"]


def test_institutions(wildcards):
    """Institutions whose test documents every cell of the dataset predicts."""
    return institutions(config, wildcards.dataset, "test")


def train_threads(wildcards):
    """CPU threads of a training job (from the model registry)."""
    return MODELS[wildcards.model].threads


def train_gpus(wildcards):
    """GPUs a training job asks for (from the model registry and the strategy)."""
    return job_gpus(MODELS[wildcards.model], wildcards.strategy)


def train_mem_mb(wildcards, attempt):
    """Host memory of a training job (from the registry), doubled on each retry."""
    return MODELS[wildcards.model].memory_gb * 1024 * attempt


def train_runtime(wildcards, attempt):
    """Wall-time minutes of a training job (from the registry), doubled on each retry."""
    return MODELS[wildcards.model].runtime_minutes * attempt
