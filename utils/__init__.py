"""Helpers shared by the chapters of *Pretrained Language Models, by Running Them*.

Each module holds one concern; a chapter starts with ``setup = setup_chapter()`` and
hands ``setup`` to every loader, e.g.::

    from utils import setup_chapter, load_imdb, load_classifier
    setup = setup_chapter()
    data, model = load_imdb(setup), load_classifier(setup)
"""

import warnings

# tqdm warns at import when ipywidgets is missing, and the libraries below import it;
# its text progress bars are what the book wants anyway
warnings.filterwarnings("ignore", message="IProgress not found")

from utils.environment import ChapterSetup, setup_chapter  # noqa: E402
from utils.profiles import Profile, get_profile  # noqa: E402
from utils.imdb import ImdbFormatError, clean_review, load_imdb, sample_split  # noqa: E402
from utils.tsv import TsvFormatError, read_label_tsv, write_label_tsv  # noqa: E402
from utils.models import load_classifier, load_pretrained, load_tokenizer, resolve_model  # noqa: E402
from utils.metrics import load_metric, load_classification_metrics  # noqa: E402

__all__ = [
    "ChapterSetup",
    "setup_chapter",
    "Profile",
    "get_profile",
    "ImdbFormatError",
    "clean_review",
    "load_imdb",
    "sample_split",
    "TsvFormatError",
    "read_label_tsv",
    "write_label_tsv",
    "load_classifier",
    "load_pretrained",
    "load_tokenizer",
    "resolve_model",
    "load_metric",
    "load_classification_metrics",
]
