"""Chapter 3's tiny CLM for the chapters after it: trained once per recipe with chapter
3's own loop (utils.pretraining.pretrain), kept whole or not at all, and trained again
when what was kept is unfinished or cannot be read."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from utils import cache, get_profile, setup_chapter, tiny_lm


@pytest.fixture
def setup(tiny_tarball, monkeypatch):
    monkeypatch.setenv("IMDB_PATH", str(tiny_tarball))
    profile = get_profile("smoke").replace(
        pretrain_texts=None,
        pretrain_eval_texts=4,
        tiny_vocab_size=300,  # the 256 bytes, <|endoftext|> and a few merges
        tiny_hidden=16,
        tiny_layers=1,
        tiny_heads=2,
        pretrain_max_length=8,
        pretrain_batch_size=2,
        pretrain_steps_clm=8,
    )
    return setup_chapter(profile=profile)


def test_first_call_trains_and_keeps_model_tokenizer_and_log(setup, capsys):
    first = tiny_lm.tiny_clm(setup)
    assert "Training the tiny GPT-2" in capsys.readouterr().out and not first.loaded
    assert first.model.config.n_layer == 1 and len(first.tokenizer) <= 300
    steps = setup.profile.pretrain_steps_clm
    assert [step for step, _ in first.log["train"]] == list(range(1, steps + 1))
    # step 0, then every steps // 8 steps
    assert len(first.log["heldout"]) == tiny_lm.HELDOUT_EVALS
    folder = tiny_lm.cache_folder(setup)
    assert cache.is_complete(folder)
    recorded = json.loads((folder / tiny_lm.RECIPE).read_text())
    assert recorded == json.loads(json.dumps(tiny_lm.recipe(setup)))
    # nothing left beside the entry by the temporary folder it was written in
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]


def test_second_call_loads_the_same_model_without_training(setup, monkeypatch, capsys):
    first = tiny_lm.tiny_clm(setup, verbose=False)

    def no_training(setup):
        raise AssertionError("trained again")

    monkeypatch.setattr(tiny_lm, "train_tiny_clm", no_training)
    again = tiny_lm.tiny_clm(setup)
    assert again.loaded and "trained earlier" in capsys.readouterr().out
    assert again.log == first.log  # (step, loss) pairs come back as tuples
    assert again.tokenizer.get_vocab() == first.tokenizer.get_vocab()
    ids = first.tokenizer("A wonderful film.", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(again.model(ids).logits, first.model(ids).logits)


def test_an_interrupted_run_is_trained_again_with_one_line_saying_so(setup, capsys):
    folder = tiny_lm.cache_folder(setup)
    folder.mkdir(parents=True)  # what a run stopped while writing used to leave
    (folder / "model.safetensors").write_text("half-written")
    again = tiny_lm.tiny_clm(setup, verbose=False)
    assert not again.loaded and cache.is_complete(folder)
    assert "incomplete" in capsys.readouterr().out
    assert tiny_lm.tiny_clm(setup, verbose=False).loaded  # and kept this time


def test_a_run_stopped_while_writing_leaves_nothing_that_is_trusted(setup, monkeypatch):
    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tiny_lm, "_save", stopped)
    with pytest.raises(KeyboardInterrupt):
        tiny_lm.tiny_clm(setup, verbose=False)
    folder = tiny_lm.cache_folder(setup)
    assert not folder.exists() and not list(folder.parent.iterdir())


def test_a_damaged_entry_is_trained_again_with_one_line_saying_so(setup, capsys):
    tiny_lm.tiny_clm(setup, verbose=False)
    folder = tiny_lm.cache_folder(setup)
    (folder / "model.safetensors").write_bytes(b"not a model")  # the mark is there
    capsys.readouterr()
    again = tiny_lm.tiny_clm(setup, verbose=False)
    assert not again.loaded and "could not be read" in capsys.readouterr().out
    assert tiny_lm.tiny_clm(setup, verbose=False).loaded


def test_each_recipe_has_its_own_folder(setup):
    longer = dataclasses.replace(
        setup, profile=setup.profile.replace(pretrain_steps_clm=16)
    )
    reseeded = dataclasses.replace(setup, seed=setup.seed + 1)
    other_classifier = dataclasses.replace(
        setup, profile=setup.profile.replace(epochs=3, train_size=10)
    )
    folders = {tiny_lm.cache_folder(s) for s in (setup, longer, reseeded)}
    assert len(folders) == 3
    assert tiny_lm.cache_folder(other_classifier) == tiny_lm.cache_folder(setup)
