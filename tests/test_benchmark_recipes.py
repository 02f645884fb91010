"""scripts/benchmark_recipes.py: every row changes one thing of the row it builds on,
the last kept row is the recipe utils trains with on this device, each recipe is what
it says it is, the numbers come from the book's formulas, and a tiny run (one layer of
the model, a few reviews) records every repeat, the median and the spread, the counted
work of each row, and accuracies that agree with the per-review answers."""

import dataclasses
import importlib.util
import json
import os
import statistics
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


def cpu_book(script):
    return script.Recipe("fp32", "longest", True, 8, 4, script.FUSED, "sdpa")


def gpu_book(script):
    return script.Recipe("bf16", "multiple", True, 32, 1, script.FUSED, "sdpa")


def differences(a, b) -> set[str]:
    return {
        f.name
        for f in dataclasses.fields(a)
        if getattr(a, f.name) != getattr(b, f.name)
    }


@pytest.mark.parametrize("book", [cpu_book, gpu_book])
def test_every_row_changes_one_thing_of_its_base_and_the_last_kept_is_the_book(
    script, book
):
    book = book(script)
    rows, skipped = script.ladder(book)
    by_name = {r.name: r for r in rows}
    assert rows[0].name == "article" and rows[0].recipe == script.ARTICLE
    for row in rows[1:]:
        changed = differences(row.recipe, by_name[row.base].recipe)
        # the batch is one choice: how the profile's batch is split into steps
        allowed = {"device_batch", "accumulation"} if row.change == "batch" else None
        assert len(changed) == 1 or changed <= (allowed or set()), (row.name, changed)
    kept = [r for r in rows if r.kept]
    assert kept[-1].recipe == book
    # each kept row builds on the kept row before it
    assert [r.base for r in kept[1:]] == [r.name for r in kept[:-1]]


def test_on_this_cpu_the_shapes_for_tensor_cores_are_measured_and_not_taken(script):
    rows, skipped = script.ladder(cpu_book(script), (4, 8, 16, 32))
    by_name = {r.name: r for r in rows}
    assert not by_name["multiple"].kept and by_name["multiple"].base == "grouped"
    assert by_name["batch_8x4"].kept
    alternatives = {"batch_4x8", "batch_16x2", "batch_32x1"}
    assert all(
        not by_name[n].kept and by_name[n].base == "grouped" for n in alternatives
    )
    assert by_name["fused"].base == "batch_8x4"
    # the article's precision is the book's on a CPU without native bf16
    assert [name for name, _ in skipped] == ["precision"]
    assert "course" in by_name and by_name["course"].recipe.padding == "longest"


def test_on_a_gpu_every_step_toward_the_book_is_taken(script):
    rows, skipped = script.ladder(gpu_book(script), (8, 16, 32))
    kept = [r.name for r in rows if r.kept]
    assert kept == [
        "article",
        "course",
        "precision",
        "grouped",
        "multiple",
        "batch_32x1",
        "fused",
        "sdpa",
    ]
    assert not skipped


def test_the_books_recipe_is_what_utils_trains_with_on_this_cpu(script, setup):
    book = script.book_recipe(setup)
    assert book.precision == setup.precision
    assert book.padding == (
        "multiple" if setup.recipe.pad_to_multiple_of else "longest"
    )
    assert book.device_batch == setup.profile.per_device_batch_size
    assert book.batch == setup.profile.batch_size
    assert book.optimizer == script.FUSED and book.attention == "sdpa"


def test_each_recipe_is_what_it_says(script, setup, tmp_path):
    from utils.models import load_tokenizer

    tokenizer = load_tokenizer(setup)
    features = [
        {"input_ids": [101, 2000, 102], "label": 0},
        {"input_ids": [101, 2000, 2001, 2002, 102], "label": 1},
    ]
    article, book = script.ARTICLE, cpu_book(script)
    assert script.recipe_collator(article, tokenizer, 512)(features)[
        "input_ids"
    ].shape == (2, 512)
    assert script.recipe_collator(book, tokenizer, 512)(features)[
        "input_ids"
    ].shape == (
        2,
        5,
    )
    multiple = dataclasses.replace(book, padding="multiple")
    assert script.recipe_collator(multiple, tokenizer, 512)(features)[
        "input_ids"
    ].shape == (2, 64)
    old = script.recipe_arguments(article, setup, str(tmp_path))
    assert not (old.bf16 or old.fp16) and old.per_device_train_batch_size == 8
    assert old.train_sampling_strategy == "random" and old.optim.value == "adamw_torch"
    new = script.recipe_arguments(book, setup, str(tmp_path))
    assert (new.per_device_train_batch_size, new.gradient_accumulation_steps) == (8, 4)
    assert new.train_sampling_strategy == "group_by_length"
    assert new.optim.value == "adamw_torch_fused"
    eager = script.recipe_model(article, setup, layers=1)
    assert eager.config._attn_implementation == "eager"
    assert script.recipe_model(book, setup, layers=1).config._attn_implementation == (
        "sdpa"
    )


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
    gpu = type("Setup", (), {"device": torch.device("cuda")})()
    peaks, source = script.device_peak(gpu)
    assert peaks["bf16"] == 989e12 and "datasheet" in source


def test_the_timed_sample_is_whole_batches_of_the_grouped_order_of_the_pool(script):
    from transformers.trainer_pt_utils import get_length_grouped_indices

    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(10, 512, (4000,), generator=generator).tolist()
    sample = script.grouped_sample(lengths, 32, 128, seed=42)
    assert len(sample) == len(set(sample)) == 128
    order = get_length_grouped_indices(
        lengths, 32, generator=torch.Generator().manual_seed(42)
    )
    starts = {tuple(order[i : i + 32]) for i in range(0, len(order), 32)}
    blocks = [tuple(sample[i : i + 32]) for i in range(0, 128, 32)]
    assert all(block in starts for block in blocks)  # the library's batches, whole
    # short, middling and long batches: the sample's mean length is the pool's
    mean = sum(lengths) / len(lengths)
    assert abs(sum(lengths[i] for i in sample) / 128 - mean) < 0.1 * mean
    # and each batch holds reviews of about one length
    assert all(
        max(lengths[i] for i in b) - min(lengths[i] for i in b) < 40 for b in blocks
    )
    assert script.grouped_sample(lengths, 32, 128, seed=42) == sample


def test_a_row_is_summarized_by_the_median_and_the_spread_of_its_repeats(script):
    row = script.Row("grouped", "+ grouped", cpu_book(script), "course", "order")
    repeat = {
        "samples": 32,
        "optimizer_steps": 1,
        "real_tokens": 6000,
        "padded_tokens": 8000,
        "distinct_lengths": 4,
        "real_flops": 6e12,
        "padded_flops": 8e12,
        "peak_memory_gb": 1.0,
        "cpu_share": 0.9,
        "attention": "sdpa",
        "optimizer": script.FUSED,
    }
    repeats = [{**repeat, "seconds": s} for s in (4.0, 2.0, 8.0)]
    summary = script.summarize(row, repeats, "resident", peak=1e12)
    assert summary["samples_per_second"] == 32 / 4.0  # the median repeat
    assert summary["samples_per_second_min"] == 32 / 8.0
    assert summary["samples_per_second_max"] == 32 / 2.0
    assert summary["padding_fraction"] == pytest.approx(0.25)
    assert summary["real_tokens_per_second"] == pytest.approx(6000 / 4.0)
    assert [r["seconds"] for r in summary["repeats"]] == [4.0, 2.0, 8.0]
    different = [repeats[0], {**repeats[1], "padded_tokens": 9000}]
    with pytest.raises(RuntimeError, match="different batches"):
        script.summarize(row, different, "resident", peak=1e12)


@pytest.mark.skipif(
    not os.environ.get("IMDB_PATH"), reason="no IMDb data: set IMDB_PATH"
)
def test_a_tiny_run_records_every_row_repeat_and_answer(tmp_path):
    tiny = ["--profile", "smoke", "--layers", "1", "--max-length", "256"]
    tiny += ["--reviews", "32", "--pool", "2000", "--warmup-steps", "1"]
    tiny += ["--repeats", "2"]
    tiny += ["--recipes", "course,grouped,multiple,book", "--device-batches", "8"]
    tiny += ["--parity-train", "32", "--parity-eval", "32", "--parity-max-length", "32"]
    cmd = [sys.executable, str(SCRIPT), *tiny, "--output-dir", str(tmp_path)]
    done = subprocess.run(
        [*cmd, "--allow-dirty"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [path] = tmp_path.glob("benchmark_imdb_smoke_*.json")
    record = json.loads(path.read_text())
    assert {"commit", "dirty", "date", "versions", "device", "cpu", "peak_source"} <= (
        set(record)
    )
    runs = {r["recipe"]: r for r in record["runs"]}
    assert list(runs) == ["article", "course", "grouped", "multiple", "sdpa"]
    assert record["book_recipe"] == "sdpa" and record["repeats"] == 2
    assert len(record["order"]) == 2 and record["order"][0] != record["order"][1]
    for run in runs.values():
        assert run["samples"] == 32  # the same reviews for every row
        assert len(run["repeats"]) == 2
        rates = [32 / r["seconds"] for r in run["repeats"]]
        assert run["samples_per_second"] == pytest.approx(statistics.median(rates))
        assert run["samples_per_second_min"] == pytest.approx(min(rates))
    # counted work: the article pads every review to 256 tokens; dynamic padding
    # computes less, grouping less again, and the multiple of 64 more than grouping
    padded = {n: r["padded_tokens_per_second"] * r["seconds"] for n, r in runs.items()}
    assert padded["article"] == pytest.approx(32 * 256)
    assert padded["article"] > padded["course"] > padded["grouped"]
    assert padded["multiple"] > padded["grouped"]
    assert runs["article"]["padding_fraction"] > runs["grouped"]["padding_fraction"]
    book = runs["sdpa"]  # the profile's batch of 32, in steps
    assert book["per_device_batch"] * book["gradient_accumulation_steps"] == 32
    assert runs["sdpa"]["optimizer_steps"] == 32 // 32
    assert runs["article"]["optimizer_steps"] == 32 // 8
    assert record["book_vs_article"]["min"] <= record["book_vs_article"]["median"]
    # accuracies are the shares of right answers, and the paired difference is theirs
    parity = record["parity"]["runs"]
    assert set(parity) == {"article", "course", "book"}
    for name, result in parity.items():
        right = [int(c) for c in result["correct"]]
        assert len(right) == 32
        assert result["accuracy"] == pytest.approx(sum(right) / 32)
    book = [int(c) for c in parity["book"]["correct"]]
    article = [int(c) for c in parity["article"]["correct"]]
    diff = [b - a for a, b in zip(article, book)]
    assert parity["book"]["difference_from_article"] == pytest.approx(sum(diff) / 32)
