"""Figures: every figure written as PNG and SVG, colours fixed per strategy, `all` shots placed
at the right end, the frozen gap equal to the difference of seed means, and a figure that says
so when its experiment has no cells; the dictionary baseline a grey line in the strategies figure
only; a cell's learning curve. Metrics come from the real scorer (see test_aggregate)."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer

from clinprompt.atomic import atomic_write_parquet
from clinprompt.errors import InvalidInputError
from clinprompt.predict.baseline import DICTIONARY
from clinprompt.report.cell_figures import figure_data_uri, learning_curve_figure
from clinprompt.report.figures import (
    FIGURES,
    STRATEGY_COLOURS,
    cost_figure,
    cross_institution_figure,
    few_shot_figure,
    frozen_gaps,
    shot_positions,
    strategies_figure,
    write_figures,
    write_figures_from,
)
from clinprompt.report.tidy import in_experiment, seed_statistics, tidy_metrics
from tests.test_aggregate import (
    study_grid,
    study_grid_with_dictionary,
    write_cells,
)


@pytest.fixture(scope="module")
def tidy(tmp_path_factory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("figures")
    grid = study_grid()
    paths = write_cells(root, grid, 10)
    return tidy_metrics(paths, grid)


def test_every_figure_written_as_png_and_svg(tidy, tmp_path):
    paths = write_figures(tidy[tidy["model"] == "tiny-bert"], tmp_path)
    assert sorted(p.name for p in paths) == sorted(
        f"{name}.{ext}" for name in FIGURES for ext in ("png", "svg")
    )
    for path in paths:
        head = path.read_bytes()[:200]
        assert head.startswith(b"\x89PNG") if path.suffix == ".png" else b"<svg" in head
    assert not list(tmp_path.glob(".*tmp*"))


def test_strategy_colours_are_fixed(tidy):
    axis = strategies_figure(tidy).axes[0]
    bars = [c for c in axis.containers if isinstance(c, BarContainer)]
    colours = {c.get_label(): to_hex(c.patches[0].get_facecolor()) for c in bars}
    assert colours == {
        "finetune": STRATEGY_COLOURS["finetune"].lower(),
        "hard": STRATEGY_COLOURS["hard"].lower(),
        "soft (p=4)": STRATEGY_COLOURS["soft"].lower(),
        "soft-frozen (p=4)": STRATEGY_COLOURS["soft-frozen"].lower(),
    }
    assert axis.get_ylabel() == "strict micro F1" and axis.get_title() == "drug_ade: concepts"


def test_all_shots_at_the_right_end():
    positions, ticks, labels = shot_positions(pd.Series(["all", "2", "16", "all"]))
    assert list(positions) == [48.0, 2.0, 16.0, 48.0]
    assert ticks == [2.0, 16.0, 48.0] and labels == ["2", "16", "all"]
    positions, ticks, labels = shot_positions(pd.Series(["all"]))
    assert list(positions) == [1.0] and labels == ["all"]


def test_few_shot_axis_is_log_with_an_all_tick(tidy):
    axis = few_shot_figure(tidy).axes[0]
    assert axis.get_xscale() == "log"
    assert [t.get_text() for t in axis.get_xticklabels()] == ["2", "all"]


def test_frozen_gap_is_the_difference_of_seed_means(tidy):
    stats = seed_statistics(in_experiment(tidy, "main"))
    gaps = frozen_gaps(stats)
    row = gaps[(gaps["dataset"] == "drug_ade") & (gaps["model"] == "tiny-bert")
               & (gaps["task"] == "concepts") & (gaps["mode"] == "strict")]  # fmt: skip
    means = stats[(stats["dataset"] == "drug_ade") & (stats["model"] == "tiny-bert")
                  & (stats["task"] == "concepts") & (stats["mode"] == "strict")]  # fmt: skip
    means = means.set_index("strategy")["mean"]
    assert row["gap"].item() == pytest.approx(means["soft-frozen"] - means["soft"])
    assert row["total"].item() == 4_000_000 and list(gaps["total"]) == sorted(gaps["total"])


def test_empty_experiment_gives_a_figure_that_says_so(tidy, tmp_path):
    main_only = tidy[tidy["experiments"] == "main"]
    figure = few_shot_figure(main_only)
    message = "no cells of experiment 'few_shot' in this grid"
    assert [t.get_text() for t in figure.texts] == [message]
    paths = write_figures(main_only.iloc[:0], tmp_path)
    assert all(path.stat().st_size > 0 for path in paths)


def test_figures_from_the_tidy_parquet(tidy, tmp_path):
    small = tidy[(tidy["dataset"] == "drug_ade") & (tidy["model"] == "tiny-bert")]
    atomic_write_parquet(small, tmp_path / "metrics.parquet")
    paths = write_figures_from(tmp_path / "metrics.parquet", tmp_path / "figures")
    assert len(paths) == 2 * len(FIGURES)
    with pytest.raises(InvalidInputError, match=r"grid\.parquet: the table lacks the columns"):
        pd.DataFrame({"dataset": ["x"]}).to_parquet(tmp_path / "grid.parquet")
        write_figures_from(tmp_path / "grid.parquet", tmp_path / "figures")
    with pytest.raises(InvalidInputError, match=r"absent\.parquet: not a readable Parquet"):
        write_figures_from(tmp_path / "absent.parquet", tmp_path / "figures")


@pytest.fixture(scope="module")
def tidy_with_dictionary(tmp_path_factory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("figures_dictionary")
    grid = study_grid_with_dictionary()
    grid = grid[grid["model"].isin(["tiny-bert", "none"])]
    paths = write_cells(root, grid, 10)
    return tidy_metrics(paths, grid)


def labels(figure) -> set[str]:
    """Every legend label and panel title of a figure."""
    found = {label for axis in figure.axes for label in axis.get_legend_handles_labels()[1]}
    return found | {axis.get_title() for axis in figure.axes}


def test_dictionary_is_a_grey_line_of_the_strategies_figure_only(tidy_with_dictionary):
    figure = strategies_figure(tidy_with_dictionary)
    axis = figure.axes[0]
    assert [t.get_text() for t in axis.get_xticklabels()] == ["tiny-bert"]
    lines = [line for line in axis.get_lines() if line.get_label() == "dictionary (no model)"]
    assert len(lines) == 1 and lines[0].get_linestyle() == "--"
    assert to_hex(lines[0].get_color()) == STRATEGY_COLOURS[DICTIONARY].lower()
    stats = seed_statistics(in_experiment(tidy_with_dictionary, "main"))
    mean = stats[(stats["strategy"] == DICTIONARY) & (stats["dataset"] == "drug_ade")
                 & (stats["task"] == "concepts") & (stats["mode"] == "strict")]["mean"]  # fmt: skip
    assert lines[0].get_ydata()[0] == pytest.approx(mean.item())
    for other in (few_shot_figure, cost_figure, cross_institution_figure):
        assert not any(DICTIONARY in label for label in labels(other(tidy_with_dictionary)))


def test_learning_curve_of_a_cell():
    history = [{"epoch": e, "loss": 1.0 / e, "dev_score": 0.2 * e, "dev_concepts_f1": 0.3 * e,
                "dev_relations_f1": 0.1 * e} for e in (1, 2, 3)]  # fmt: skip
    figure = learning_curve_figure(history)
    assert {"dev concepts F1", "dev relations F1", "dev score (mean)", "training loss"} <= {
        text.get_text() for legend in figure.legends for text in legend.get_texts()
    }
    assert list(figure.axes[0].get_lines()[0].get_ydata()) == pytest.approx([0.3, 0.6, 0.9])
    uri = figure_data_uri(figure)
    assert uri.startswith("data:image/png;base64,iVBORw0KGgo")
