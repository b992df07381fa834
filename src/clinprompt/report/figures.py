"""The paper's figures from the tidy metrics table.

In: the tidy table of `clinprompt.report.tidy.tidy_metrics` (or its Parquet). Out: PNG and
SVG of
`strategies` (strict F1 of concepts and relations per model, grouped bars per strategy),
`prompt_length` (F1 vs soft-prompt length), `few_shot` (F1 vs training documents, log x, `all`
at the right end), `cross_institution` (heat maps train x test institution per strategy),
`frozen_gap` (soft-frozen minus soft F1 vs total parameters, log x) and `cost` (F1 vs training
time, log x). Points are means over seeds and error bars their sample sd; the frozen gap's bar
is the sd of a difference of independent means, sqrt(sd_a^2 + sd_b^2). Every figure is drawn on
a bare `Figure` (Agg canvas, no pyplot state) and written atomically; a figure whose experiment
has no cells says so instead of plotting. The dictionary baseline
(`clinprompt.predict.baseline`) appears
in `strategies` only, as a grey dashed line per panel (it has no model); the other figures leave
it out. `learning_curve_figure` draws one cell's dev F1 and training loss per epoch for its card,
inlined as a PNG data URI by `figure_data_uri`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from clinprompt.atomic import atomic_file
from clinprompt.predict.baseline import DICTIONARY
from clinprompt.report.tables import no_cells
from clinprompt.report.tidy import (
    SYSTEM_KEYS,
    TIDY_COLUMNS,
    in_experiment,
    in_institution,
    models_by_size,
    read_table,
    seed_statistics,
    study_order,
)
from clinprompt.study import STRATEGY_NAMES

log = logging.getLogger(__name__)

FIGURES = ("strategies", "prompt_length", "few_shot", "cross_institution", "frozen_gap", "cost")
# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
STRATEGY_COLOURS = {
    **dict(zip(STRATEGY_NAMES, ("#0072B2", "#E69F00", "#009E73", "#D55E00"), strict=True)),
    DICTIONARY: "#7F7F7F",  # neutral grey: a reference, not a strategy of the study
}
MODEL_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
MODEL_LINES = ("-", "--", ":", "-.")
TASK_NAMES = {"concepts": "concepts", "relations": "end-to-end relations", "events": "events"}


def _empty(message: str) -> Figure:
    figure = Figure(figsize=(6, 2))
    figure.text(0.5, 0.5, message, ha="center", va="center", fontsize=12)
    return figure


def _strict(tidy: pd.DataFrame, experiment: str, dictionary: bool = False) -> pd.DataFrame:
    """Seed statistics of strict F1 (and events) of an experiment's cells; the dictionary
    baseline's rows only with `dictionary`."""
    stats = seed_statistics(in_experiment(tidy, experiment))
    keep = stats["mode"] != "lenient"
    if not dictionary:
        keep &= stats["strategy"] != DICTIONARY
    return stats[keep]


def _panels(stats: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """(dataset label, task, rows) per panel: one per dataset, test institution and task."""
    panels = []
    keys = ["dataset", "test_institution", "task"]
    for (dataset, test, task), rows in study_order(stats, keys).groupby(keys, sort=False):
        several = stats.loc[stats["dataset"] == dataset, "test_institution"].nunique() > 1
        panels.append((f"{dataset} ({test})" if several else dataset, task, rows))
    return panels


def _grid(count: int, width: float = 5.0, height: float = 3.6) -> tuple[Figure, list[Axes]]:
    columns = min(count, 3)
    rows = -(-count // columns)
    figure = Figure(figsize=(width * columns, height * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for extra in axes[count:]:
        extra.set_visible(False)
    return figure, list(axes[:count])


def _model_styles(models: Sequence[str]) -> dict[str, tuple[str, str]]:
    """A marker and a line style per model, in the order given."""
    return {
        model: (MODEL_MARKERS[i % len(MODEL_MARKERS)], MODEL_LINES[i % len(MODEL_LINES)])
        for i, model in enumerate(models)
    }


def _f1_axis(axis: Axes, title: str) -> None:
    axis.set_title(title)
    axis.set_ylabel("strict micro F1")
    axis.set_ylim(0, 1.02)
    axis.grid(axis="y", alpha=0.3)


def _error(sd: pd.Series) -> np.ndarray:
    return sd.fillna(0).to_numpy()


def system_label(strategy: str, prompt_length: int) -> str:
    """The strategy, with its prompt length when it has one."""
    return strategy if prompt_length == 0 else f"{strategy} (p={prompt_length})"


def legend(figure: Figure, axes: Sequence[Axes], title: str | None = None) -> None:
    """One legend for all panels, outside them on the right."""
    entries: dict[str, object] = {}
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    figure.legend(
        list(entries.values()),
        list(entries),
        loc="outside right upper",
        title=title,
        fontsize="small",
    )


def strategies_figure(tidy: pd.DataFrame) -> Figure:
    """Grouped bars: strict F1 per model (by size), one bar per strategy, where trained; the
    dictionary baseline as a grey dashed line across each panel."""
    stats = in_institution(_strict(tidy, "main", dictionary=True))
    stats = stats[stats["task"].isin(["concepts", "relations"])]
    trained = stats[stats["strategy"] != DICTIONARY]
    if trained.empty:
        return _empty(no_cells("main"))
    models = models_by_size(trained)
    systems = study_order(trained[["strategy", "prompt_length"]].drop_duplicates(), ["strategy"])
    width = 0.8 / len(systems)
    figure, axes = _grid(len(_panels(stats)), width=max(5.0, 1.4 * len(models)))
    for axis, (dataset, task, rows) in zip(axes, _panels(stats), strict=True):
        for i, (strategy, length) in enumerate(systems.itertuples(index=False)):
            bars = rows[(rows["strategy"] == strategy) & (rows["prompt_length"] == length)]
            bars = bars.set_index("model").reindex(models)
            axis.bar(
                np.arange(len(models)) + (i - (len(systems) - 1) / 2) * width,
                bars["mean"],
                width,
                yerr=_error(bars["sd"]),
                capsize=2,
                label=system_label(strategy, length),
                color=STRATEGY_COLOURS[strategy],
            )
        for mean in rows.loc[rows["strategy"] == DICTIONARY, "mean"]:
            axis.axhline(
                mean,
                color=STRATEGY_COLOURS[DICTIONARY],
                linestyle="--",
                linewidth=1.5,
                label="dictionary (no model)",
            )
        axis.set_xticks(np.arange(len(models)), models, rotation=20, ha="right")
        axis.set_xlabel("model (by size)")
        _f1_axis(axis, f"{dataset}: {TASK_NAMES[task]}")
    legend(figure, axes, "strategy")
    figure.suptitle("Strategies compared per model (mean ± sd over seeds)")
    return figure


def _lines(axis: Axes, rows: pd.DataFrame, x: str, styles: dict, per_length: bool) -> None:
    """One line per model and system: colour = strategy, marker and dash = model.

    With `per_length`, each prompt length is its own system; otherwise it runs along x.
    """
    keys = ["model", "strategy", "prompt_length"] if per_length else ["model", "strategy"]
    for key, line in rows.groupby(keys, sort=False):
        model, strategy = key[:2]
        label = system_label(strategy, key[2]) if per_length else strategy
        marker, dash = styles[model]
        axis.errorbar(
            line[x],
            line["mean"],
            yerr=_error(line["sd"]),
            marker=marker,
            linestyle=dash,
            capsize=2,
            color=STRATEGY_COLOURS[strategy],
            label=f"{model}, {label}",
        )


def prompt_length_figure(tidy: pd.DataFrame) -> Figure:
    """Strict F1 vs soft-prompt length, where trained."""
    stats = in_institution(_strict(tidy, "prompt_length"))
    if stats.empty:
        return _empty(no_cells("prompt_length"))
    stats = study_order(stats, ["model", "strategy", "prompt_length"])
    styles = _model_styles(models_by_size(stats))
    figure, axes = _grid(len(_panels(stats)))
    for axis, (dataset, task, rows) in zip(axes, _panels(stats), strict=True):
        _lines(axis, rows, "prompt_length", styles, per_length=False)
        axis.set_xticks(sorted(stats["prompt_length"].unique()))
        axis.set_xlabel("prompt length (virtual tokens)")
        _f1_axis(axis, f"{dataset}: {TASK_NAMES[task]}")
    legend(figure, axes, "model, strategy")
    figure.suptitle("F1 vs soft-prompt length (mean ± sd over seeds)")
    return figure


def shot_positions(shots: pd.Series) -> tuple[pd.Series, list[float], list[str]]:
    """x positions of shot counts on a log axis, `all` at 3x the largest count, and ticks."""
    numeric = sorted({int(k) for k in shots if k != "all"})
    full = numeric[-1] * 3 if numeric else 1
    positions = shots.map(lambda k: full if k == "all" else int(k)).astype(float)
    ticks = [*numeric, full] if "all" in set(shots) else numeric
    labels = [*map(str, numeric), "all"] if "all" in set(shots) else list(map(str, numeric))
    return positions, [float(t) for t in ticks], labels


def few_shot_figure(tidy: pd.DataFrame) -> Figure:
    """Strict F1 vs the number of training documents (log x; `all` marked), where trained."""
    stats = in_institution(_strict(tidy, "few_shot"))
    if stats.empty:
        return _empty(no_cells("few_shot"))
    stats = study_order(stats, ["model", "strategy", "shots"])
    positions, ticks, labels = shot_positions(stats["shots"])
    stats = stats.assign(x=positions)
    styles = _model_styles(models_by_size(stats))
    figure, axes = _grid(len(_panels(stats)))
    for axis, (dataset, task, rows) in zip(axes, _panels(stats), strict=True):
        _lines(axis, rows, "x", styles, per_length=True)
        axis.set_xscale("log")
        axis.set_xticks(ticks, labels)
        axis.minorticks_off()
        axis.set_xlabel("training documents (shots)")
        _f1_axis(axis, f"{dataset}: {TASK_NAMES[task]}")
    legend(figure, axes, "model, strategy")
    figure.suptitle("Few-shot learning (mean ± sd over seeds)")
    return figure


def cross_institution_figure(tidy: pd.DataFrame) -> Figure:
    """Heat maps of strict F1, trained at (rows) x tested at (columns), per strategy."""
    stats = _strict(tidy, "main")
    several = stats.groupby("dataset")["test_institution"].transform("nunique") > 1
    stats = stats[several & stats["task"].isin(["concepts", "relations"])]
    if stats.empty:
        return _empty("no dataset with several institutions in experiment 'main'")
    stats = study_order(stats, ["dataset", "model", "task", "strategy", "prompt_length"])
    panels = list(stats.groupby(["dataset", "model", "task"], sort=False))
    systems = stats[["strategy", "prompt_length"]].drop_duplicates()
    systems = list(study_order(systems, ["strategy"]).itertuples(index=False))
    figure = Figure(figsize=(2.8 * len(systems) + 1, 2.6 * len(panels)), layout="constrained")
    axes = figure.subplots(len(panels), len(systems), squeeze=False)
    image = None
    for row, ((dataset, model, task), rows) in enumerate(panels):
        for column, (strategy, length) in enumerate(systems):
            cells = rows[(rows["strategy"] == strategy) & (rows["prompt_length"] == length)]
            matrix = cells.pivot(
                index="train_institution", columns="test_institution", values="mean"
            )
            image = _heatmap(axes[row, column], matrix)
            title = f"{system_label(strategy, length)}\n{dataset}, {model}, {task}"
            axes[row, column].set_title(title, fontsize=9)
    figure.colorbar(image, ax=axes, label="strict micro F1 (mean over seeds)", shrink=0.6)
    figure.suptitle("Cross-institution transfer: trained at (rows) → tested at (columns)")
    return figure


def _heatmap(axis: Axes, matrix: pd.DataFrame):
    image = axis.imshow(matrix.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis")
    axis.set_xticks(range(matrix.shape[1]), matrix.columns)
    axis.set_yticks(range(matrix.shape[0]), matrix.index)
    axis.set_xlabel("tested at")
    axis.set_ylabel("trained at")
    for (i, j), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
        if not np.isnan(value):
            colour = "black" if value > 0.6 else "white"
            axis.text(j, i, f"{value:.3f}", ha="center", va="center", color=colour, fontsize=8)
    return image


def frozen_gaps(stats: pd.DataFrame) -> pd.DataFrame:
    """soft-frozen minus soft mean F1 per model and panel, with the sd of that difference."""
    keys = [key for key in SYSTEM_KEYS if key != "strategy"]
    both = stats[stats["strategy"] == "soft-frozen"].merge(
        stats[stats["strategy"] == "soft"], on=keys, suffixes=("_frozen", "_soft")
    )
    gaps = pd.DataFrame(
        {
            "gap": both["mean_frozen"] - both["mean_soft"],
            "sd": np.sqrt(both["sd_frozen"].fillna(0) ** 2 + both["sd_soft"].fillna(0) ** 2),
            "total": both["total_frozen"],
        }
    )
    return pd.concat([both[keys], gaps], axis=1).sort_values("total")


def frozen_gap_figure(tidy: pd.DataFrame) -> Figure:
    """The frozen minus unfrozen soft-prompt gap in strict F1 against model size."""
    gaps = frozen_gaps(in_institution(_strict(tidy, "main")))
    if gaps.empty:
        return _empty("no soft / soft-frozen pairs in experiment 'main'")
    figure = Figure(figsize=(9, 4.5), layout="constrained")
    axis = figure.subplots()
    for dataset, task, line in _panels(gaps):
        axis.errorbar(
            line["total"],
            line["gap"],
            yerr=line["sd"],
            marker="o",
            capsize=3,
            label=f"{dataset}: {TASK_NAMES[task]}",
        )
    axis.axhline(0, color="grey", linewidth=1)
    axis.set_xscale("log")
    axis.set_xlabel("total parameters (log scale)")
    axis.set_ylabel("F1(soft-frozen) - F1(soft)")
    axis.set_title("Frozen minus unfrozen soft prompts vs model size (strict micro F1)")
    axis.grid(alpha=0.3)
    legend(figure, [axis])
    return figure


def cost_figure(tidy: pd.DataFrame) -> Figure:
    """Strict F1 against training time (log x) of the main cells, where trained."""
    stats = in_institution(_strict(tidy, "main"))
    if stats.empty:
        return _empty(no_cells("main"))
    styles = _model_styles(models_by_size(stats))
    figure, axes = _grid(len(_panels(stats)))
    for axis, (dataset, task, rows) in zip(axes, _panels(stats), strict=True):
        for (model, strategy, length), points in rows.groupby(
            ["model", "strategy", "prompt_length"], sort=False
        ):
            axis.errorbar(
                points["train_seconds"],
                points["mean"],
                yerr=_error(points["sd"]),
                marker=styles[model][0],
                linestyle="none",
                capsize=2,
                color=STRATEGY_COLOURS[strategy],
                label=f"{model}, {system_label(strategy, length)}",
            )
        axis.set_xscale("log")
        axis.set_xlabel("training time (s, log scale, mean over seeds)")
        _f1_axis(axis, f"{dataset}: {TASK_NAMES[task]}")
    legend(figure, axes, "model, strategy")
    figure.suptitle("F1 vs training cost (colour = strategy, marker = model)")
    return figure


BUILDERS: dict[str, Callable[[pd.DataFrame], Figure]] = {
    "strategies": strategies_figure,
    "prompt_length": prompt_length_figure,
    "few_shot": few_shot_figure,
    "cross_institution": cross_institution_figure,
    "frozen_gap": frozen_gap_figure,
    "cost": cost_figure,
}


def save_figure(figure: Figure, folder: Path, name: str) -> list[Path]:
    """`{name}.png` (150 dpi) and `{name}.svg` in `folder`, each written atomically."""
    paths = []
    for ext in ("png", "svg"):
        path = Path(folder) / f"{name}.{ext}"
        with atomic_file(path) as tmp:
            figure.savefig(tmp, format=ext, dpi=150)
        paths.append(path)
    return paths


def write_figures(tidy: pd.DataFrame, folder: Path) -> list[Path]:
    """Every figure of the paper as PNG and SVG in `folder`."""
    paths = []
    for name in FIGURES:
        paths += save_figure(BUILDERS[name](tidy), folder, name)
        log.info("figure %s written", name)
    return paths


def write_figures_from(tidy_path: Path, folder: Path) -> list[Path]:
    """Every figure from the tidy table's Parquet."""
    return write_figures(read_table(tidy_path, TIDY_COLUMNS), folder)
