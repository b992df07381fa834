"""Aggregation of the grid's metrics files into a tidy table and the paper's tables.

In: the metrics JSON of every cell and test institution (written by `clinprompt.score.cell`) and
the grid frame of `clinprompt.grid` (one row per cell with its comma-joined `experiments`).
Out: `tidy_metrics`, one row per cell x test institution x task (`concepts`, `relations`, and
`events` for SDoH, whose mode is `challenge`) x mode x metric with its value, bootstrap
interval, the cell's columns, experiments and cost; and the tables `main`, `prompt_length`,
`few_shot`, `cross_institution` and `cost`, each written as Parquet (the numbers, one row per
table cell), HTML and LaTeX (the display). An experiment without cells gives a one-row
placeholder, so the workflow's outputs never depend on the grid.

Seeds: a table cell shows the mean ± sample sd of micro F1 over the seeds. Its 95% interval and
p-value come from one document-level bootstrap per (dataset, test institution), shared by every
system tested there: in each resample a system's F1 is the mean over its seeds of the resampled
micro F1 (documents drawn once, seeds averaged inside the resample), so the interval is that of
the seed-mean F1 and the test is paired on documents. Each strategy is compared with `finetune`
of the same dataset, model, shots, training and test institution, task and mode; the p-value is
the shifted two-sided one of `clinprompt.score.bootstrap`; p < 0.05 is marked with a dagger.

The dictionary baseline (`clinprompt.predict.baseline`: strategy `dictionary`, model `none`, prompt
length 0, zero trainable parameters) is read like any cell and shown first, as the smallest
"model", in every table of the experiments it belongs to (`main`, `few_shot`); it is not tested
against fine-tuning (there is no fine-tuned `none` model), so its p-value is empty.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clinprompt.atomic import atomic_write_parquet, atomic_write_text
from clinprompt.errors import InvalidInputError
from clinprompt.predict.baseline import DICTIONARY
from clinprompt.score.bootstrap import (
    DEFAULT_RESAMPLES,
    percentile_interval,
    resample_weights,
    resampled_scores,
)
from clinprompt.score.n2c2 import COUNTS, METRICS, CountTable, MicroScore, prf
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
TABLES = ("main", "prompt_length", "few_shot", "cross_institution", "cost")
ORDERS = {
    "strategy": (DICTIONARY, *STRATEGY_NAMES),
    "task": tuple(TASKS.values()),
    "mode": ("strict", "lenient", "challenge"),
}
REFERENCE = "finetune"
ALPHA = 0.05
DAGGER = "†"


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


def _systems(scores: Sequence[CellScores]) -> dict[tuple, list[np.ndarray]]:
    """Per-document counts of each system (seeds listed), after checking the documents."""
    digests: dict[tuple[str, str], tuple[str, Path]] = {}
    systems: dict[tuple, list[np.ndarray]] = {}
    for item in scores:
        digest, counts = item.document_counts()
        where = (item.cell["dataset"], item.cell["test_institution"])
        first = digests.setdefault(where, (digest, item.path))
        if first[0] != digest:
            raise InvalidInputError(f"{item.path}: scored on other documents than {first[1]}")
        for (task, mode), table in counts.items():
            key = (*(item.cell[c] for c in SYSTEM_KEYS[:-2]), task, mode)
            systems.setdefault(key, []).append(table)
    return systems


def _resampled_f1(seed_counts: list[np.ndarray], weights: np.ndarray) -> tuple[float, np.ndarray]:
    """Seed-mean micro F1 and seed-mean resampled micro F1 (resamples,)."""
    tables = [CountTable(("all",), counts[:, None, :]) for counts in seed_counts]
    observed = np.mean([prf(table.micro)[2] for table in tables])
    return float(observed), np.mean([resampled_scores(t, weights)[:, 2] for t in tables], axis=0)


def _p_value(observed: float, differences: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "no difference", as in `clinprompt.score.bootstrap`."""
    extreme = np.count_nonzero(np.abs(differences - observed) >= abs(observed))
    return (1 + extreme) / (len(differences) + 1)


def paired_bootstrap(
    scores: Sequence[CellScores], resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> pd.DataFrame:
    """Per system: the bootstrap interval of its seed-mean F1 and p against `finetune`."""
    weights: dict[tuple[str, str], np.ndarray] = {}  # one draw per (dataset, test institution)
    resampled = {}
    for key, seed_counts in _systems(scores).items():
        system = dict(zip(SYSTEM_KEYS, key, strict=True))
        where = (system["dataset"], system["test_institution"])
        if where not in weights:
            weights[where] = resample_weights(len(seed_counts[0]), resamples, seed)
        resampled[key] = _resampled_f1(seed_counts, weights[where])
    rows = []
    for key, (observed, draws) in resampled.items():
        low, high = percentile_interval(draws[:, None])[0]
        dataset, model, strategy, _length, *rest = key
        reference = resampled.get((dataset, model, REFERENCE, 0, *rest))
        p_value = np.nan
        if strategy != REFERENCE and reference is not None:
            p_value = _p_value(observed - reference[0], draws - reference[1])
        rows.append((*key, low, high, p_value))
    frame = pd.DataFrame(rows, columns=[*SYSTEM_KEYS, "ci_low", "ci_high", "p_value"])
    return frame.astype({"prompt_length": "int64", "shots": "str"})


def experiment_summary(
    scores: Sequence[CellScores], name: str, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> pd.DataFrame:
    """F1 mean, sd, seeds, pooled interval, p-value and its mark per system of an experiment."""
    chosen = [item for item in scores if name in item.experiments]
    if not chosen:
        return pd.DataFrame()
    stats = seed_statistics(tidy_frame(chosen))
    summary = stats.merge(paired_bootstrap(chosen, resamples, seed), on=list(SYSTEM_KEYS))
    summary["significant"] = summary["p_value"] < ALPHA
    return summary


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class PaperTable:
    """A table of the paper: its numbers (long, for Parquet) and its display (HTML, LaTeX)."""

    name: str
    caption: str
    numbers: pd.DataFrame
    display: pd.DataFrame


def no_cells(experiment: str) -> str:
    """The note of a table or figure whose experiment has no cells."""
    return f"no cells of experiment '{experiment}' in this grid"


def placeholder(name: str, caption: str, message: str) -> PaperTable:
    """A one-row table that says why there is nothing to show."""
    note = pd.DataFrame({"note": [message]})
    return PaperTable(name, caption, note, note)


NOT_PREDICTED = "–"


def f1_text(row: pd.Series) -> str:
    """`mean ± sd` (sd left out for one seed), with a dagger when p < 0.05; `–` for the
    dictionary's relations, which it never predicts (an F1 of 0 would read as a failure)."""
    if row["strategy"] == DICTIONARY and row["task"] == TASKS["relations"]:
        return NOT_PREDICTED
    text = f"{row['mean']:.4f}"
    if row["seeds"] > 1:
        text += f" ± {row['sd']:.4f}"
    return text + (DAGGER if row["significant"] else "")


def dataset_labels(frame: pd.DataFrame) -> pd.Series:
    """The dataset, with the test institution when the frame tests it at several."""
    several = frame.groupby("dataset")["test_institution"].transform("nunique") > 1
    return frame["dataset"].where(
        ~several, frame["dataset"] + " (" + frame["test_institution"] + ")"
    )


def pivot_display(
    frame: pd.DataFrame, rows: list[str], columns: list[str], label_datasets: bool = True
) -> pd.DataFrame:
    """The F1 texts of `frame` with `rows` as index and `columns` as column levels.

    With `label_datasets`, a dataset tested at several institutions is shown with each one.
    """
    frame = frame.assign(text=frame.apply(f1_text, axis=1))
    if label_datasets:
        frame = frame.assign(dataset=dataset_labels(frame))
    display = frame.pivot(index=rows, columns=columns, values="text")
    row_order = list(dict.fromkeys(frame[rows].itertuples(index=False, name=None)))
    column_order = list(dict.fromkeys(frame[columns].itertuples(index=False, name=None)))
    display = display.reindex(index=row_order, columns=column_order)
    display.index.names = [name.replace("_", " ") for name in rows]
    display.columns.names = [name.replace("_", " ") for name in columns]
    return display


def strict_where_trained(summary: pd.DataFrame) -> pd.DataFrame:
    """Strict (and event) rows of systems tested at their training institution."""
    return in_institution(summary[summary["mode"] != "lenient"])


def transfers(summary: pd.DataFrame) -> pd.DataFrame:
    """Strict rows of datasets tested at several institutions, with `transfer` = train → test."""
    several = summary.groupby("dataset")["test_institution"].transform("nunique") > 1
    summary = summary[several & (summary["mode"] != "lenient")]
    return summary.assign(
        transfer=summary["train_institution"] + " → " + summary["test_institution"]
    )


@dataclass(frozen=True)
class F1Layout:
    """An F1 table: its experiment, caption, the systems it shows, rows and column levels.

    `order` sorts the column levels; shots join the rows when they vary and are no column.
    """

    experiment: str
    caption: str
    select: Callable[[pd.DataFrame], pd.DataFrame]
    columns: tuple[str, ...]
    order: tuple[str, ...]
    rows: tuple[str, ...] = ("model", "strategy", "prompt_length")
    label_datasets: bool = True
    empty: str = ""


F1_NOTE = (
    "micro F1, mean ± sd over seeds; † differs from fine-tuning at p < 0.05 "
    "(paired bootstrap over test documents)"
)
WHERE_TRAINED = ("dataset", "test_institution", "task", "mode")
F1_LAYOUTS = {
    "main": F1Layout(
        "main",
        f"Main results: strict and lenient {F1_NOTE}; the dictionary row (model none) "
        "looks every training mention up in the test text (it predicts no relations: –).",
        in_institution,
        ("dataset", "task", "mode"),
        WHERE_TRAINED,
    ),
    "prompt_length": F1Layout(
        "prompt_length",
        f"Soft-prompt length: strict {F1_NOTE}.",
        strict_where_trained,
        ("dataset", "task", "prompt_length"),
        (*WHERE_TRAINED, "prompt_length"),
        rows=("model", "strategy"),
    ),
    "few_shot": F1Layout(
        "few_shot",
        f"Few-shot learning (training documents per run): strict {F1_NOTE}.",
        strict_where_trained,
        ("dataset", "task", "shots"),
        (*WHERE_TRAINED, "shots"),
    ),
    "cross_institution": F1Layout(
        "main",
        f"Cross-institution transfer (trained at → tested at): strict {F1_NOTE}.",
        transfers,
        ("dataset", "task", "transfer"),
        ("dataset", "task", "mode", "train_institution", "test_institution"),
        label_datasets=False,
        empty="no dataset of experiment 'main' is tested at several institutions",
    ),
}


def f1_table(scores: Sequence[CellScores], name: str) -> PaperTable:
    """The F1 table `name` of `F1_LAYOUTS`, or its placeholder when it has nothing to show."""
    layout = F1_LAYOUTS[name]
    summary = experiment_summary(scores, layout.experiment)
    if summary.empty:
        return placeholder(name, layout.caption, no_cells(layout.experiment))
    summary = layout.select(summary)
    if summary.empty:
        empty = layout.empty or f"no cell of experiment '{layout.experiment}' fits this table"
        return placeholder(name, layout.caption, empty)
    rows = list(layout.rows)
    if "shots" not in layout.columns and summary["shots"].nunique() > 1:
        rows.append("shots")
    summary = study_order(summary, [*rows, *layout.order])
    display = pivot_display(summary, rows, list(layout.columns), layout.label_datasets)
    return PaperTable(name, layout.caption, summary, display)


def cost_table(scores: Sequence[CellScores]) -> PaperTable:
    """Trainable parameters, training time, peak memory and throughput of the main cells."""
    caption = (
        "Cost of the main runs: trainable parameters (share of the model), training "
        "time, peak memory (GPU memory on a GPU, resident memory on a CPU) and "
        "training throughput; mean ± sd over seeds."
    )
    chosen = [item for item in scores if "main" in item.experiments]
    if not chosen:
        return placeholder("cost", caption, no_cells("main"))
    runs = tidy_frame(chosen).drop_duplicates(list(CELL_FIELDS))
    keys = ["dataset", "train_institution", "model", "strategy", "prompt_length"]
    grouped = runs.groupby(keys, sort=False)
    numbers = grouped[list(COST_COLUMNS)].mean()
    numbers["train_seconds_sd"] = grouped["train_seconds"].std()
    numbers["seeds"] = grouped["seed"].nunique()
    numbers = study_order(numbers.reset_index(), keys)
    return PaperTable("cost", caption, numbers, cost_display(numbers, keys))


def cost_display(numbers: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The cost numbers as readable texts."""
    seconds = numbers["train_seconds"].map("{:,.0f}".format)
    spread = numbers["train_seconds_sd"].map(lambda sd: "" if pd.isna(sd) else f" ± {sd:,.0f}")
    display = pd.DataFrame(
        {
            "trainable parameters": numbers["trainable"].map("{:,.0f}".format),
            "share": numbers["share"].map("{:.2%}".format),
            "train time (s)": seconds + spread,
            "peak memory (MB)": numbers["peak_memory_mb"].map("{:,.0f}".format),
            "tokens/s": numbers["tokens_per_second"].map("{:,.0f}".format),
        }
    )
    display.index = pd.MultiIndex.from_frame(numbers[keys])
    display.index.names = [name.replace("_", " ") for name in keys]
    return display


def paper_tables(scores: Sequence[CellScores]) -> list[PaperTable]:
    """Every table of the paper, in `TABLES` order."""
    return [f1_table(scores, name) for name in F1_LAYOUTS] + [cost_table(scores)]


LATEX_SYMBOLS = {"±": r"$\pm$", DAGGER: r"\textsuperscript{\dag}", "→": r"$\rightarrow$", "–": "--"}
TABLE_CSS = [
    {
        "selector": "",
        "props": "border-collapse: collapse; font-family: sans-serif; font-size: 0.9em;",
    },
    {"selector": "caption", "props": "caption-side: top; text-align: left; padding: 0.4em 0;"},
    {"selector": "th, td", "props": "padding: 0.25em 0.6em; border-bottom: 1px solid #ddd;"},
    {"selector": "thead th", "props": "border-bottom: 2px solid #444; text-align: center;"},
    {"selector": "td", "props": "text-align: right; font-variant-numeric: tabular-nums;"},
    {"selector": "tbody th", "props": "text-align: left;"},
]


def table_html(table: PaperTable) -> str:
    """A standalone HTML page with the table and its caption (styles inline)."""
    styler = table.display.style.set_caption(table.caption).set_table_styles(TABLE_CSS)
    styler = styler.format(na_rep="–")
    return styler.to_html(table_uuid=table.name, doctype_html=True)


def table_latex(table: PaperTable) -> str:
    """The table as a LaTeX `table` environment (symbols as commands, so pdflatex takes it)."""
    latex = table.display.to_latex(
        caption=table.caption,
        label=f"tab:{table.name}",
        na_rep="--",
        escape=True,
        multicolumn=True,
        multicolumn_format="c",
        multirow=True,
    )
    for symbol, command in LATEX_SYMBOLS.items():
        latex = latex.replace(symbol, command)
    return latex


def write_table(table: PaperTable, folder: Path) -> list[Path]:
    """`{name}.parquet`, `.html` and `.tex` in `folder`, each written atomically."""
    folder = Path(folder)
    paths = [folder / f"{table.name}.{ext}" for ext in ("parquet", "html", "tex")]
    atomic_write_parquet(table.numbers, paths[0])
    atomic_write_text(paths[1], table_html(table))
    atomic_write_text(paths[2], table_latex(table))
    log.info("table %s: %d rows", table.name, len(table.display))
    return paths


def write_paper_tables(paths: Sequence[Path], grid_path: Path, folder: Path) -> list[Path]:
    """Read the metrics files and write every table of the paper into `folder`."""
    scores = read_scores(paths, read_grid(grid_path))
    return [path for table in paper_tables(scores) for path in write_table(table, folder)]
