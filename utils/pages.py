"""Numbers from a chapter's cells into its prose.

A chapter's sentences live in Markdown cells; a number reaches them through myst-nb's
``glue``: a cell (its input hidden on the page) computes ``glue("accuracy", 0.84)``,
and the Markdown says ``{glue:text}`accuracy:.1%```. Where myst-nb is not installed (as
in Colab), ``glue`` keeps the value in ``GLUED`` and shows nothing.
"""

from __future__ import annotations

GLUED: dict = {}


def glue(name: str, value, display: bool = False):
    """Make ``value`` available to the page's Markdown as ``name``; returns it."""
    GLUED[name] = value
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return value
    myst_glue(name, value, display=display)
    return value
