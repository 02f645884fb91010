"""Plots that more than one chapter draws. Each returns its Axes; the chapter calls
``plt.show()``.

``use_book_style()`` sets the book's figure defaults; each chapter calls it once, in the
cell that first imports pyplot, right after ``%matplotlib inline``.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

# The site shows a figure at its own pixel size up to the width of the content column
# and shrinks wider ones: in a 1280 px window (sphinx-book-theme, both sidebars) that
# column leaves 660 px for an output. A figure at most BOOK_WIDTH inches wide at
# BOOK_DPI is shown at 1:1, so a font size in points is what the reader sees; none is
# below MIN_FONT_SIZE.
BOOK_DPI = 100
BOOK_WIDTH = 6.6
MIN_FONT_SIZE = 9
BOOK_STYLE = {
    "figure.dpi": BOOK_DPI,
    "savefig.dpi": BOOK_DPI,
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 10.5,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 9.5,
    "legend.title_fontsize": 9.5,
    "figure.titlesize": 12,
}


def use_book_style() -> None:
    """The book's figure defaults: 100 dpi and font sizes of 9.5-12 pt, so that text
    in a figure at most ``BOOK_WIDTH`` inches wide is at least 9 pt on the page. Call
    it after ``%matplotlib inline``, which resets some settings."""
    mpl.rcParams.update(BOOK_STYLE)


def training_curves(log_history: list[dict], metric: str = "eval_accuracy", axes=None):
    """Training loss (and eval loss) per step, and one eval metric, from
    ``trainer.state.log_history``."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(BOOK_WIDTH, 3.2))
    loss_ax, metric_ax = axes
    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h]
    evals = [h for h in log_history if "eval_loss" in h]
    if not train and not evals:
        raise ValueError(
            "log_history has no 'loss' or 'eval_loss' entries: "
            "set logging_steps and eval_strategy"
        )
    if train:
        loss_ax.plot(*zip(*train), label="train loss")
    if evals:
        loss_ax.plot(
            [h["step"] for h in evals],
            [h["eval_loss"] for h in evals],
            "o-",
            label="eval loss",
        )
        if metric in evals[0]:
            metric_ax.plot(
                [h["step"] for h in evals], [h[metric] for h in evals], "o-", color="C2"
            )
    loss_ax.set(xlabel="step", ylabel="cross-entropy (nats)", title="Loss")
    loss_ax.legend()
    metric_ax.set(
        xlabel="step",
        ylabel=metric.removeprefix("eval_"),
        title=metric.removeprefix("eval_").capitalize(),
    )
    plt.tight_layout()
    return axes


def heatmap(
    matrix,
    row_labels=None,
    col_labels=None,
    ax=None,
    title: str | None = None,
    annotate: bool = True,
    fmt: str = "{:.2f}",
    cmap: str = "viridis",
    colorbar: bool = True,
    fontsize: float = 10,
    vmin: float | None = None,
    vmax: float | None = None,
):
    """A labelled heatmap (confusion matrices, attention weights), annotated when small
    enough (at most 400 cells) with numbers of ``fontsize`` points. ``vmin``/``vmax``
    fix the colour scale (default: the matrix's own range), so that two maps drawn side
    by side can share it."""
    matrix = np.asarray(matrix)
    if ax is None:
        _, ax = plt.subplots(
            figsize=(0.6 * matrix.shape[1] + 2, 0.6 * matrix.shape[0] + 1)
        )
    image = ax.imshow(matrix, cmap=cmap, aspect="auto", vmin=vmin, vmax=vmax)
    if row_labels is not None:
        ax.set_yticks(range(len(row_labels)), labels=row_labels)
    if col_labels is not None:
        ax.set_xticks(range(len(col_labels)), labels=col_labels, rotation=90)
    if annotate and matrix.size <= 400:
        low = matrix.min() if vmin is None else vmin
        high = matrix.max() if vmax is None else vmax
        middle = (low + high) / 2
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(
                j,
                i,
                fmt.format(value),
                ha="center",
                va="center",
                color="black" if value > middle else "white",
                fontsize=fontsize,
            )
    if colorbar:
        ax.figure.colorbar(image, ax=ax)
    if title:
        ax.set_title(title)
    return ax


def thin_tick_labels(ax, axis: str = "x", gap: float = 3.0) -> int:
    """Show every k-th tick label of ``axis``, with the smallest k at which no two shown
    labels overlap or come closer than ``gap`` pixels (12 heads in a narrow heatmap
    otherwise read "1011"). Call it once the figure is laid out (after
    ``tight_layout``); returns k."""
    renderer = ax.figure.canvas.get_renderer()
    labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    boxes = [label.get_window_extent(renderer) for label in labels]
    lo, hi = ("x0", "x1") if axis == "x" else ("y0", "y1")

    def apart(k):
        shown = sorted(boxes[::k], key=lambda b: getattr(b, lo))
        return all(
            getattr(b, lo) - getattr(a, hi) >= gap for a, b in zip(shown, shown[1:])
        )

    k = next((k for k in range(1, len(labels) + 1) if apart(k)), len(labels) or 1)
    for i, label in enumerate(labels):
        label.set_visible(i % k == 0)
    return k
