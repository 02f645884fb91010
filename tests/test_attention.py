"""utils.attention: the heads-by-layers grid of attention maps."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from utils.attention import plot_attention_grid, stack_attentions  # noqa: E402
from utils.plotting import BOOK_WIDTH, MIN_FONT_SIZE  # noqa: E402


def hf_like(layers=3, batch=2, heads=4, n=6, seed=0):
    """What a Hugging Face model returns with output_attentions=True: one (batch, heads,
    n, n) tensor per layer."""
    g = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(batch, heads, n, n, generator=g).softmax(-1) for _ in range(layers)
    )


def test_stack_picks_one_example():
    attentions = hf_like()
    stacked = stack_attentions(attentions, example=1)
    assert stacked.shape == (3, 4, 6, 6)
    np.testing.assert_allclose(stacked[2, 3], attentions[2][1, 3].numpy())


def test_stack_accepts_arrays_with_and_without_batch():
    five = np.stack([a.numpy() for a in hf_like()])
    assert stack_attentions(five).shape == (3, 4, 6, 6)
    assert stack_attentions(five[:, 0]).shape == (3, 4, 6, 6)


@pytest.mark.parametrize("bad", [np.zeros((2, 3, 4, 5)), np.zeros((4, 4)), ()])
def test_stack_rejects_wrong_shapes(bad):
    with pytest.raises(ValueError):
        stack_attentions(bad)


def test_grid_has_one_map_per_layer_and_head():
    axes = plot_attention_grid(
        hf_like(), tokens=list("abcd"), layers=[0, 2], heads=[1, 2, 3]
    )
    assert axes.shape == (2, 3)
    assert axes[1, 0].get_title() == "layer 2, head 1"
    assert axes[0, 2].get_title() == "layer 0, head 3"
    # the tokens trim the padding: each map is 4 x 4
    assert axes[0, 0].get_images()[0].get_array().shape == (4, 4)
    plt.close("all")


def test_grid_labels_tokens_on_both_axes_in_legible_sizes():
    axes = plot_attention_grid(hf_like(), tokens=list("abcd"), layers=[0, 1], heads=[0])
    first_column_rows = [t.get_text() for t in axes[0, 0].get_yticklabels()]
    last_row_columns = [t.get_text() for t in axes[1, 0].get_xticklabels()]
    assert first_column_rows == last_row_columns == list("abcd")
    fig = axes[0, 0].figure
    texts = [t for ax in axes.flat for t in ax.get_yticklabels() + ax.get_xticklabels()]
    texts += [ax.title for ax in axes.flat]
    assert min(t.get_fontsize() for t in texts if t.get_text()) >= MIN_FONT_SIZE
    # the figure fits the page, so it is not shrunk below those sizes
    assert fig.get_figwidth() <= BOOK_WIDTH
    plt.close("all")


def test_grid_labels_tokens_only_where_a_row_has_room_for_them():
    attentions = hf_like(heads=3, n=40)
    axes = plot_attention_grid(attentions, tokens=[f"t{i}" for i in range(40)])
    assert not [t for t in axes[0, 0].get_yticklabels() if t.get_text()]
    axes = plot_attention_grid(attentions, tokens=[f"t{i}" for i in range(20)])
    assert axes[0, 0].get_yticklabels()[19].get_text() == "t19"
    plt.close("all")


def test_grid_defaults_to_a_few_layers_and_heads():
    axes = plot_attention_grid(hf_like(layers=2, heads=3))
    assert axes.shape == (2, 2)
    axes = plot_attention_grid(hf_like(layers=6, heads=12, batch=1))
    assert axes.shape == (3, 2)
    assert [ax.get_title() for ax in axes[:, 0]] == [
        "layer 0, head 0",
        "layer 3, head 0",
        "layer 5, head 0",
    ]
    plt.close("all")


def test_grid_refuses_more_maps_than_a_page_can_show():
    with pytest.raises(ValueError, match="cannot be read"):
        plot_attention_grid(hf_like(heads=4), layers=range(3), heads=range(3))
    plt.close("all")


def test_grid_rejects_bad_indices_and_too_many_tokens():
    with pytest.raises(ValueError, match="layer"):
        plot_attention_grid(hf_like(), layers=[5])
    with pytest.raises(ValueError, match="tokens"):
        plot_attention_grid(hf_like(), tokens=list("abcdefgh"))
    plt.close("all")
