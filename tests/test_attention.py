"""utils.attention: the heads-by-layers grid of attention maps."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from utils.attention import plot_attention_grid, stack_attentions  # noqa: E402


def hf_like(layers=3, batch=2, heads=4, n=6, seed=0):
    """What a Hugging Face model returns with output_attentions=True: one (batch, heads, n, n) tensor per layer."""
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, heads, n, n, generator=g).softmax(-1) for _ in range(layers))


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
    axes = plot_attention_grid(hf_like(), tokens=list("abcd"), layers=[0, 2], heads=[1, 2, 3])
    assert axes.shape == (2, 3)
    assert axes[1, 0].get_ylabel() == "layer 2" and axes[0, 2].get_title() == "head 3"
    # the tokens trim the padding: each map is 4 x 4
    assert axes[0, 0].get_images()[0].get_array().shape == (4, 4)
    plt.close("all")


def test_grid_defaults_to_every_layer_and_head():
    axes = plot_attention_grid(hf_like(layers=2, heads=3))
    assert axes.shape == (2, 3)
    plt.close("all")


def test_grid_rejects_bad_indices_and_too_many_tokens():
    with pytest.raises(ValueError, match="layer"):
        plot_attention_grid(hf_like(), layers=[5])
    with pytest.raises(ValueError, match="tokens"):
        plot_attention_grid(hf_like(), tokens=list("abcdefgh"))
    plt.close("all")
