"""Metrics through evaluate: the Hub's modules online, the book's own copies offline."""

import evaluate
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from utils.metrics import load_classification_metrics, load_metric, local_metric_path

rng = np.random.default_rng(0)
PREDICTIONS, REFERENCES = rng.integers(0, 2, 200), rng.integers(0, 2, 200)


def test_evaluate_load_by_name_fails_offline_which_is_why_local_modules_exist():
    with pytest.raises(Exception, match="(?i)couldn't find|offline|connection"):
        evaluate.load("accuracy")


@pytest.mark.parametrize(
    "name, reference",
    [
        ("accuracy", accuracy_score),
        ("precision", precision_score),
        ("recall", recall_score),
        ("f1", f1_score),
    ],
)
def test_each_local_metric_equals_scikit_learn(name, reference):
    metric = load_metric(name)
    result = metric.compute(predictions=PREDICTIONS, references=REFERENCES)
    assert result == {name: pytest.approx(reference(REFERENCES, PREDICTIONS))}


def test_multiclass_averages_pass_through():
    preds, refs = [0, 1, 2, 2, 1], [0, 2, 2, 1, 1]
    result = load_metric("f1").compute(predictions=preds, references=refs, average=None)
    assert result["f1"] == pytest.approx(list(f1_score(refs, preds, average=None)))


def test_the_combined_module_reports_all_four():
    result = load_classification_metrics().compute(
        predictions=PREDICTIONS, references=REFERENCES
    )
    assert set(result) == {"accuracy", "precision", "recall", "f1"}
    assert result["f1"] == pytest.approx(f1_score(REFERENCES, PREDICTIONS))


def test_an_unknown_local_metric_lists_the_shipped_ones():
    with pytest.raises(FileNotFoundError, match="accuracy, f1, precision, recall"):
        local_metric_path("bleu")


def test_the_hub_is_tried_first_and_the_local_module_only_when_it_fails(monkeypatch):
    from utils import metrics

    asked = []
    monkeypatch.setattr(
        metrics.evaluate, "load", lambda name: asked.append(name) or name
    )
    assert metrics.load_metric("accuracy") == "accuracy"
    assert asked == ["accuracy"]


def test_offline_the_local_module_is_used(monkeypatch):
    from utils import metrics

    def hub_or_local(name):
        if not name.endswith(".py"):
            raise FileNotFoundError(f"Couldn't find a module script for {name}")
        return name

    monkeypatch.setattr(metrics.evaluate, "load", hub_or_local)
    assert metrics.load_metric("accuracy").endswith("metric_modules/accuracy.py")
