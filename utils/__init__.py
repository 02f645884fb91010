"""Helpers shared by the chapters of *Pretrained Language Models, by Running Them*.

Each module holds one concern; a chapter starts with ``setup = setup_chapter("0N")``
and hands ``setup`` to every loader, e.g.::

    from utils import setup_chapter, load_imdb, load_classifier
    setup = setup_chapter("04")
    data, model = load_imdb(setup), load_classifier(setup)

The names below are imported on first use (PEP 562), so that a light module such as
``utils.tsv`` or ``utils.cache`` can be imported without torch, transformers or
datasets.
"""

from __future__ import annotations

import importlib
import warnings

# tqdm warns at import when ipywidgets is missing, and the libraries the modules import
# use it; its text progress bars are what the book wants anyway
warnings.filterwarnings("ignore", message="IProgress not found")

# name -> the module that defines it
_EXPORTS = {
    "ChapterSetup": "utils.environment",
    "setup_chapter": "utils.environment",
    "Profile": "utils.profiles",
    "get_profile": "utils.profiles",
    "ImdbFormatError": "utils.imdb",
    "clean_review": "utils.imdb",
    "load_imdb": "utils.imdb",
    "sample_split": "utils.imdb",
    "TsvFormatError": "utils.tsv",
    "read_label_tsv": "utils.tsv",
    "write_label_tsv": "utils.tsv",
    "load_classifier": "utils.models",
    "load_pretrained": "utils.models",
    "load_tokenizer": "utils.models",
    "resolve_model": "utils.models",
    "load_metric": "utils.metrics",
    "load_classification_metrics": "utils.metrics",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:  # a submodule (``from utils import finetune``) or a typo
        raise AttributeError(f"module 'utils' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
