"""utils.pages.glue: numbers reach the prose in a form myst-nb can format."""

import numpy as np
import pytest
import torch
from myst_nb.core.variables import format_plain_text

from utils import pages


@pytest.mark.parametrize(
    "value, spec, shown",
    [
        (np.float64(0.5643), ".1%", "56.4%"),
        (np.int64(25_000), ",d", "25,000"),
        (torch.tensor(0.125), ".3f", "0.125"),
        (0.5, ".0%", "50%"),
        ("five", "s", "five"),
    ],
)
def test_a_glued_scalar_formats_as_the_page_asks(value, spec, shown):
    assert pages.glue("x", value) is None  # as a cell's last line: nothing shown
    assert format_plain_text(repr(pages.GLUED["x"]), spec) == shown


def test_arrays_are_left_as_they_are():
    array = np.arange(3)
    assert pages.plain(array) is array
