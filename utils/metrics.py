"""Metrics through ``evaluate``, online or off.

``evaluate.load("accuracy")`` fetches its script from the Hub and fails offline
(``FileNotFoundError: Couldn't find a module script ...``). The modules in
``utils/metric_modules`` are local equivalents (computed with scikit-learn, as the Hub's
are) that ``evaluate.load`` takes by path; :func:`load_metric` uses the Hub when it can
and these otherwise.
"""

from __future__ import annotations

from pathlib import Path

import evaluate

LOCAL_MODULES = Path(__file__).parent / "metric_modules"
CLASSIFICATION = ("accuracy", "precision", "recall", "f1")


def local_metric_path(name: str) -> Path:
    path = LOCAL_MODULES / f"{name}.py"
    if not path.exists():
        available = ", ".join(sorted(p.stem for p in LOCAL_MODULES.glob("[!_]*.py")))
        raise FileNotFoundError(
            f"No local metric module {name!r}; this book ships: {available}."
        )
    return path


def load_metric(name: str):
    """``evaluate.load(name)`` from the Hub (or its cache), else the book's local
    module."""
    try:
        return evaluate.load(name)
    except OSError:  # offline, unreachable, or the script did not come
        return evaluate.load(str(local_metric_path(name)))


def load_classification_metrics():
    """Accuracy, precision, recall and F1 as one ``evaluate.combine`` module."""
    return evaluate.combine([load_metric(name) for name in CLASSIFICATION])
