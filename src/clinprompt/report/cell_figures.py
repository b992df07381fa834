"""One cell's figures, for its `summary.html`: the learning curve, inlined as a PNG `data:` URI.

In: the `history` lines of a cell's `train.json`. Out: a matplotlib `Figure` (dev strict F1
per epoch with the training loss on a second axis) and its PNG as a `data:` URI, so the page
needs no file beside it.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from clinprompt.report.figures import legend


def learning_curve_figure(history: Sequence[Mapping]) -> Figure:
    """One cell's dev strict F1 (concepts, relations, their mean: the selection score) and
    training loss (right axis) per epoch, from the `history` lines of its `train.json`."""
    figure = Figure(figsize=(6, 2.6), layout="constrained")
    axis = figure.subplots()
    epochs = [line["epoch"] for line in history]
    for key, label in (
        ("dev_concepts_f1", "dev concepts F1"),
        ("dev_relations_f1", "dev relations F1"),
        ("dev_score", "dev score (mean)"),
    ):
        if all(key in line for line in history):
            axis.plot(epochs, [line[key] for line in history], marker="o", label=label)
    loss = axis.twinx()
    loss.plot(
        epochs,
        [line["loss"] for line in history],
        color="grey",
        linestyle="--",
        marker=".",
        label="training loss",
    )
    axis.set_ylim(0, 1.02)
    axis.set_xlabel("epoch")
    axis.set_ylabel("dev strict micro F1")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss.set_ylabel("training loss")
    axis.grid(alpha=0.3)
    legend(figure, [axis, loss])
    return figure


def figure_data_uri(figure: Figure, dpi: int = 100) -> str:
    """The figure as a PNG `data:` URI, for a self-contained HTML page."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
