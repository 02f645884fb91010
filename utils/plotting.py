"""Plots that more than one chapter draws. Each returns its Axes; the chapter calls ``plt.show()``."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def training_curves(log_history: list[dict], metric: str = "eval_accuracy", axes=None):
    """Training loss (and eval loss) per step, and one eval metric, from ``trainer.state.log_history``."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    loss_ax, metric_ax = axes
    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h]
    evals = [h for h in log_history if "eval_loss" in h]
    if not train and not evals:
        raise ValueError("log_history has no 'loss' or 'eval_loss' entries: set logging_steps and eval_strategy")
    if train:
        loss_ax.plot(*zip(*train), label="train loss")
    if evals:
        loss_ax.plot([h["step"] for h in evals], [h["eval_loss"] for h in evals], "o-", label="eval loss")
        if metric in evals[0]:
            metric_ax.plot([h["step"] for h in evals], [h[metric] for h in evals], "o-", color="C2")
    loss_ax.set(xlabel="step", ylabel="cross-entropy (nats)", title="Loss")
    loss_ax.legend()
    metric_ax.set(xlabel="step", ylabel=metric.removeprefix("eval_"), title=metric.removeprefix("eval_").capitalize())
    plt.tight_layout()
    return axes


def heatmap(matrix, row_labels=None, col_labels=None, ax=None, title: str | None = None,
            annotate: bool = True, fmt: str = "{:.2f}", cmap: str = "viridis", colorbar: bool = True):
    """A labelled heatmap (confusion matrices, attention weights), annotated when small enough."""
    matrix = np.asarray(matrix)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * matrix.shape[1] + 2, 0.6 * matrix.shape[0] + 1))
    image = ax.imshow(matrix, cmap=cmap, aspect="auto")
    if row_labels is not None:
        ax.set_yticks(range(len(row_labels)), labels=row_labels)
    if col_labels is not None:
        ax.set_xticks(range(len(col_labels)), labels=col_labels, rotation=90)
    if annotate and matrix.size <= 400:
        middle = (matrix.max() + matrix.min()) / 2
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, fmt.format(value), ha="center", va="center",
                    color="black" if value > middle else "white", fontsize=8)
    if colorbar:
        ax.figure.colorbar(image, ax=ax)
    if title:
        ax.set_title(title)
    return ax
