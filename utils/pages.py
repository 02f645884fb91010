"""Numbers from a chapter's cells into its prose.

A chapter's sentences live in Markdown cells; a number reaches them through myst-nb's
``glue``: a cell (its input hidden on the page) computes ``glue("accuracy", 0.84)``,
and the Markdown says ``{glue:text}`accuracy:.1%```. Where myst-nb is not installed (as
in Colab), ``glue`` keeps the value in ``GLUED`` and shows nothing.
"""

from __future__ import annotations

GLUED: dict = {}


def plain(value):
    """``value`` as a plain Python number where it is a NumPy or PyTorch scalar.

    myst-nb formats a glued number from its printed form: ``np.float64(0.5)`` or
    ``tensor(0.5)`` cannot be read back as a number, ``0.5`` can."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:
        return item()
    return value


def glue(name: str, value, display: bool = False) -> None:
    """Make ``value`` available to the page's Markdown as ``name``.

    It returns nothing, so that a ``glue(...)`` on a cell's last line leaves no value
    on the page."""
    value = plain(value)
    GLUED[name] = value
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=display)
