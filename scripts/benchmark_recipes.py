#!/usr/bin/env python
"""The article's fine-tuning recipe and the book's, timed on one device, one change at a
time, with the same model and the same reviews.

    python scripts/benchmark_recipes.py                        # full profile, on a GPU
    python scripts/benchmark_recipes.py --profile smoke --max-length 512   # a CPU

Every row of the benchmark is a recipe: a precision, a padding, an order, a per-device
batch and its gradient accumulation, an optimizer and an attention kernel. The first is
the article's (fp32, every review padded to ``max_length``, batches of 8 in random
order, PyTorch's per-parameter AdamW, the eager attention of its time); the book's is
what ``utils`` does on this device (``setup_chapter``'s precision, ``utils.recipe``'s
padding, grouping and batch, and the optimizer and attention that ``utils.finetune``
and ``utils.models`` leave to the libraries). In between, each row changes one thing of
the row before it, in this order: dynamic padding (the Hugging Face course's recipe),
the precision, grouping by length, the multiple of 64, the batch, fused AdamW, SDPA
attention.
A change the book's recipe makes on this device is kept for the rows after it; one it
does not make (the multiple of 64 and other batches on a CPU) is measured all the same
and not kept, so that the record shows what it would cost. A change with nothing to
change (the book's precision is fp32 on a CPU without native bf16) is listed as skipped.
The last kept row is the book's recipe: the script checks that it is.

Every row trains a freshly loaded model on the same sample of training reviews,
tokenized the same way, for one epoch after a few untimed warm-up steps. The sample is
a few batches of the order in which transformers' LengthGroupedSampler would feed the
whole training split, at evenly spaced quantiles of length (``grouped_sample``), so
that grouped rows meet batches as alike in length as a real run's; rows in random order
shuffle the same reviews. The rows run
``--repeats`` times (default 3), interleaved (each repeat runs every row once), and the
record keeps every repeat's time, the median and the spread (minimum and maximum).
Besides samples/s it records real (not padding) tokens/s, the share of padding, peak
memory and the share of the device's peak FLOP/s (FLOPs from ``utils/budget.py``'s
formulas; the peak from a datasheet table for known GPUs, else measured with a large
matmul, and the JSON says which).

Then it checks that speed cost no accuracy: the article's, the course's and the book's
recipe each fine-tune a fresh model for one epoch on the same reviews, with the same
learning rate and warm-up, and are scored on the same held-out training reviews (the
test set is not touched), with standard errors, and each difference from the article's
with the paired standard error.

Writes ``<output-dir>/benchmark_imdb_<profile>_<UTC time>.json`` (``utils.recording``);
refuses a tree with uncommitted changes unless told ``--allow-dirty``.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import gc
import math
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `import utils` without installing the package

from utils.recording import (  # noqa: E402
    add_recording_options,
    check_provenance,
    git_commit,
    hardware,
    provenance_fields,
    record_path,
    write_record,
)

# Sizes per profile: reviews timed per row (whole batches of the profile's), untimed
# warm-up steps, repeats of every row, and the parity run's training and held-out
# reviews.
DEFAULTS = {
    "full": {
        "reviews": 3_200,
        "warmup": 10,
        "repeats": 3,
        "parity_train": 5_000,
        "parity_eval": 2_000,
        "pool": None,  # all but the parity check's
    },
    "smoke": {
        "reviews": 64,
        "warmup": 1,
        "repeats": 3,
        "parity_train": 1_000,
        "parity_eval": 500,
        # reviews whose grouped order the timed batches come from: 4 megabatches
        "pool": 6_400,
    },
}
ARTICLE_BATCH = 8  # the article's per_device_train_batch_size, the course's default
# per-device batches tried for the profile's batch (those that divide it): from one
# review a step to the whole batch at once, so that the fastest is not at an edge
DEVICE_BATCHES = (1, 2, 4, 8, 16, 32)
FUSED, PLAIN = "adamw_torch_fused", "adamw_torch"

# Dense (no sparsity) peak FLOP/s from NVIDIA's datasheets, by a part of the name that
# torch.cuda.get_device_name() reports; the first match wins (PCIe before SXM).
GPU_PEAK_FLOPS = {
    "H200": {"bf16": 989e12, "fp16": 989e12, "fp32": 67e12},
    "H100 PCIe": {"bf16": 756e12, "fp16": 756e12, "fp32": 51e12},
    "H100": {"bf16": 989e12, "fp16": 989e12, "fp32": 67e12},
    "A100": {"bf16": 312e12, "fp16": 312e12, "fp32": 19.5e12},
    "L4": {"bf16": 121e12, "fp16": 121e12, "fp32": 30.3e12},
    "A10G": {"bf16": 70e12, "fp16": 70e12, "fp32": 31.2e12},
    "V100": {"fp16": 125e12, "fp32": 15.7e12},
    "T4": {"fp16": 65e12, "fp32": 8.1e12},  # utils/budget.py's T4_PEAK_FLOPS
}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one row computes its training epoch."""

    precision: str  # fp32, bf16 or fp16
    padding: str  # "max_length", "longest" (in the batch) or "multiple" (of 64)
    grouped: bool  # train_sampling_strategy="group_by_length", else random order
    device_batch: int  # reviews per forward pass
    accumulation: (
        int  # gradient accumulation steps: the model learns from their product
    )
    optimizer: str  # a TrainingArguments optim: adamw_torch or adamw_torch_fused
    attention: str  # attn_implementation: eager or sdpa

    @property
    def batch(self) -> int:
        """The batch the model learns from."""
        return self.device_batch * self.accumulation

    def describe(self) -> str:
        padding = {
            "max_length": "padded to max_length",
            "longest": "padded to the longest in the batch",
            "multiple": "padded to a multiple of 64",
        }[self.padding]
        order = "grouped by length" if self.grouped else "random order"
        split = (
            f"batch {self.device_batch}"
            if self.accumulation == 1
            else f"batch {self.batch} as {self.accumulation} x {self.device_batch}"
        )
        kernels = f"{'fused' if self.optimizer == FUSED else 'plain'} AdamW, "
        return (
            f"{self.precision}, {padding}, {order}, {split}, {kernels}{self.attention}"
        )


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of the benchmark: a recipe, and how it differs from the row before."""

    name: str
    label: str
    recipe: Recipe
    base: str | None = None  # the row it changes one thing of
    change: str | None = None  # what
    kept: bool = True  # whether the rows after it build on it (the book makes it)


ARTICLE = Recipe("fp32", "max_length", False, ARTICLE_BATCH, 1, PLAIN, "eager")


def ladder(book: Recipe, device_batches=DEVICE_BATCHES) -> tuple[list[Row], list]:
    """The rows from the article's recipe to ``book``, one change at a time, and the
    steps skipped because they change nothing here (name, reason).

    A change that ``book`` makes is kept for the rows after it; one it does not make is
    a row of its own that the next rows do not build on. The last kept row is
    ``book``."""
    rows, skipped = [Row("article", "the article", ARTICLE)], []
    current = rows[0]

    def step(name, label, change, kept, same=None, **fields):
        """A row that changes ``fields`` of the current one; kept or not."""
        nonlocal current
        recipe = dataclasses.replace(current.recipe, **fields)
        if recipe == current.recipe:  # nothing to change here
            skipped.append((name, same or f"{current.name} is already so"))
            return
        row = Row(name, label, recipe, current.name, change, kept)
        rows.append(row)
        if kept:
            current = row

    step(
        "course",
        "+ dynamic padding (the course's recipe)",
        "padding",
        book.padding in ("longest", "multiple"),
        padding="longest",
    )
    step(
        "precision",
        f"+ {book.precision}",
        "precision",
        True,
        same=f"the book's precision on this device is {book.precision}, as the "
        "article's",
        precision=book.precision,
    )
    step("grouped", "+ grouped by length", "order", book.grouped, grouped=True)
    step(
        "multiple",
        "+ padded to a multiple of 64",
        "padding",
        book.padding == "multiple",
        padding="multiple",
    )
    batches = {b for b in device_batches if book.batch % b == 0} | {book.device_batch}
    # the book's split first; the others are measured from the same row
    base = current
    for device_batch in sorted(batches, key=lambda b: (b != book.device_batch, b)):
        accumulation = book.batch // device_batch
        current = base
        step(
            f"batch_{device_batch}x{accumulation}",
            f"+ batch {book.batch} as {accumulation} x {device_batch}"
            if accumulation > 1
            else f"+ batch {book.batch} at once",
            "batch",
            device_batch == book.device_batch,
            device_batch=device_batch,
            accumulation=accumulation,
        )
    current = next(
        (r for r in rows if r.base == base.name and r.kept and r.change == "batch"),
        base,
    )
    step(
        "fused", "+ fused AdamW", "optimizer", book.optimizer == FUSED, optimizer=FUSED
    )
    step(
        "sdpa",
        "+ SDPA attention",
        "attention",
        book.attention == "sdpa",
        attention="sdpa",
    )
    if current.recipe != book:
        raise ValueError(
            f"the ladder ends at {current.recipe}, not at the book's recipe {book}"
        )
    return rows, skipped


def book_recipe(setup) -> Recipe:
    """The recipe ``utils`` trains chapter 4's classifier with on this device: read from
    ``utils.finetune.training_arguments``, ``setup.recipe`` and the loaded model."""
    from utils import finetune as ft
    from utils.models import load_classifier

    with tempfile.TemporaryDirectory() as tmp:
        args = ft.training_arguments(
            setup.profile, tmp, setup.precision_args, setup.seed
        )
    model = load_classifier(setup)
    return Recipe(
        precision=setup.precision,
        padding="multiple" if setup.recipe.pad_to_multiple_of else "longest",
        grouped=args.train_sampling_strategy == "group_by_length",
        device_batch=args.per_device_train_batch_size,
        accumulation=args.gradient_accumulation_steps,
        optimizer=args.optim.value,
        attention=model.config._attn_implementation,
    )


def grouped_sample(lengths: list[int], batch: int, count: int, seed: int) -> list[int]:
    """``count`` reviews of the pool whose ``lengths`` are given: ``count // batch``
    batches of the order in which transformers' LengthGroupedSampler would feed the
    whole pool to a run with this ``batch`` (shuffled, cut into megabatches of up to
    50 batches, each sorted by length), kept in that order.

    The batches are taken at evenly spaced quantiles of their mean length, so that a
    sample of a few batches holds short, middling and long reviews as the whole split
    does, and its batches are as alike in length as a real run's (grouping the sample
    alone would give megabatches of a few dozen reviews)."""
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    generator = torch.Generator().manual_seed(seed)
    order = get_length_grouped_indices(lengths, batch, generator=generator)
    batches = [order[i : i + batch] for i in range(0, len(order) - batch + 1, batch)]
    by_length = sorted(
        range(len(batches)), key=lambda b: sum(lengths[i] for i in batches[b])
    )
    wanted = count // batch
    chosen = {
        by_length[(2 * j + 1) * len(batches) // (2 * wanted)] for j in range(wanted)
    }
    return [i for b in sorted(chosen) for i in batches[b]]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="full", help="run profile; default: full")
    parser.add_argument(
        "--max-length",
        type=int,
        help="tokens per review for the timed runs (default: the profile's)",
    )
    parser.add_argument(
        "--reviews",
        type=int,
        help="training reviews timed per row (a multiple of the profile's batch)",
    )
    parser.add_argument(
        "--pool",
        type=int,
        help="training reviews whose grouped order the timed batches are drawn from "
        "(default: 6,400 in smoke, else all but the parity check's)",
    )
    parser.add_argument(
        "--warmup-steps", type=int, help="untimed steps before each timed epoch"
    )
    parser.add_argument(
        "--repeats", type=int, help="times every row is timed (default: 3)"
    )
    parser.add_argument(
        "--recipes",
        help="comma-separated rows to time (default: all; 'book' names the book's); "
        "the article's is always timed",
    )
    parser.add_argument(
        "--device-batches",
        default=",".join(map(str, DEVICE_BATCHES)),
        help="per-device batches to try for the profile's batch (default: "
        f"{','.join(map(str, DEVICE_BATCHES))}; those that divide it)",
    )
    parser.add_argument(
        "--layers",
        type=int,
        help="keep only the model's first LAYERS layers (a smaller shape, for tests)",
    )
    parser.add_argument(
        "--parity-train",
        type=int,
        help="training reviews of the accuracy check (0: skip it)",
    )
    parser.add_argument(
        "--parity-eval", type=int, help="held-out training reviews that score it"
    )
    parser.add_argument(
        "--parity-max-length",
        type=int,
        help="tokens per review in the accuracy check (default: the profile's)",
    )
    parser.add_argument(
        "--model", help="a Hub id or local folder instead of the profile's model"
    )
    add_recording_options(parser, "the JSON")
    return parser.parse_args(argv)


# --- what one recipe is, in Trainer's terms -------------------------------------


def recipe_collator(recipe: Recipe, tokenizer, max_length: int):
    from transformers import DataCollatorWithPadding

    from utils import finetune as ft

    if recipe.padding == "max_length":
        return DataCollatorWithPadding(
            tokenizer, padding="max_length", max_length=max_length
        )
    return ft.collator(
        tokenizer, ft.PAD_TO_MULTIPLE_OF if recipe.padding == "multiple" else None
    )


def recipe_arguments(recipe: Recipe, setup, output_dir: str, **overrides):
    """``TrainingArguments`` of ``recipe``: the library's defaults except what the
    recipe names."""
    from transformers import TrainingArguments

    from utils.hardware import pick_precision

    common = dict(
        per_device_train_batch_size=recipe.device_batch,
        gradient_accumulation_steps=recipe.accumulation,
        train_sampling_strategy="group_by_length" if recipe.grouped else "random",
        optim=recipe.optimizer,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        logging_strategy="no",
        seed=setup.seed,
        **pick_precision(setup.device, recipe.precision),
    )
    return TrainingArguments(output_dir=output_dir, **{**common, **overrides})


def model_config(setup, layers: int | None):
    """The model's configuration, with ``layers`` layers where given."""
    from transformers import AutoConfig

    kwargs = {"num_hidden_layers": layers} if layers else {}
    return AutoConfig.from_pretrained(setup.model.source, **kwargs)


def recipe_model(recipe: Recipe, setup, layers: int | None):
    from utils.environment import seed_everything
    from utils.models import load_classifier

    seed_everything(setup.seed)  # every row starts from the same weights
    kwargs = {"num_hidden_layers": layers} if layers else {}
    return load_classifier(setup, attn_implementation=recipe.attention, **kwargs)


# --- measuring ------------------------------------------------------------------


class CountingCollator:
    """A collator that notes each batch's shape and real (unpadded) lengths."""

    def __init__(self, collate):
        self.collate, self.batches = collate, []

    def __call__(self, features):
        batch = self.collate(features)
        mask = batch["attention_mask"]
        self.batches.append(mask.sum(dim=1).tolist() + [mask.shape[1]])
        return batch


def make_clock(setup):
    """A callback that notes the wall time at the start of training and after each
    optimizer step (the device's queued work waited for), and the
    CPU time this process got meanwhile."""
    from transformers import TrainerCallback

    from utils.device import synchronize

    class Clock(TrainerCallback):
        times: list[float] = []
        cpu_seconds = 0.0

        def now(self):
            synchronize(setup.device)  # the GPU runs ahead of Python
            return time.perf_counter()

        def on_train_begin(self, args, state, control, **kwargs):
            self.cpu_start = time.process_time()
            self.times = [self.now()]

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(self.now())
            self.cpu_seconds = time.process_time() - self.cpu_start

    return Clock()


class PeakMemory:
    """Peak memory of one run: CUDA's allocator peak, or on the CPU the process's peak
    resident memory, reset before each run (``/proc/self/clear_refs``)."""

    def __init__(self, device):
        self.device = device
        self.kind = "process peak resident memory since start (not resettable)"

    def reset(self) -> None:
        import torch

        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            self.kind = "torch.cuda.max_memory_allocated"
            return
        try:
            # hand freed memory back first, so that the peak starts from what is in use
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            Path("/proc/self/clear_refs").write_text("5")
            self.kind = "process peak resident memory, reset before each run"
        except OSError:
            pass

    def gigabytes(self) -> float:
        import resource

        import torch

        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated() / 2**30
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**20  # kB
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def training_flops(config, batches) -> tuple[float, float]:
    """Training FLOPs (3 x forward: utils/budget.py's formulas) of the batches noted by
    ``CountingCollator``: (on the real tokens, on the padded batches computed)."""
    import numpy as np

    from utils.budget import classifier_head_flops, encoder_flops

    real = padded = 0.0
    for *lengths, width in batches:
        n = np.array(lengths, dtype=float)
        head = classifier_head_flops(config, len(n))
        real += 3 * (encoder_flops(config, len(n), n.mean(), (n**2).mean()) + head)
        padded += 3 * (encoder_flops(config, len(n), width) + head)
    return real, padded


def device_peak(setup) -> tuple[dict, str]:
    """Peak FLOP/s by precision: a datasheet's for known GPUs, else measured with a
    matmul (the best of 5, timed with ``setup.stopwatch``), and where the numbers come
    from."""
    import torch

    from utils.device import autocast_dtype

    device = setup.device
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for part, peaks in GPU_PEAK_FLOPS.items():
            if part in name:
                return peaks, f"NVIDIA datasheet for {part} (dense)"
    n = 4096 if device.type == "cuda" else 1024
    peaks = {}
    for precision in ("fp32", "bf16"):
        a = torch.randn(n, n, device=device, dtype=autocast_dtype(precision))
        best = math.inf
        for _ in range(5):
            with setup.stopwatch() as clock:
                a @ a
            best = min(best, clock.seconds)
        peaks[precision] = 2 * n**3 / best
    return peaks, f"measured: the fastest of 5 {n} x {n} matmuls per precision"


# --- one row, timed ---------------------------------------------------------------


def quiet_trainer(**kwargs):
    """A ``Trainer`` that prints no log lines (the script prints its own)."""
    from transformers import PrinterCallback, Trainer

    trainer = Trainer(**kwargs)
    trainer.remove_callback(PrinterCallback)
    # as utils.finetune.make_trainer: each step's loss is a mean, to be divided by the
    # accumulation steps
    trainer.model_accepts_loss_kwargs = False
    return trainer


def time_recipe(recipe: Recipe, setup, train, tokenizer, max_length, cli, memory):
    """Warm up, then time one epoch of ``recipe`` over ``train``: one repeat."""
    import torch

    model = recipe_model(recipe, setup, cli.layers)
    collate = recipe_collator(recipe, tokenizer, max_length)
    with tempfile.TemporaryDirectory() as output_dir:
        if cli.warmup_steps:
            args = recipe_arguments(
                recipe,
                setup,
                output_dir,
                max_steps=cli.warmup_steps,
                train_sampling_strategy="random",  # any batches: not timed
            )
            quiet_trainer(
                model=model,
                args=args,
                train_dataset=train,
                data_collator=collate,
                processing_class=tokenizer,
            ).train()
        counting, clock = CountingCollator(collate), make_clock(setup)
        # the sample is in the grouped order already (grouped_sample); random rows
        # shuffle it
        order = {"train_sampling_strategy": "sequential"} if recipe.grouped else {}
        args = recipe_arguments(recipe, setup, output_dir, num_train_epochs=1, **order)
        trainer = quiet_trainer(
            model=model,
            args=args,
            train_dataset=train,
            data_collator=counting,
            processing_class=tokenizer,
            callbacks=[clock],
        )
        memory.reset()
        trainer.train()
        peak = memory.gigabytes()
    seconds = clock.times[-1] - clock.times[0]
    real = sum(sum(b[:-1]) for b in counting.batches)
    padded = sum(len(b[:-1]) * b[-1] for b in counting.batches)
    real_flops, padded_flops = training_flops(model.config, counting.batches)
    return {
        "seconds": seconds,
        "optimizer_steps": len(clock.times) - 1,
        "samples": sum(len(b) - 1 for b in counting.batches),
        "real_tokens": real,
        "padded_tokens": padded,
        "distinct_lengths": len({b[-1] for b in counting.batches}),
        "real_flops": real_flops,
        "padded_flops": padded_flops,
        "peak_memory_gb": round(peak, 3),
        # CPU seconds per thread and second: below 1 where threads waited, on
        # single-threaded work or on other processes that took the cores
        "cpu_share": clock.cpu_seconds / (seconds * torch.get_num_threads()),
        "attention": model.config._attn_implementation,
        "optimizer": args.optim.value,
    }


def summarize(row: Row, repeats: list[dict], memory_kind: str, peak: float) -> dict:
    """A row of the record: its recipe, every repeat, and the median and spread."""
    first = repeats[0]
    for r in repeats:  # the same seed, the same batches: only the time may differ
        if (r["samples"], r["padded_tokens"]) != (
            first["samples"],
            first["padded_tokens"],
        ):
            raise RuntimeError(f"{row.name}: the repeats computed different batches")
        if (r["attention"], r["optimizer"]) != (
            row.recipe.attention,
            row.recipe.optimizer,
        ):
            raise RuntimeError(
                f"{row.name}: ran with {r['attention']}, {r['optimizer']}"
            )
    rates = [first["samples"] / r["seconds"] for r in repeats]
    median_seconds = statistics.median(r["seconds"] for r in repeats)
    return {
        "recipe": row.name,
        "label": row.label,
        "base": row.base,
        "change": row.change,
        "kept": row.kept,
        "describe": row.recipe.describe(),
        **dataclasses.asdict(row.recipe),
        "per_device_batch": row.recipe.device_batch,
        "gradient_accumulation_steps": row.recipe.accumulation,
        "sampling": "group_by_length" if row.recipe.grouped else "random",
        "samples": first["samples"],
        "optimizer_steps": first["optimizer_steps"],
        "repeats": [
            {k: r[k] for k in ("seconds", "cpu_share", "peak_memory_gb")}
            for r in repeats
        ],
        "seconds": median_seconds,
        "samples_per_second": statistics.median(rates),
        "samples_per_second_min": min(rates),
        "samples_per_second_max": max(rates),
        "real_tokens_per_second": first["real_tokens"] / median_seconds,
        "padded_tokens_per_second": first["padded_tokens"] / median_seconds,
        "padding_fraction": 1 - first["real_tokens"] / first["padded_tokens"],
        "distinct_lengths": first["distinct_lengths"],
        "model_flops_per_second": first["real_flops"] / median_seconds,
        "computed_flops_per_second": first["padded_flops"] / median_seconds,
        "share_of_peak": first["real_flops"] / median_seconds / peak,
        "peak_memory_gb": max(r["peak_memory_gb"] for r in repeats),
        "peak_memory_kind": memory_kind,
        "cpu_share": statistics.median(r["cpu_share"] for r in repeats),
    }


def ratios(runs: list[dict], name: str) -> dict:
    """``name``'s samples/s over the article's: of the medians, and the range that the
    repeats allow (slowest of ``name`` over fastest article, and the other way)."""
    by = {r["recipe"]: r for r in runs}
    a, b = by["article"], by[name]
    return {
        "median": b["samples_per_second"] / a["samples_per_second"],
        "min": b["samples_per_second_min"] / a["samples_per_second_max"],
        "max": b["samples_per_second_max"] / a["samples_per_second_min"],
    }


# --- accuracy parity --------------------------------------------------------------


def accuracy_parity(setup, recipes: dict, tokenized, tokenizer, max_length, cli):
    """Each of ``recipes`` (name: Recipe; the article's first) fine-tunes a fresh model
    for one epoch on ``tokenized['train']`` with the profile's learning rate and
    warm-up; all are scored on ``tokenized['validation']``. Returns accuracies,
    standard errors, and each recipe's difference from the article's with the paired
    standard error."""
    from utils.finetune import predict_in_order

    profile = setup.profile
    correct, runs = {}, {}
    for name, recipe in recipes.items():
        model = recipe_model(recipe, setup, cli.layers)
        with tempfile.TemporaryDirectory() as output_dir:
            args = recipe_arguments(
                recipe,
                setup,
                output_dir,
                num_train_epochs=1,
                learning_rate=profile.learning_rate,
                warmup_steps=profile.warmup_steps,
                weight_decay=0.01,
                per_device_eval_batch_size=profile.eval_batch_size,
            )
            trainer = quiet_trainer(
                model=model,
                args=args,
                train_dataset=tokenized["train"],
                data_collator=recipe_collator(recipe, tokenizer, max_length),
                processing_class=tokenizer,
            )
            with setup.stopwatch() as clock:
                trainer.train()
            out = predict_in_order(trainer, tokenized["validation"])
        hits = (out.predictions.argmax(-1) == out.label_ids).astype(float)
        correct[name] = hits
        a, n = hits.mean(), len(hits)
        runs[name] = {
            "describe": recipe.describe(),
            "accuracy": float(a),
            "standard_error": float(math.sqrt(a * (1 - a) / n)),
            "train_seconds": clock.seconds,
            "correct": "".join("1" if h else "0" for h in hits),
        }
    first = next(iter(recipes))
    for name in list(recipes)[1:]:
        diff = correct[name] - correct[first]
        se = diff.std(ddof=1) / math.sqrt(len(diff))
        runs[name]["difference_from_article"] = float(diff.mean())
        runs[name]["paired_standard_error"] = float(se)
        runs[name]["within_noise"] = bool(abs(diff.mean()) <= 2 * se)
    return {
        "train_size": len(tokenized["train"]),
        "eval_size": len(tokenized["validation"]),
        "eval_split": "validation: held-out training reviews",
        "max_length": max_length,
        "epochs": 1,
        "learning_rate": profile.learning_rate,
        "warmup_steps": profile.warmup_steps,
        "runs": runs,
        "within_noise": all(r.get("within_noise", True) for r in runs.values()),
        "note": "same reviews, tokens, learning rate and warm-up for every recipe; "
        "they differ in precision, padding, order, batch and kernels",
    }


# --- the run ------------------------------------------------------------------------


def print_table(runs: list[dict]) -> None:
    base = next(r for r in runs if r["recipe"] == "article")["samples_per_second"]
    print(
        f"{'row':12s} {'change':10s} {'kept':4s} {'samples/s':>9s} {'min-max':>13s} "
        f"{'x art.':>6s} {'padding':>7s} {'memory':>8s}"
    )
    for r in runs:
        print(
            f"{r['recipe']:12s} {r['change'] or '':10s} "
            f"{'yes' if r['kept'] else 'no':4s} "
            f"{r['samples_per_second']:9.2f} "
            f"{r['samples_per_second_min']:6.2f}-{r['samples_per_second_max']:<6.2f} "
            f"{r['samples_per_second'] / base:6.2f} {r['padding_fraction']:7.1%} "
            f"{r['peak_memory_gb']:6.2f}GB"
        )


def chosen_rows(rows: list[Row], names: str | None) -> list[Row]:
    """The rows named in ``--recipes`` (all without it), the article's always."""
    if not names:
        return rows
    book = [r for r in rows if r.kept][-1].name
    wanted = {book if n == "book" else n for n in names.split(",")}
    unknown = wanted - {r.name for r in rows}
    if unknown:
        raise SystemExit(
            f"--recipes: unknown {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(r.name for r in rows)} or book"
        )
    return [r for r in rows if r.name in wanted | {"article"}]


def main(argv=None) -> Path:
    cli = parse_args(argv)
    provenance = git_commit()
    check_provenance(provenance, cli.allow_dirty)

    from datasets import DatasetDict

    from utils import finetune as ft
    from utils import setup_chapter
    from utils.imdb import load_imdb
    from utils.models import load_tokenizer, resolve_model

    started = datetime.now(timezone.utc)
    setup = setup_chapter(profile=cli.profile)
    if cli.model:
        profile = setup.profile.replace(model=cli.model)
        setup = dataclasses.replace(
            setup, profile=profile, model=resolve_model(cli.model)
        )
    profile = setup.profile
    sizes = DEFAULTS.get(profile.name, DEFAULTS["smoke"])
    for field, key in (
        ("reviews", "reviews"),
        ("warmup_steps", "warmup"),
        ("repeats", "repeats"),
        ("parity_train", "parity_train"),
        ("parity_eval", "parity_eval"),
        ("pool", "pool"),
    ):
        if getattr(cli, field) is None:
            setattr(cli, field, sizes[key])
    if cli.repeats < 1:
        raise SystemExit(f"--repeats {cli.repeats}: time every row at least once")
    max_length = cli.max_length or profile.max_length
    parity_length = cli.parity_max_length or profile.max_length
    book = book_recipe(setup)
    device_batches = [int(b) for b in cli.device_batches.split(",") if b]
    all_rows, skipped = ladder(book, device_batches)
    rows = chosen_rows(all_rows, cli.recipes)
    book_row = [r for r in all_rows if r.kept][-1]

    # the whole training split, shuffled with the seed: the parity run's training and
    # held-out reviews first, then the pool the timed batches are drawn from
    whole = load_imdb(setup, None, 2, verbose=False)["train"]
    parity_needed = cli.parity_train + (cli.parity_eval if cli.parity_train else 0)
    pool_size = min(cli.pool or len(whole), len(whole) - parity_needed)
    if cli.reviews % book.batch or cli.reviews > pool_size:
        raise SystemExit(
            f"--reviews {cli.reviews}: use a multiple of the batch ({book.batch}) "
            f"no larger than the {pool_size:,} reviews left after the parity check"
        )
    tokenizer = load_tokenizer(setup)
    config = model_config(setup, cli.layers)
    pool = ft.tokenize_imdb(
        DatasetDict(
            {"train": whole.select(range(parity_needed, parity_needed + pool_size))}
        ),
        tokenizer,
        max_length,
        profile.truncation,
        profile.head_tokens,
    )["train"]
    lengths = [len(ids) for ids in pool["input_ids"]]
    timed = pool.select(grouped_sample(lengths, book.batch, cli.reviews, setup.seed))

    peaks, peak_source = device_peak(setup)
    peak = max(peaks.values())
    memory = PeakMemory(setup.device)
    repeats = {row.name: [] for row in rows}
    order = []
    for repeat in range(cli.repeats):
        # each repeat starts one row further on, so that no row always runs first
        turn = rows[repeat % len(rows) :] + rows[: repeat % len(rows)]
        order.append([row.name for row in turn])
        for row in turn:
            run = time_recipe(
                row.recipe, setup, timed, tokenizer, max_length, cli, memory
            )
            repeats[row.name].append(run)
            print(
                f"repeat {repeat + 1}, {row.name}: "
                f"{run['samples'] / run['seconds']:.2f} samples/s, "
                f"CPU share {run['cpu_share']:.2f}",
                flush=True,
            )
    runs = [summarize(row, repeats[row.name], memory.kind, peak) for row in rows]
    print_table(runs)
    ran = {r["recipe"] for r in runs}
    book_ratio = ratios(runs, book_row.name) if book_row.name in ran else None
    if book_ratio:
        print(
            f"the book's recipe: {book_ratio['median']:.2f}x the article's samples/s "
            f"(repeats allow {book_ratio['min']:.2f}-{book_ratio['max']:.2f})"
        )

    parity = None
    if cli.parity_train:
        split = DatasetDict(
            {
                "train": whole.select(range(cli.parity_train)),
                "validation": whole.select(range(cli.parity_train, parity_needed)),
            }
        )
        tokenized = ft.tokenize_imdb(
            split, tokenizer, parity_length, profile.truncation, profile.head_tokens
        )
        by_name = {r.name: r.recipe for r in all_rows}
        contenders = {
            "article": by_name["article"],
            "course": by_name["course"],
            "book": book,
        }
        parity = accuracy_parity(
            setup, contenders, tokenized, tokenizer, parity_length, cli
        )
        for name, r in parity["runs"].items():
            extra = (
                f", {100 * r['difference_from_article']:+.1f} points vs the article "
                f"(paired SE {100 * r['paired_standard_error']:.1f})"
                if "difference_from_article" in r
                else ""
            )
            print(
                f"parity {name}: accuracy {r['accuracy']:.1%} "
                f"(SE {100 * r['standard_error']:.1f}){extra}"
            )

    record = {
        **provenance_fields(
            "scripts/benchmark_recipes.py",
            profile.name,
            sys.argv[1:] if argv is None else argv,
            started,
            provenance,
        ),
        "model": setup.model.label,
        "shape": {
            "layers": config.num_hidden_layers,
            "hidden": config.hidden_size,
            "heads": config.num_attention_heads,
        },
        **hardware(),
        "book_precision": setup.precision,
        "book_recipe": book_row.name,
        "book": dataclasses.asdict(book),
        "recipe_measured_on_this_device": setup.recipe.measured,
        "max_length": max_length,
        "reviews": cli.reviews,
        "pool": pool_size,
        "timed_sample": f"{cli.reviews} training reviews, the same for every row: "
        f"{cli.reviews // book.batch} batches of {book.batch} of the grouped order "
        f"of {pool_size:,} reviews (LengthGroupedSampler's), at evenly spaced "
        "quantiles of their mean length; "
        "rows in random order shuffle them, grouped rows take them in that order",
        "warmup_steps": cli.warmup_steps,
        "repeats": cli.repeats,
        "order": order,
        "truncation": profile.truncation,
        "peak_flops": peaks,
        "peak_source": peak_source,
        "runs": runs,
        "skipped": [{"recipe": n, "reason": why} for n, why in skipped],
        "book_vs_article": book_ratio,
        "parity": parity,
        "seconds": (datetime.now(timezone.utc) - started).total_seconds(),
    }
    return write_record(
        record, record_path(cli.output_dir, "benchmark_imdb", profile.name, started)
    )


if __name__ == "__main__":
    main()
