"""The paper's tables: `main`, `prompt_length`, `few_shot`, `cross_institution` and `cost`.

In: the cells' metrics files, read by `clinprompt.report.tidy`, and the experiment summaries of
`clinprompt.report.significance`. Out: each table written as Parquet (the numbers, one row per
table cell), HTML and LaTeX (the display); p < 0.05 against fine-tuning is marked with a
dagger. An experiment without cells gives a one-row placeholder, so the workflow's outputs never
depend on the grid.

The dictionary baseline (`clinprompt.predict.baseline`: strategy `dictionary`, model `none`, prompt
length 0, zero trainable parameters) is read like any cell and shown first, as the smallest
"model", in every table of the experiments it belongs to (`main`, `few_shot`); it is not tested
against fine-tuning (there is no fine-tuned `none` model), so its p-value is empty.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from clinprompt.atomic import atomic_write_parquet, atomic_write_text
from clinprompt.predict.baseline import DICTIONARY
from clinprompt.report.significance import experiment_summary
from clinprompt.report.tidy import (
    COST_COLUMNS,
    TASKS,
    CellScores,
    in_institution,
    read_grid,
    read_scores,
    study_order,
    tidy_frame,
)
from clinprompt.study import CELL_FIELDS

log = logging.getLogger(__name__)

TABLES = ("main", "prompt_length", "few_shot", "cross_institution", "cost")
DAGGER = "†"


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
