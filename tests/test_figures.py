"""Figures: every figure written as PNG and SVG, colours fixed per strategy, `all` shots placed
at the right end, the frozen gap equal to the difference of seed means, and a figure that says
so when its experiment has no cells. Metrics come from the real scorer (see test_aggregate)."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer

from clinprompt.aggregate import in_experiment, seed_statistics, tidy_metrics
from clinprompt.atomic import atomic_write_parquet
from clinprompt.errors import InvalidInputError
from clinprompt.figures import (
    FIGURES,
    STRATEGY_COLOURS,
    few_shot_figure,
    frozen_gaps,
    shot_positions,
    strategies_figure,
    write_figures,
    write_figures_from,
)
from tests.test_aggregate import institutions_of, study_grid, write_cell


@pytest.fixture(scope="module")
def tidy(tmp_path_factory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("figures")
    grid = study_grid()
    paths = [
        write_cell(root, row, test, bootstrap=10)
        for row in grid.to_dict("records")
        for test in institutions_of(row["dataset"])
    ]
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
