"""scripts/benchmark_recipes.py: each recipe is what it says it is, the numbers come
from the book's formulas, and on this CPU the book's recipe trains faster than the
article's, at a tiny size (one layer of the model, 256 reviews of up to 512 tokens)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "benchmark_recipes.py"


def load_script():
    spec = importlib.util.spec_from_file_location("benchmark_recipes", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script():
    return load_script()


@pytest.fixture(scope="module")
def setup():
    from utils import setup_chapter

    return setup_chapter(profile="smoke")


def recipe(script, name):
    return next(r for r in script.RECIPES if r.name == name)


def test_the_articles_recipe_pads_everything_in_fp32_and_the_books_does_not(
    script, setup, tmp_path
):
    from utils.models import load_tokenizer

    tokenizer = load_tokenizer(setup)
    features = [{"input_ids": [101, 2000, 102], "label": 0}] * 2
    article, book = recipe(script, "article"), recipe(script, "book")
    assert script.recipe_collator(article, tokenizer, 512)(features)[
        "input_ids"
    ].shape == (2, 512)
    assert script.recipe_collator(book, tokenizer, 512)(features)[
        "input_ids"
    ].shape == (2, 64)
    old = script.recipe_arguments(article, setup, str(tmp_path))
    assert not (old.bf16 or old.fp16) and old.per_device_train_batch_size == 8
    assert old.train_sampling_strategy == "random"
    new = script.recipe_arguments(book, setup, str(tmp_path))
    assert new.bf16 == bool(setup.precision_args.get("bf16"))
    assert new.per_device_train_batch_size == setup.profile.per_device_batch_size
    assert new.train_sampling_strategy == "group_by_length"
    assert new.optim.value == "adamw_torch_fused"


def test_flops_count_real_tokens_and_padded_ones_with_the_budget_formulas(script):
    from transformers import BertConfig

    from utils.budget import classifier_head_flops, encoder_flops

    config = BertConfig()
    # one batch of two reviews, 10 and 20 tokens long, padded to 64
    real, padded = script.training_flops(config, [[10, 20, 64]])
    head = classifier_head_flops(config, 2)
    assert real == pytest.approx(3 * (encoder_flops(config, 2, 15, 250) + head))
    assert padded == pytest.approx(3 * (encoder_flops(config, 2, 64) + head))


def test_a_known_gpus_peak_comes_from_its_datasheet(script, monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA H200")
    peaks, source = script.device_peak(torch.device("cuda"))
    assert peaks["bf16"] == 989e12 and "datasheet" in source


def test_the_cpus_peak_is_measured(script):
    peaks, source = script.device_peak(torch.device("cpu"))
    assert peaks["fp32"] > 1e9 and source.startswith("measured")


@pytest.mark.skipif(
    not os.environ.get("IMDB_PATH"), reason="no IMDb data: set IMDB_PATH"
)
def test_the_books_recipe_trains_faster_than_the_articles_on_this_cpu(tmp_path):
    tiny = ["--profile", "smoke", "--layers", "1", "--max-length", "512"]
    tiny += ["--reviews", "256", "--warmup-steps", "1", "--recipes", "article,book"]
    tiny += ["--parity-train", "16", "--parity-eval", "16", "--parity-max-length", "32"]
    cmd = [sys.executable, str(SCRIPT), *tiny, "--output-dir", str(tmp_path)]
    done = subprocess.run(
        [*cmd, "--allow-dirty"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [path] = tmp_path.glob("benchmark_imdb_smoke_*.json")
    record = json.loads(path.read_text())
    assert {"commit", "dirty", "date", "versions", "device", "peak_source"} <= set(
        record
    )
    article, book = record["runs"]
    assert (article["recipe"], book["recipe"]) == ("article", "book")
    assert article["samples"] == book["samples"] == 256  # the same reviews
    # the article pads every review to 512 tokens; grouping leaves less padding
    assert book["padding_fraction"] < article["padding_fraction"]
    ratio = book["samples_per_second"] / article["samples_per_second"]
    print(f"book / article samples/s on this CPU: {ratio:.2f}")
    assert ratio > 1, ratio
    parity = record["parity"]["runs"]
    assert set(parity) == {"article", "course", "book"}
    assert all(
        0 <= r["accuracy"] <= 1 and r["standard_error"] >= 0 for r in parity.values()
    )
