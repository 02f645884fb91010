"""Attention maps: a grid of heads by layers, drawn from a model's
``output_attentions``.

``plot_attention_grid(outputs.attentions, tokens)`` draws one heatmap per (layer, head)
for a few layers and heads: rows are layers, columns are heads, and in each map row i
holds the weights with which token i (the query) reads every token (the keys). The
chapter calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from utils.plotting import BOOK_WIDTH


def stack_attentions(attentions, example: int = 0) -> np.ndarray:
    """One example's attention weights as an array of shape (layers, heads, queries,
    keys).

    ``attentions`` is Hugging Face's ``outputs.attentions`` (one ``(batch, heads, q,
    k)`` tensor per layer), an array of shape ``(layers, batch, heads, q, k)``, or
    already ``(layers, heads, q, k)``.
    """
    if isinstance(attentions, (list, tuple)):
        layers = [np.asarray(_to_numpy(a)) for a in attentions]
        if not layers:
            raise ValueError(
                "attentions is empty: run the model with output_attentions=True"
            )
        stacked = np.stack(layers)
    else:
        stacked = np.asarray(_to_numpy(attentions))
    if stacked.ndim == 5:
        stacked = stacked[:, example]
    if stacked.ndim != 4 or stacked.shape[-1] != stacked.shape[-2]:
        raise ValueError(
            "expected attention weights of shape (layers, [batch,] heads, n, n), "
            f"got {stacked.shape}"
        )
    return stacked


def _to_numpy(tensor):
    if hasattr(tensor, "detach"):  # a torch tensor, on any device, in any float type
        return tensor.detach().float().cpu().numpy()
    return tensor


# More maps than this per figure cannot be read at the width of a page.
MAX_MAPS = 6


def _spread(count: int, most: int) -> list[int]:
    """At most ``most`` indices out of ``count``, evenly spread, first and last
    included."""
    if count <= most:
        return list(range(count))
    return sorted({int(i * (count - 1) / (most - 1) + 0.5) for i in range(most)})


def plot_attention_grid(
    attentions,
    tokens: Sequence[str] | None = None,
    layers: Sequence[int] | None = None,
    heads: Sequence[int] | None = None,
    example: int = 0,
    size: float | None = None,
    cmap: str = "viridis",
    title: str | None = None,
    fontsize: float = 9,
):
    """A grid of attention maps, one row per layer and one column per head; returns the
    2-D Axes array.

    ``tokens`` (the example's tokens, without padding) trims the maps to those tokens,
    so padding positions do not show. ``layers``/``heads`` pick rows and columns; by
    default at most 3 layers (first, middle, last) and the first 2 heads, and never
    more than ``MAX_MAPS`` maps, which is what a page can show legibly. Each map,
    ``size`` inches square (by default as large as fits the page's ``BOOK_WIDTH``, up
    to 2.6), has its own colour scale from 0 to its largest weight. The tokens label
    the rows of the first column and the columns of the last row, in ``fontsize``
    points, when a map has room for them (a row at least ``fontsize`` points high).
    """
    weights = stack_attentions(attentions, example)
    n_layers, n_heads, n, _ = weights.shape
    layers = _spread(n_layers, 3) if layers is None else list(layers)
    heads = list(range(min(n_heads, 2))) if heads is None else list(heads)
    for name, chosen, limit in (("layer", layers, n_layers), ("head", heads, n_heads)):
        bad = [i for i in chosen if not -limit <= i < limit]
        if bad or not chosen:
            raise ValueError(
                f"{name} indices {bad or chosen} out of range: "
                f"the model has {limit} {name}s"
            )
    if len(layers) * len(heads) > MAX_MAPS:
        raise ValueError(
            f"{len(layers)} layers x {len(heads)} heads: more than {MAX_MAPS} maps "
            "cannot be read on a page; pick fewer with layers= and heads="
        )
    if tokens is not None:
        if len(tokens) > n:
            raise ValueError(
                f"{len(tokens)} tokens but the attention maps cover only {n} positions"
            )
        n = len(tokens)
    margin = 1.3 if tokens is not None else 0.6  # room for the token labels
    if size is None:
        size = min(2.6, (BOOK_WIDTH - margin) / len(heads))
    label = tokens is not None and size * 72 / n >= fontsize
    fig, axes = plt.subplots(
        len(layers),
        len(heads),
        figsize=(size * len(heads) + margin, size * len(layers) + margin),
        squeeze=False,
    )
    for r, layer in enumerate(layers):
        for c, head in enumerate(heads):
            ax = axes[r, c]
            ax.imshow(weights[layer, head, :n, :n], cmap=cmap, vmin=0, aspect="equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(
                f"layer {layer % n_layers}, head {head % n_heads}",
                fontsize=fontsize + 1,
            )
            if c == 0:
                ax.set_ylabel("query", fontsize=fontsize + 1)
                if label:
                    ax.set_yticks(range(n), labels=tokens, fontsize=fontsize)
            if r == len(layers) - 1:
                ax.set_xlabel("key", fontsize=fontsize + 1)
                if label:
                    ax.set_xticks(
                        range(n), labels=tokens, fontsize=fontsize, rotation=90
                    )
    if title:
        fig.suptitle(title, fontsize=fontsize + 3)
    fig.tight_layout()
    return axes
