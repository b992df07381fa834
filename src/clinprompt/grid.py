"""The study's grid: which cells a config asks for, and where their outputs go.

In: the validated workflow config. Its `grid` block names default axes (`models`, `seeds`) and
a mapping of `experiments`, each a cross product of axes (datasets, models, strategies,
prompt_lengths, shots, train_institutions, seeds); the grid is the union of the experiments, a
cell belonging to several experiments appearing once. Prompt lengths apply to the soft
strategies only (the others run at `p0`), so no impossible cell is ever generated; `select`
restricts any axis (`snakemake --config 'select={strategy: [soft]}'`). A training institution
may pool several (`MIMIC+UW`, folder name `MIMIC+UW`): the cell trains on their union, k shots
drawn from each. Out: the grid as a pandas frame, one row per cell with the experiments it
belongs to, and the cells' output paths. Every cell is tested on every institution of its
dataset that has test documents.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from clinprompt.atomic import atomic_write_parquet
from clinprompt.config import dataset_parts, split_draw
from clinprompt.corpus.tables import carved_size, iter_ann_files, pooled_institutions
from clinprompt.errors import ConfigError
from clinprompt.study import (
    ALL_SHOTS,
    CELL_FIELDS,
    SOFT_STRATEGIES,
    STRATEGY_NAMES,
    Cell,
    Strategy,
    parse_shots,
)
from clinprompt.synth.corpora import planned_parts

ALL = "all"  # every training institution


def institutions(config: dict, dataset: str, split: str) -> list[str]:
    """Institutions of `dataset` that have documents of `split` (sorted)."""
    settings = config["datasets"][dataset]
    if "synthetic" in settings:
        synthetic = settings["synthetic"]
        parts = planned_parts(
            synthetic["kind"], synthetic.get("documents"), synthetic.get("institutions")
        )
        names = {institution for part_split, institution, _ in parts if part_split == split}
    else:
        drawn = ("train", "test")  # the splits an unsplit folder is drawn into
        names = {
            part.institution
            for part in dataset_parts(config, dataset)
            if part.split == split or (part.split is None and split in drawn)
        }
    return sorted(names)


def shot_pool(config: dict, dataset: str, institution: str) -> int | None:
    """Training documents few-shot draws choose from, after the dev carve (None if unknown)."""
    settings = config["datasets"][dataset]
    if "synthetic" in settings:
        synthetic = settings["synthetic"]
        parts = planned_parts(
            synthetic["kind"], synthetic.get("documents"), synthetic.get("institutions")
        )
        counts = {split: n for split, inst, n in parts if inst == institution}
    else:
        counts = {}
        draw = split_draw(settings)
        for part in dataset_parts(config, dataset):
            if part.institution == institution:
                if not part.path.is_dir():
                    return None
                if part.split is None:
                    files = len(iter_ann_files(part.path))
                    counts["train"] = counts.get("train", 0) + files - carved_size(files, draw.test)
                else:
                    files = len(list(part.path.glob("*.txt")))
                    counts[part.split] = counts.get(part.split, 0) + files
    train = counts.get("train", 0)
    if counts.get("dev"):
        return train
    return train - carved_size(train, config.get("corpus", {}).get("dev_fraction", 0.1))


def _axis(experiment: dict, grid: dict, name: str, default: Sequence) -> list:
    values = experiment.get(name, grid.get(name, default))
    return list(values) if isinstance(values, list | tuple) else [values]


def _check_members(key: str, values: Iterable, known: Iterable[str], what: str) -> None:
    known = list(known)
    for value in values:
        if value not in known:
            raise ConfigError(
                f"config key '{key}': {what} {value!r} is not defined (known: {', '.join(known)})"
            )


def _check_training(key: str, train_institution: str, known: Iterable[str]) -> None:
    """A training institution, single or pooled (`MIMIC+UW`), all of whose institutions exist."""
    members = pooled_institutions(train_institution)
    if len(members) == 1:
        _check_members(key, members, known, "institution")
        return
    known = list(known)
    for member in members:
        if member not in known:
            raise ConfigError(
                f"config key '{key}': institution {member!r} of {train_institution!r} is not "
                f"defined (known: {', '.join(known)})"
            )
    if len(set(members)) < len(members):
        raise ConfigError(f"config key '{key}': {train_institution!r} names an institution twice")
    if members != sorted(members):
        # One pool, one folder: MIMIC+UW and UW+MIMIC would train the same notes twice.
        raise ConfigError(
            f"config key '{key}': write the pool {train_institution!r} in sorted order, "
            f"{'+'.join(sorted(members))!r}"
        )


def _train_institutions(config: dict, name: str, experiment: dict, dataset: str) -> list[str]:
    """The experiment's training institutions, single or pooled, that `dataset` has (every
    institution of a pool)."""
    available = institutions(config, dataset, "train")
    wanted = experiment.get("train_institutions", ALL)
    if wanted == ALL:
        return available
    everywhere = sorted({i for d in config["datasets"] for i in institutions(config, d, "train")})
    for entry in wanted:
        _check_training(f"grid.experiments.{name}.train_institutions", entry, everywhere)
    return [entry for entry in wanted if set(pooled_institutions(entry)) <= set(available)]


def _check_shots(config: dict, key: str, dataset: str, institution: str, shots: object) -> str:
    """Shots as their folder label; k must fit every institution of a pool (k from each)."""
    shots = parse_shots(shots, key)
    if shots == ALL_SHOTS:
        return ALL_SHOTS
    for member in pooled_institutions(institution):
        pool = shot_pool(config, dataset, member)
        if pool is not None and shots > pool:
            raise ConfigError(
                f"config key '{key}': {shots} shots is impossible for {dataset}/{member}, "
                f"which has {pool} training documents after the dev carve"
            )
    return str(shots)


def experiment_cells(config: dict, name: str, models: Iterable[str]) -> list[tuple]:
    """The cells of one experiment as tuples in `CELL_FIELDS` order."""
    grid = config.get("grid") or {}
    experiment = grid["experiments"][name] or {}
    prefix = f"grid.experiments.{name}"
    datasets = _axis(experiment, grid, "datasets", sorted(config["datasets"]))
    _check_members(f"{prefix}.datasets", datasets, config["datasets"], "dataset")
    model_names = _axis(experiment, grid, "models", [])
    _check_members(f"{prefix}.models", model_names, models, "model")
    strategies = _axis(experiment, grid, "strategies", STRATEGY_NAMES)
    lengths = [int(n) for n in _axis(experiment, grid, "prompt_lengths", [])]
    if set(SOFT_STRATEGIES).intersection(strategies) and not lengths:
        raise ConfigError(f"config key '{prefix}.prompt_lengths': soft strategies need one")
    seeds = [int(n) for n in _axis(experiment, grid, "seeds", [])]
    if not model_names or not seeds:
        raise ConfigError(f"config key 'grid': experiment '{name}' has no models or no seeds")
    variants = [(s, n) for s in strategies for n in (lengths if s in SOFT_STRATEGIES else [0])]
    cells = []
    for dataset in datasets:
        for institution in _train_institutions(config, name, experiment, dataset):
            shots = [
                _check_shots(config, f"{prefix}.shots", dataset, institution, k)
                for k in _axis(experiment, grid, "shots", [ALL_SHOTS])
            ]
            for model, (strategy, length), k, seed in itertools.product(
                model_names, variants, shots, seeds
            ):
                cells.append((dataset, model, strategy, length, k, institution, seed))
    return cells


def _selected(frame: pd.DataFrame, select: dict | None) -> pd.DataFrame:
    for key, values in (select or {}).items():
        if key not in CELL_FIELDS:
            raise ConfigError(
                f"config key 'select.{key}' is not known (allowed here: {', '.join(CELL_FIELDS)})"
            )
        values = values if isinstance(values, list) else [values]
        frame = frame[frame[key].astype(str).isin([str(v) for v in values])]
    return frame


def grid_frame(config: dict, models: Iterable[str]) -> pd.DataFrame:
    """Every cell of the grid once, with the comma-joined experiments it belongs to."""
    models = list(models)
    membership: dict[tuple, list[str]] = {}
    for name in (config.get("grid") or {}).get("experiments") or {}:
        for cell in experiment_cells(config, name, models):
            membership.setdefault(cell, []).append(name)
    frame = pd.DataFrame(list(membership), columns=list(CELL_FIELDS))
    frame["experiments"] = [",".join(names) for names in membership.values()]
    frame = _selected(frame, config.get("select"))
    return frame.sort_values(list(CELL_FIELDS), key=_sort_key).reset_index(drop=True)


def _sort_key(column: pd.Series) -> pd.Series:
    if column.name == "shots":
        return column.map(lambda k: float("inf") if k == ALL_SHOTS else int(k))
    return column


def metrics_files(config: dict, frame: pd.DataFrame, root: str = "results") -> list[str]:
    """The metrics JSON of every cell and test institution of the grid."""
    tests = {dataset: institutions(config, dataset, "test") for dataset in config["datasets"]}
    return [
        str(Cell.from_record(row).folder(root) / "metrics" / f"{test}.json")
        for _, row in frame.iterrows()
        for test in tests[row["dataset"]]
    ]


def cell_metrics_paths(
    config: dict,
    models: Iterable[str],
    cell: dict,
    test_institution: str | None = None,
    root: str = "results",
) -> list[str]:
    """The metrics files of one cell (all test institutions, or one), after checking the cell.

    `cell` has the `CELL_FIELDS` keys; an impossible cell is a `ConfigError` naming the axis.
    """
    dataset = cell["dataset"]
    _check_members("dataset", [dataset], config["datasets"], "dataset")
    _check_members("model", [cell["model"]], models, "model")
    _check_members("strategy", [cell["strategy"]], STRATEGY_NAMES, "strategy")
    soft = Strategy.named(cell["strategy"]).soft
    if soft != (cell["prompt_length"] > 0):
        need = "a prompt length >= 1" if soft else "prompt length 0 (no soft prompt)"
        raise ConfigError(f"config key 'prompt_length': strategy {cell['strategy']} needs {need}")
    train = institutions(config, dataset, "train")
    _check_training("train_institution", cell["train_institution"], train)
    shots = _check_shots(config, "shots", dataset, cell["train_institution"], cell["shots"])
    tests = institutions(config, dataset, "test")
    if test_institution is not None:
        _check_members("test_institution", [test_institution], tests, "institution")
        tests = [test_institution]
    folder = Cell.from_record({**cell, "shots": shots}).folder(root)
    return [str(folder / "metrics" / f"{test}.json") for test in tests]


def write_grid(cells: list[dict], path: Path) -> None:
    """The grid frame (records as `grid_frame` makes them) written atomically as Parquet."""
    frame = pd.DataFrame(cells, columns=[*CELL_FIELDS, "experiments"])
    frame = frame.astype({"prompt_length": "int64", "seed": "int64", "shots": "str"})
    atomic_write_parquet(frame, path)


def gpu_hours(frame: pd.DataFrame, models: dict) -> pd.DataFrame:
    """Per model: cells, GPUs per training job and the GPU hours the grid may take at most
    (each job's GPUs x its registry wall-time limit; a finished cell's real time is lower)."""
    from clinprompt.registry import job_gpus

    spec = frame["model"].map(models)
    gpus = [job_gpus(s, strategy) for s, strategy in zip(spec, frame["strategy"], strict=True)]
    plan = pd.DataFrame(
        {"model": frame["model"], "gpus": gpus, "hours": [s.runtime_minutes / 60 for s in spec]}
    )
    plan["gpu_hours"] = plan["gpus"] * plan["hours"]
    table = plan.groupby("model", sort=False).agg(
        cells=("gpus", "size"),
        min_gpus=("gpus", "min"),
        max_gpus=("gpus", "max"),
        gpu_hours=("gpu_hours", "sum"),
    )
    return table.reset_index()
