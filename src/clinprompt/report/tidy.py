"""The tidy metrics table: every cell's metrics files read, checked and laid out long.

In: the metrics JSON of every cell and test institution (written by `clinprompt.score.cell`) and
the grid frame of `clinprompt.grid` (one row per cell with its comma-joined `experiments`).
Out: `tidy_metrics`, one row per cell x test institution x task (`concepts`, `relations`, and
`events` for SDoH, whose mode is `challenge`) x mode x metric with its value, bootstrap
interval, the cell's columns, experiments and cost; the selections and the study's sort order
that the tables and figures share; and the mean ± sample sd over seeds of each system.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clinprompt.atomic import atomic_write_parquet
from clinprompt.errors import InvalidInputError
from clinprompt.predict.baseline import DICTIONARY
from clinprompt.score.n2c2 import COUNTS, METRICS, MicroScore
from clinprompt.study import CELL_FIELDS, STRATEGY_NAMES

log = logging.getLogger(__name__)

TASKS = {"entities": "concepts", "relations": "relations", "events": "events"}
COST_COLUMNS = (
    "trainable",
    "total",
    "share",
    "train_seconds",
    "tokens_per_second",
    "peak_memory_mb",
)
# A system tested at one institution, on one task and mode: a cell's fields but the seed.
SYSTEM_KEYS = (*CELL_FIELDS[:-1], "test_institution", "task", "mode")
TIDY_COLUMNS = (
    *CELL_FIELDS,
    "test_institution",
    "experiments",
    "task",
    "mode",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    *COST_COLUMNS,
)
ORDERS = {
    "strategy": (DICTIONARY, *STRATEGY_NAMES),
    "task": tuple(TASKS.values()),
    "mode": ("strict", "lenient", "challenge"),
}


@dataclass(frozen=True)
class CellScores:
    """One metrics file: its cell (with test institution and experiments), report, tidy rows."""

    path: Path
    cell: dict
    report: dict
    rows: tuple[dict, ...]

    @property
    def experiments(self) -> list[str]:
        """The experiments the cell belongs to."""
        return self.cell["experiments"].split(",")

    def document_counts(self) -> tuple[str, dict[tuple[str, str], np.ndarray]]:
        """The document digest and tp/fp/fn per document (documents, 3) per (task, mode)."""
        block = self.report.get("per_document")
        if block is None:
            raise InvalidInputError(f"{self.path}: no per-document counts (score the cell again)")
        counts = {}
        try:
            for target, task in TASKS.items():
                for mode, vectors in block.get(target, {}).items():
                    columns = [np.array(vectors[name].split(), dtype=np.int64) for name in COUNTS]
                    counts[task, mode] = np.stack(columns, axis=1).reshape(block["documents"], 3)
            return str(block["digest"]), counts
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise InvalidInputError(
                f"{self.path}: malformed per-document counts ({type(err).__name__}: {err})"
            ) from None


# --------------------------------------------------------------------------- reading


def read_table(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    """A Parquet table that must hold `columns` (the grid, the tidy table)."""
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise InvalidInputError(f"{path}: not a readable Parquet table ({err})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"{path}: the table lacks the columns {', '.join(missing)}")
    return frame


def read_grid(path: Path) -> pd.DataFrame:
    """The grid frame written by `clinprompt.grid.write_grid`."""
    return read_table(path, [*CELL_FIELDS, "experiments"])


def _cell_key(cell: dict) -> tuple:
    """A cell's fields as a grid key; shots stay text (`all` or a number), as in the tables."""
    return (
        cell["dataset"],
        cell["model"],
        cell["strategy"],
        int(cell["prompt_length"]),
        str(cell["shots"]),
        cell["train_institution"],
        int(cell["seed"]),
    )


def _micro_scores(report: dict) -> Iterable[tuple[str, str, MicroScore]]:
    """(task, mode, micro score) of every scored target and mode of a report."""
    for target in ("entities", "relations"):
        for mode in ("strict", "lenient"):
            yield TASKS[target], mode, MicroScore.read(report, target, mode)
    if "events" in report:
        yield TASKS["events"], "challenge", MicroScore.of(report["events"]["micro"])


def _tidy_rows(cell: dict, report: dict) -> Iterable[dict]:
    cost = report["cost"]
    costs = {**cost["parameters"], **{k: cost[k] for k in COST_COLUMNS[3:]}}
    costs = {name: float(costs[name]) for name in COST_COLUMNS}
    for task, mode, score in _micro_scores(report):
        for metric in METRICS:
            low, high = score.ci.get(metric, (np.nan, np.nan))
            yield {
                **cell,
                "task": task,
                "mode": mode,
                "metric": metric,
                "value": float(getattr(score, metric)),
                "ci_low": float(low),
                "ci_high": float(high),
                **costs,
            }


def _read_scores(path: Path, experiments: dict[tuple, str]) -> CellScores:
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
        key = _cell_key(report["cell"])
        if key not in experiments:
            raise InvalidInputError(f"{path}: its cell {key} is not in the grid")
        cell = {
            **dict(zip(CELL_FIELDS, key, strict=True)),
            "test_institution": str(report["cell"]["test_institution"]),
            "experiments": experiments[key],
        }
        return CellScores(Path(path), cell, report, tuple(_tidy_rows(cell, report)))
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: metrics file not found") from None
    except json.JSONDecodeError as err:
        raise InvalidInputError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise InvalidInputError(
            f"{path}: not a cell's metrics file ({type(err).__name__}: {err})"
        ) from None


def read_scores(paths: Sequence[Path], grid: pd.DataFrame) -> list[CellScores]:
    """Every metrics file, checked, with the experiments of its cell from the grid."""
    experiments = {_cell_key(row): row["experiments"] for row in grid.to_dict("records")}
    scores = [_read_scores(path, experiments) for path in paths]
    seen: dict[tuple, Path] = {}
    for item in scores:
        key = (*_cell_key(item.cell), item.cell["test_institution"])
        if key in seen:
            raise InvalidInputError(f"{item.path}: same cell and test institution as {seen[key]}")
        seen[key] = item.path
    log.info("read %d metrics files", len(scores))
    return scores


def tidy_frame(scores: Sequence[CellScores]) -> pd.DataFrame:
    """The tidy table of already read metrics files."""
    rows = [row for item in scores for row in item.rows]
    frame = pd.DataFrame(rows, columns=list(TIDY_COLUMNS))
    return frame.astype({"prompt_length": "int64", "seed": "int64", "shots": "str"})


def tidy_metrics(paths: Sequence[Path], grid: pd.DataFrame) -> pd.DataFrame:
    """One row per cell x test institution x task x mode x metric, with cell, experiments, cost."""
    return tidy_frame(read_scores(paths, grid))


def write_tidy_metrics(paths: Sequence[Path], grid_path: Path, out: Path) -> pd.DataFrame:
    """The tidy table of the metrics files, written atomically as Parquet."""
    tidy = tidy_metrics(paths, read_grid(grid_path))
    atomic_write_parquet(tidy, out)
    return tidy


# --------------------------------------------------------------------------- seeds


def in_experiment(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of a tidy frame whose cell belongs to experiment `name`."""
    member = [name in names.split(",") for names in frame["experiments"]]
    return frame[np.array(member, dtype=bool)]


def in_institution(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows tested on the institution the cell was trained at."""
    return frame[frame["train_institution"] == frame["test_institution"]]


def models_by_size(frame: pd.DataFrame) -> list[str]:
    """The frame's models from the smallest to the largest (total parameters, then name)."""
    sizes = frame.groupby("model")["total"].mean()
    return sorted(sizes.index, key=lambda model: (sizes[model], model))


def study_order(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Rows sorted by `keys` in the study's order.

    Models run from the smallest to the largest, strategies, tasks and modes as the study lists
    them, shots by number with `all` last; other columns sort as they are.
    """
    orders = {**ORDERS, "model": models_by_size(frame)} if "total" in frame else ORDERS

    def key(column: pd.Series) -> pd.Series:
        if column.name in orders:
            return column.map({value: i for i, value in enumerate(orders[column.name])})
        if column.name == "shots":
            return column.map(lambda k: float("inf") if k == "all" else float(k))
        return column

    return frame.sort_values(list(keys), key=key, kind="stable").reset_index(drop=True)


def seed_statistics(tidy: pd.DataFrame, metric: str = "f1") -> pd.DataFrame:
    """Mean, sample sd and number of seeds of `metric` per system; cost means alongside."""
    rows = tidy[tidy["metric"] == metric]
    stats = rows.groupby(list(SYSTEM_KEYS), sort=False).agg(
        mean=("value", "mean"),
        sd=("value", "std"),
        seeds=("seed", "nunique"),
        total=("total", "mean"),
        share=("share", "mean"),
        train_seconds=("train_seconds", "mean"),
    )
    return study_order(stats.reset_index(), SYSTEM_KEYS)
