"""Chapter 3's tiny CLM for the chapters after it: trained once per recipe with chapter
3's own loop, then loaded from the book's cache."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from utils import get_profile, setup_chapter, tiny_lm

CHAPTER_3 = Path(__file__).resolve().parent.parent / "chapters"


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
    assert "Training the tiny CLM" in capsys.readouterr().out and not first.loaded
    assert first.model.config.n_layer == 1 and len(first.tokenizer) <= 300
    steps = setup.profile.pretrain_steps_clm
    assert [step for step, _ in first.log["train"]] == list(range(1, steps + 1))
    # step 0, then every steps // 8 steps
    assert len(first.log["heldout"]) == tiny_lm.HELDOUT_EVALS
    recorded = json.loads((tiny_lm.cache_folder(setup) / tiny_lm.READY).read_text())
    assert recorded == json.loads(json.dumps(tiny_lm.recipe(setup)))


def test_second_call_loads_the_same_model_without_training(
    setup, monkeypatch, capsys
):
    first = tiny_lm.tiny_clm(setup, verbose=False)

    def no_training(setup):
        raise AssertionError("trained again")

    monkeypatch.setattr(tiny_lm, "train_tiny_clm", no_training)
    again = tiny_lm.tiny_clm(setup)
    assert again.loaded and "loaded from the cache" in capsys.readouterr().out
    assert again.log == first.log  # (step, loss) pairs come back as tuples
    assert again.tokenizer.get_vocab() == first.tokenizer.get_vocab()
    ids = first.tokenizer("A wonderful film.", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(again.model(ids).logits, first.model(ids).logits)


def test_an_interrupted_run_is_trained_again(setup):
    folder = tiny_lm.cache_folder(setup)
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_text("half-written")
    assert not tiny_lm.tiny_clm(setup, verbose=False).loaded
    assert (folder / tiny_lm.READY).exists()


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


def chapter_3_loop(setup):
    """Chapter 3's own ``pretrain`` (with ``heldout_loss`` and ``logits_of``), taken
    from the notebook's code cell that defines it."""
    import math
    import time

    import torch.nn.functional as F
    from transformers import get_cosine_schedule_with_warmup

    notebook = next(CHAPTER_3.glob("03_*.ipynb"))
    cells = json.loads(notebook.read_text())["cells"]
    code = next(
        "".join(c["source"])
        for c in cells
        if c["cell_type"] == "code" and "def pretrain(" in "".join(c["source"])
    )
    amp = tiny_lm.amp_dtype(setup)
    namespace = {
        "setup": setup,
        "profile": setup.profile,
        "B": setup.profile.pretrain_batch_size,
        "torch": torch,
        "F": F,
        "math": math,
        "time": time,
        "get_cosine_schedule_with_warmup": get_cosine_schedule_with_warmup,
        "autocast": lambda: tiny_lm.autocast(setup),
        "grad_scaler": lambda: torch.amp.GradScaler(
            setup.device.type, enabled=amp == torch.float16
        ),
    }
    exec(code, namespace)
    return namespace["pretrain"]


def test_pretrain_clm_is_chapter_3s_loop(setup):
    """The same start, data and steps through both loops: the same losses and the
    same weights."""
    from transformers import GPT2LMHeadModel

    texts = ["A wonderful film, I laughed and cried.", "Dreadful, two hours lost."] * 8
    tokenizer = tiny_lm.byte_level_bpe(texts, 300)
    train = tiny_lm.clm_blocks(tokenizer, texts, setup.profile.pretrain_max_length)
    heldout = train[:3]
    pretrain = chapter_3_loop(setup)
    runs = []
    for loop in ("chapter", "utils"):
        torch.manual_seed(setup.seed)
        model = GPT2LMHeadModel(tiny_lm.tiny_gpt_config(setup.profile, tokenizer))
        if loop == "chapter":
            log = pretrain(
                model,
                train,
                lambda rows, generator: (rows, rows),
                lambda model, inputs, labels: model(
                    input_ids=inputs, labels=labels
                ).loss,
                (heldout, heldout, True),
                steps=6,
                evals=4,
            )
        else:
            log = tiny_lm.pretrain_clm(setup, model, train, heldout, steps=6, evals=4)
        runs.append((model.state_dict(), log))
    (ours, our_log), (theirs, their_log) = runs
    assert our_log["train"] == their_log["train"]
    assert our_log["heldout"] == their_log["heldout"]
    assert all(torch.equal(ours[name], theirs[name]) for name in ours)
