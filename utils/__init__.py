"""Helpers shared by the chapters of *Pretrained Language Models, by Running Them*.

Each module holds one concern; a chapter imports what it needs, e.g.::

    from utils import setup_chapter, load_imdb, load_classifier
"""
import warnings

# tqdm warns at import when ipywidgets is missing; its text bars are what the book wants anyway.
warnings.filterwarnings("ignore", message="IProgress not found")

from utils.environment import ChapterSetup, pick_device, pick_precision, setup_chapter
from utils.profiles import Profile, get_profile
from utils.imdb import ImdbFormatError, load_imdb, subsample_balanced
from utils.tsv import TsvFormatError, read_label_tsv, write_label_tsv
from utils.models import load_classifier, load_tokenizer, resolve_model
from utils.metrics import load_metric, load_classification_metrics

__all__ = [
    "ChapterSetup", "pick_device", "pick_precision", "setup_chapter",
    "Profile", "get_profile",
    "ImdbFormatError", "load_imdb", "subsample_balanced",
    "TsvFormatError", "read_label_tsv", "write_label_tsv",
    "load_classifier", "load_tokenizer", "resolve_model",
    "load_metric", "load_classification_metrics",
]
