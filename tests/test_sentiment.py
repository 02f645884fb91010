"""Chapter 4's classifier for the chapters after it: trained once per recipe, kept whole
or not at all, and scored on the test reviews once, the way chapter 4 scores it, so
that every chapter shows one number for it."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from utils import get_profile, setup_chapter
from utils import sentiment
from utils.cache import is_complete


@pytest.fixture
def setup(tiny_tarball, monkeypatch):
    monkeypatch.setenv("IMDB_PATH", str(tiny_tarball))
    profile = get_profile("smoke").replace(
        train_size=None,
        test_size=None,
        max_length=32,
        head_tokens=16,
        epochs=1,
        batch_size=4,
    )
    return setup_chapter(profile=profile)


def held_out(setup):
    """The profile's test reviews, in their order."""
    from utils.imdb import load_imdb

    return load_imdb(setup, verbose=False)["test"]


class Kept:
    """Stands in for a trained ``Trainer``: saves a file, nothing else."""

    def __init__(self):
        self.saved = []

    def save_model(self, where):
        self.saved.append(where)
        (Path(where) / "model.safetensors").write_text("weights")


def prediction_for(labels, predicted):
    """What ``utils.finetune.predict_in_order`` returns: logits and labels."""
    logits = np.where(np.eye(2)[predicted] == 1, 2.0, -2.0)
    return SimpleNamespace(predictions=logits, label_ids=np.asarray(labels))


def test_first_call_trains_keeps_a_pipeline_ready_model_and_its_score(setup, capsys):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from utils import finetune as ft

    result = sentiment.classifier_result(setup)
    printed = capsys.readouterr().out
    assert "Fine-tuning" in printed and "train_runtime" not in printed  # no log dicts
    assert "cache" not in printed
    folder = result["folder"]
    classify = pipeline("text-classification", model=str(folder), device="cpu")
    labels = {r["label"] for r in classify(["Great.", "Awful.", "Fine."])}
    assert labels <= {"neg", "pos"}
    recorded = json.loads((folder / sentiment.RECIPE).read_text())
    assert recorded == json.loads(json.dumps(sentiment.recipe(setup)))

    # the kept score is the kept model's answers on the profile's test reviews, in
    # their order, each review tokenized as chapter 4 tokenizes it (head+tail)
    test = held_out(setup)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    encode = ft.tokenize_function(
        tokenizer, setup.profile.max_length, "head+tail", setup.profile.head_tokens
    )
    import torch

    with torch.no_grad():
        one_by_one = [
            int(model(input_ids=torch.tensor([ids])).logits.argmax(-1))
            for ids in encode({"text": list(test["text"])})["input_ids"]
        ]
    assert result["predictions"].tolist() == one_by_one
    assert result["labels"].tolist() == list(test["label"])
    assert result["n"] == len(test) == 4
    assert result["accuracy"] == np.mean(np.array(one_by_one) == test["label"])
    a = result["accuracy"]
    assert result["standard_error"] == pytest.approx(math.sqrt(a * (1 - a) / 4))
    sentiment.check_same_reviews(result, test["text"])  # does not raise


def test_second_call_loads_the_same_model_and_score_without_training(
    setup, monkeypatch, capsys
):
    first = sentiment.classifier_result(setup)
    capsys.readouterr()

    def no_training(*args):
        raise AssertionError("trained again")

    monkeypatch.setattr(sentiment, "train_classifier", no_training)
    second = sentiment.classifier_result(setup)
    assert second["folder"] == first["folder"]
    assert second["predictions"].tolist() == first["predictions"].tolist()
    assert capsys.readouterr().out == ""


def test_keep_stores_the_chapters_own_predictions(setup):
    labels = held_out(setup)["label"]
    predicted = [1, 1, 1, 1]  # not what a model would say: the stored answers are these
    folder = sentiment.keep(Kept(), setup, prediction_for(labels, predicted))
    assert is_complete(folder)
    result = sentiment.classifier_result(setup, verbose=False)
    assert result["predictions"].tolist() == predicted
    assert result["accuracy"] == np.mean(np.array(labels) == 1)
    assert result["positive_probability"].round(3).tolist() == [0.982] * 4


def test_predictions_of_another_test_set_are_refused(setup):
    with pytest.raises(ValueError, match="3 predictions for 4 test reviews"):
        sentiment.keep(Kept(), setup, prediction_for([0, 1, 0], [0, 1, 0]))
    assert not sentiment.cache_folder(setup).exists()


def test_a_damaged_entry_is_made_again_with_one_line(setup, monkeypatch, capsys):
    folder = sentiment.cache_folder(setup)
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_text("half-written")  # no completion mark
    labels = held_out(setup)["label"]
    kept = Kept()
    monkeypatch.setattr(sentiment, "train_classifier", lambda setup: kept)
    monkeypatch.setattr(
        sentiment, "predict_test", lambda t, s: prediction_for(labels, [0, 0, 0, 0])
    )
    assert sentiment.fine_tuned_classifier(setup, verbose=False) == folder
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        f"The saved {sentiment.WHAT} was incomplete (a run stopped while writing it): "
        "making it again."
    ]
    assert len(kept.saved) == 1 and is_complete(folder)
    assert (folder / "model.safetensors").read_text() == "weights"


def test_a_run_stopped_while_keeping_leaves_nothing_to_trust(setup):
    class Crashing(Kept):
        def save_model(self, where):
            super().save_model(where)
            raise KeyboardInterrupt

    labels = held_out(setup)["label"]
    with pytest.raises(KeyboardInterrupt):
        sentiment.keep(Crashing(), setup, prediction_for(labels, [0, 1, 0, 1]))
    folder = sentiment.cache_folder(setup)
    assert not folder.exists()
    assert not list(folder.parent.glob(".*tmp"))  # no half-written folder left beside


def test_each_recipe_and_test_set_has_its_own_folder(setup):
    other = dataclasses.replace(setup, profile=setup.profile.replace(epochs=2))
    reseeded = dataclasses.replace(setup, seed=setup.seed + 1)
    fewer_tests = dataclasses.replace(setup, profile=setup.profile.replace(test_size=2))
    more_pretraining = dataclasses.replace(
        setup, profile=setup.profile.replace(pretrain_steps_mlm=1)
    )
    folders = {sentiment.cache_folder(s) for s in (setup, other, reseeded, fewer_tests)}
    assert len(folders) == 4
    assert sentiment.cache_folder(more_pretraining) == sentiment.cache_folder(setup)


def test_evaluation_steps_follow_the_profile():
    profile = get_profile("smoke")  # batches of 32, 4 evaluations, 1 epoch
    assert sentiment.eval_steps(profile, 1_800) == 15  # 57 steps: at 15, 30, 45, 57
    assert sentiment.eval_steps(profile.replace(epochs=2), 1_800) == 29  # 114 steps
    assert sentiment.eval_steps(profile, 10) == 1


def test_other_reviews_are_not_paired_with_the_result(setup):
    result = {"test_sha256": sentiment.texts_sha256(["a", "b"]), "n": 2}
    sentiment.check_same_reviews(result, ["a", "b"])
    with pytest.raises(ValueError, match="not the 2 test reviews"):
        sentiment.check_same_reviews(result, ["b", "a"])


def test_paired_difference_and_its_standard_error():
    from scipy import stats

    a = np.array([1, 1, 0, 1, 0, 1, 1, 1])
    b = np.array([1, 0, 0, 1, 1, 0, 1, 0])
    difference, se = sentiment.paired_difference(a, b)
    assert difference == pytest.approx(a.mean() - b.mean()) == 0.25
    assert se == pytest.approx(stats.sem(a - b))
    # the same answers on every review: no uncertainty about the difference
    assert sentiment.paired_difference(a, a) == (0.0, 0.0)
    with pytest.raises(ValueError, match="equally long"):
        sentiment.paired_difference(a, b[:-1])


def test_training_evaluates_when_chapter_4_does(setup, monkeypatch):
    # Evaluations draw from the random generator: without chapter 4's evaluation
    # schedule the classifier would end with other weights than chapter 4's.
    from utils import finetune as ft

    made = {}

    def make_trainer(model, args, tokenized, tokenizer, pad_to_multiple_of=None):
        made.update(args=args, rows=len(tokenized["train"]), pad=pad_to_multiple_of)
        raise StopIteration

    monkeypatch.setattr(ft, "make_trainer", make_trainer)
    with pytest.raises(StopIteration):
        sentiment.train_classifier(setup)
    args = made["args"]
    assert args.eval_strategy == "steps"
    assert args.eval_steps == sentiment.eval_steps(setup.profile, made["rows"])
    assert made["pad"] == setup.recipe.pad_to_multiple_of
    assert args.per_device_train_batch_size == setup.profile.per_device_batch_size
