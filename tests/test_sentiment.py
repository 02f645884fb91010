"""The fine-tuned classifier that later chapters use is chapter 4's, trained once per
recipe and then loaded from the book's cache."""

from __future__ import annotations

import json

import pytest

from utils import get_profile, setup_chapter
from utils import sentiment


@pytest.fixture
def setup(tiny_tarball, monkeypatch):
    monkeypatch.setenv("IMDB_PATH", str(tiny_tarball))
    profile = get_profile("smoke").replace(
        train_size=None, test_size=None, max_length=32, epochs=1, batch_size=4
    )
    return setup_chapter(profile=profile)


def test_first_call_trains_and_saves_a_pipeline_ready_model(setup, capsys):
    from transformers import pipeline

    folder = sentiment.fine_tuned_classifier(setup)
    printed = capsys.readouterr().out
    assert "Fine-tuning" in printed and "train_runtime" not in printed  # no log dicts
    classify = pipeline("text-classification", model=str(folder), device="cpu")
    labels = {result["label"] for result in classify(["Great.", "Awful.", "Fine."])}
    assert labels <= {"neg", "pos"}
    recorded = json.loads((folder / sentiment.READY).read_text())
    assert recorded == json.loads(json.dumps(sentiment.recipe(setup)))


def test_second_call_loads_without_training(setup, monkeypatch, capsys):
    first = sentiment.fine_tuned_classifier(setup)

    def no_training(*args):
        raise AssertionError("trained again")

    monkeypatch.setattr(sentiment, "train_classifier", no_training)
    assert sentiment.fine_tuned_classifier(setup) == first
    assert "loaded from the cache" in capsys.readouterr().out


def test_an_interrupted_run_is_trained_again(setup, monkeypatch):
    folder = sentiment.cache_folder(setup)
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_text("half-written")
    trained = []

    class Trained:
        def save_model(self, where):
            trained.append(where)

    monkeypatch.setattr(sentiment, "train_classifier", lambda setup: Trained())
    sentiment.fine_tuned_classifier(setup, verbose=False)
    assert trained == [str(folder)] and (folder / sentiment.READY).exists()


def test_each_recipe_has_its_own_folder(setup):
    import dataclasses

    other = dataclasses.replace(setup, profile=setup.profile.replace(epochs=2))
    reseeded = dataclasses.replace(setup, seed=setup.seed + 1)
    more_pretraining = dataclasses.replace(
        setup, profile=setup.profile.replace(pretrain_steps_mlm=1)
    )
    folders = {sentiment.cache_folder(s) for s in (setup, other, reseeded)}
    assert len(folders) == 3
    assert sentiment.cache_folder(more_pretraining) == sentiment.cache_folder(setup)
