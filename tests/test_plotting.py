"""Plots shared by chapters."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils.plotting import (  # noqa: E402
    BOOK_STYLE,
    BOOK_WIDTH,
    MIN_FONT_SIZE,
    heatmap,
    thin_tick_labels,
    training_curves,
    use_book_style,
)

LOG = [
    {"step": 10, "loss": 0.7},
    {"step": 20, "loss": 0.5},
    {"step": 20, "eval_loss": 0.45, "eval_accuracy": 0.8},
    {"step": 40, "loss": 0.3},
    {"step": 40, "eval_loss": 0.4, "eval_accuracy": 0.85},
]


def test_training_curves_draw_train_and_eval_loss_and_the_metric():
    loss_ax, metric_ax = training_curves(LOG)
    assert [len(line.get_xdata()) for line in loss_ax.get_lines()] == [3, 2]
    assert list(metric_ax.get_lines()[0].get_ydata()) == [0.8, 0.85]
    plt.close("all")


def test_training_curves_without_any_loss_says_what_to_set():
    with pytest.raises(ValueError, match="logging_steps"):
        training_curves([{"step": 1, "learning_rate": 1e-5}])


def test_heatmap_annotates_each_cell():
    ax = heatmap(np.array([[5, 1], [2, 7]]), ["neg", "pos"], ["neg", "pos"], fmt="{:d}")
    assert sorted(t.get_text() for t in ax.texts) == ["1", "2", "5", "7"]
    plt.close("all")


def test_heatmap_numbers_are_legible():
    ax = heatmap(np.eye(3))
    assert min(t.get_fontsize() for t in ax.texts) >= MIN_FONT_SIZE
    plt.close("all")


def test_book_style_sets_legible_font_sizes_and_the_dpi():
    with matplotlib.rc_context():
        use_book_style()
        assert matplotlib.rcParams["figure.dpi"] == BOOK_STYLE["figure.dpi"]
        for key, value in BOOK_STYLE.items():
            if "size" in key:
                assert matplotlib.rcParams[key] == value >= MIN_FONT_SIZE, key
        loss_ax, _ = training_curves(LOG)
        assert loss_ax.figure.get_figwidth() <= BOOK_WIDTH
        assert loss_ax.xaxis.get_ticklabels()[0].get_fontsize() >= MIN_FONT_SIZE
        plt.close("all")


def test_heatmaps_side_by_side_can_share_one_colour_scale():
    fig, axes = plt.subplots(1, 2)
    for ax, matrix in zip(axes, ([[0.2, 1.0]], [[0.99, 1.0]])):
        heatmap(matrix, ax=ax, colorbar=False, vmin=0, vmax=1)
    # the same value gets the same colour in both maps
    assert [ax.images[0].get_clim() for ax in axes] == [(0, 1), (0, 1)]
    plt.close(fig)


def shown_boxes(ax):
    renderer = ax.figure.canvas.get_renderer()
    return [
        t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_visible()
    ]


def test_crowded_tick_labels_are_thinned_until_none_touch():
    """Chapter 2's head-by-layer maps: 12 heads in half of the book's width, labels
    upright, read "1011" before."""
    use_book_style()
    fig, axes = plt.subplots(1, 2, figsize=(BOOK_WIDTH, 2.2))
    for ax in axes:
        heatmap(np.random.rand(6, 12), range(6), range(12), ax=ax, annotate=False)
        ax.tick_params(axis="x", labelrotation=0)
    fig.tight_layout()
    before = shown_boxes(axes[0])
    assert any(b.x0 - a.x1 < 3 for a, b in zip(before, before[1:]))  # "1011"
    for ax in axes:
        k = thin_tick_labels(ax)
        boxes = shown_boxes(ax)
        assert 1 < k < 12 and len(boxes) == len(range(0, 12, k))
        assert all(b.x0 - a.x1 >= 3 for a, b in zip(boxes, boxes[1:]))
    plt.close("all")


def test_tick_labels_with_room_are_all_kept():
    fig, ax = plt.subplots(figsize=(BOOK_WIDTH, 2))
    heatmap(np.random.rand(2, 3), ["a", "b"], ["x", "y", "z"], ax=ax, annotate=False)
    fig.tight_layout()
    assert thin_tick_labels(ax) == 1 and len(shown_boxes(ax)) == 3
    plt.close("all")
