"""Attention maps: a grid of heads by layers, drawn from a model's ``output_attentions``.

``plot_attention_grid(outputs.attentions, tokens)`` draws one small heatmap per (layer, head): rows
are layers, columns are heads, and in each map row i holds the weights with which token i (the query)
reads every token (the keys). The chapter calls ``plt.show()``.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np


def stack_attentions(attentions, example: int = 0) -> np.ndarray:
    """One example's attention weights as an array of shape (layers, heads, queries, keys).

    ``attentions`` is Hugging Face's ``outputs.attentions`` (one ``(batch, heads, q, k)`` tensor per
    layer), an array of shape ``(layers, batch, heads, q, k)``, or already ``(layers, heads, q, k)``.
    """
    if isinstance(attentions, (list, tuple)):
        layers = [np.asarray(_to_numpy(a)) for a in attentions]
        if not layers:
            raise ValueError("attentions is empty: run the model with output_attentions=True")
        stacked = np.stack(layers)
    else:
        stacked = np.asarray(_to_numpy(attentions))
    if stacked.ndim == 5:
        stacked = stacked[:, example]
    if stacked.ndim != 4 or stacked.shape[-1] != stacked.shape[-2]:
        raise ValueError(
            f"expected attention weights of shape (layers, [batch,] heads, n, n), got {stacked.shape}"
        )
    return stacked


def _to_numpy(tensor):
    if hasattr(tensor, "detach"):  # a torch tensor, on any device, in any float type
        return tensor.detach().float().cpu().numpy()
    return tensor


def plot_attention_grid(attentions, tokens: Sequence[str] | None = None,
                        layers: Sequence[int] | None = None, heads: Sequence[int] | None = None,
                        example: int = 0, size: float = 1.1, cmap: str = "viridis", title: str | None = None):
    """A grid of attention maps, one row per layer and one column per head; returns the 2-D Axes array.

    ``tokens`` (the example's tokens, without padding) trims the maps to those tokens, so padding
    positions do not show. ``layers``/``heads`` pick rows and columns (default: all). Each map has its
    own colour scale from 0 to its largest weight; with 20 tokens or fewer they are written on the
    axes of the first column and the last row.
    """
    weights = stack_attentions(attentions, example)
    n_layers, n_heads, n, _ = weights.shape
    layers = list(range(n_layers)) if layers is None else list(layers)
    heads = list(range(n_heads)) if heads is None else list(heads)
    for name, chosen, limit in (("layer", layers, n_layers), ("head", heads, n_heads)):
        bad = [i for i in chosen if not -limit <= i < limit]
        if bad or not chosen:
            raise ValueError(f"{name} indices {bad or chosen} out of range: the model has {limit} {name}s")
    if tokens is not None:
        if len(tokens) > n:
            raise ValueError(f"{len(tokens)} tokens but the attention maps cover only {n} positions")
        n = len(tokens)
    fig, axes = plt.subplots(len(layers), len(heads), figsize=(size * len(heads), size * len(layers)),
                             squeeze=False)
    label = tokens is not None and n <= 20
    for r, layer in enumerate(layers):
        for c, head in enumerate(heads):
            ax = axes[r, c]
            ax.imshow(weights[layer, head, :n, :n], cmap=cmap, vmin=0, aspect="equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"head {head % n_heads}", fontsize=8)
            if c == 0:
                ax.set_ylabel(f"layer {layer % n_layers}", fontsize=8)
                if label:
                    ax.set_yticks(range(n), labels=tokens, fontsize=5)
            if label and r == len(layers) - 1:
                ax.set_xticks(range(n), labels=tokens, fontsize=5, rotation=90)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return axes
