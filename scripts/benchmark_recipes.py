#!/usr/bin/env python
"""Three ways to fine-tune on IMDb, timed on one device: the article's recipe, the
Hugging Face course's and the book's, with the same model and the same reviews.

    python scripts/benchmark_recipes.py                        # full profile, on a GPU
    python scripts/benchmark_recipes.py --profile smoke --max-length 512

- **article**: fp32, every review padded to ``max_length``, batches of 8 in random
  order (the article tokenizes with ``padding=True`` and ``truncation=True``, which pads
  to 512 as soon as one review is that long);
- **course**: the Hugging Face course's ``Trainer`` chapter: ``DataCollatorWithPadding``
  (each batch padded to its longest review) and default arguments (fp32, batches of 8);
- **book**: ``utils.finetune``'s recipe: the precision ``setup_chapter`` picks, batches
  grouped by length and padded to a multiple of 64, the profile's batch, fused AdamW and
  SDPA attention;

and, between the article's and the book's, one change at a time (precision, grouped
dynamic padding, the multiple of 64, then the batch), so that each step's share shows.

Every recipe trains the same freshly loaded model on the same sample of training
reviews, tokenized the same way (the profile's truncation), for one epoch; a few steps
of warm-up on the same settings come first and are not timed. The script prints, and
writes to ``<output-dir>/benchmark_imdb_<profile>_<UTC time>.json`` with the device,
library versions, date and git commit: samples/s, real (not padding) tokens/s, the
share of padding, peak memory and the share of the device's peak FLOP/s (FLOPs from
``utils/budget.py``'s formulas; the peak from a datasheet table for known GPUs, else
measured with a large matmul, and the JSON says which). Then it checks that speed cost
no accuracy: the article's, the course's and the book's recipe each fine-tune a fresh
model for one epoch on the same reviews, with the same learning rate and warm-up, and
are scored on the same held-out training reviews (the test set is not touched);
accuracies come with standard errors, and differences with the paired standard error.

Like ``scripts/finetune_imdb.py`` it refuses to record from a tree with uncommitted
changes unless told ``--allow-dirty``.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import gc
import json
import math
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `import utils` without installing the package
sys.path.insert(0, str(REPO / "scripts"))

from finetune_imdb import (  # noqa: E402
    add_recording_options,
    check_provenance,
    git_commit,
    versions,
)

# Sizes per profile: reviews timed per recipe, untimed warm-up steps, and the parity
# run's training and held-out reviews. On a GPU 6,400 reviews let transformers'
# LengthGroupedSampler sort full chunks of 50 batches of 32, as on the whole split.
DEFAULTS = {
    "full": {
        "reviews": 6_400,
        "warmup": 10,
        "parity_train": 5_000,
        "parity_eval": 2_000,
    },
    "smoke": {"reviews": 256, "warmup": 2, "parity_train": 1_000, "parity_eval": 500},
}
ARTICLE_BATCH = 8  # the article's per_device_train_batch_size, the course's default

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
    name: str
    label: str
    precision: str  # "fp32", or "book": what setup_chapter picks for the device
    padding: str  # "max_length", "longest" (in the batch) or "multiple" (of 64)
    grouped: bool  # train_sampling_strategy="group_by_length", else random order
    batch: int | None  # per-device batch; None: the profile's
    named_kernels: bool = False  # optim="adamw_torch_fused", attn_implementation="sdpa"


RECIPES = (
    Recipe(
        "article",
        "the article: fp32, padded to max_length, batch 8",
        "fp32",
        "max_length",
        False,
        ARTICLE_BATCH,
    ),
    Recipe(
        "course",
        "the course: fp32, dynamic padding, batch 8",
        "fp32",
        "longest",
        False,
        ARTICLE_BATCH,
    ),
    Recipe(
        "precision",
        "article + the book's precision",
        "book",
        "max_length",
        False,
        ARTICLE_BATCH,
    ),
    Recipe(
        "grouped",
        "+ grouped by length, dynamic padding",
        "book",
        "longest",
        True,
        ARTICLE_BATCH,
    ),
    Recipe(
        "multiple",
        "+ padded to a multiple of 64",
        "book",
        "multiple",
        True,
        ARTICLE_BATCH,
    ),
    Recipe(
        "book",
        "the book: + the profile's batch, fused AdamW, SDPA",
        "book",
        "multiple",
        True,
        None,
        True,
    ),
)
PARITY_RECIPES = ("article", "course", "book")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="full", help="run profile; default: full")
    parser.add_argument(
        "--max-length",
        type=int,
        help="tokens per review for the timed runs (default: the profile's)",
    )
    parser.add_argument("--reviews", type=int, help="training reviews timed per recipe")
    parser.add_argument(
        "--warmup-steps", type=int, help="untimed steps before each timed epoch"
    )
    parser.add_argument(
        "--recipes",
        default=",".join(r.name for r in RECIPES),
        help="comma-separated recipes to time (default: all of "
        f"{', '.join(r.name for r in RECIPES)})",
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
    """``TrainingArguments`` of ``recipe``: the book's through
    ``utils.finetune.training_arguments``, the others with the library's defaults
    except the batch, the order and the precision the recipe names."""
    from transformers import TrainingArguments

    from utils import finetune as ft

    profile = setup.profile
    cpu = {"use_cpu": True} if setup.device.type == "cpu" else {}
    precision = setup.precision_args if recipe.precision == "book" else cpu
    batch = recipe.batch or profile.per_device_batch_size
    common = dict(
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=(
            1 if recipe.batch else profile.gradient_accumulation_steps
        ),
        train_sampling_strategy="group_by_length" if recipe.grouped else "random",
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        logging_strategy="no",
        seed=setup.seed,
        **precision,
    )
    if recipe.named_kernels:
        common["optim"] = "adamw_torch_fused"
        seed = common.pop("seed")
        return ft.training_arguments(
            profile, output_dir, precision, seed, **{**common, **overrides}
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

    seed_everything(setup.seed)  # every recipe starts from the same weights
    kwargs = {"num_hidden_layers": layers} if layers else {}
    if recipe.named_kernels:
        kwargs["attn_implementation"] = "sdpa"
    return load_classifier(setup, **kwargs)


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


def make_clock(device):
    """A callback that notes the wall time at the start of training and after each
    step, and the CPU time this process got meanwhile."""
    import torch
    from transformers import TrainerCallback

    def now():
        if device.type == "cuda":
            torch.cuda.synchronize()  # the GPU runs ahead of Python
        return time.perf_counter()

    class Clock(TrainerCallback):
        times: list[float] = []
        cpu_seconds = 0.0

        def on_train_begin(self, args, state, control, **kwargs):
            self.cpu_start = time.process_time()
            self.times = [now()]

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(now())
            self.cpu_seconds = time.process_time() - self.cpu_start

    return Clock()


class PeakMemory:
    """Peak memory of one recipe: CUDA's allocator peak, or on the CPU the process's
    peak resident memory, reset before each recipe (``/proc/self/clear_refs``)."""

    def __init__(self, device):
        self.device = device

    def reset(self) -> None:
        import torch

        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            return
        try:
            # hand freed memory back first, so that the peak starts from what is in use
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            Path("/proc/self/clear_refs").write_text("5")
            self.kind = "process peak resident memory, reset before each recipe"
        except OSError:
            self.kind = "process peak resident memory since start (not resettable)"

    def gigabytes(self) -> float:
        import resource

        import torch

        if self.device.type == "cuda":
            self.kind = "torch.cuda.max_memory_allocated"
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


def device_peak(device) -> tuple[dict, str]:
    """Peak FLOP/s by precision: a datasheet's for known GPUs, else measured with a
    4096 x 4096 matmul (the best of a few), and where the numbers come from."""
    import torch

    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for part, peaks in GPU_PEAK_FLOPS.items():
            if part in name:
                return peaks, f"NVIDIA datasheet for {part} (dense)"
    n = 4096 if device.type == "cuda" else 2048
    peaks = {}
    for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a = torch.randn(n, n, device=device, dtype=dtype)
        best = math.inf
        for _ in range(5):
            start = time.perf_counter()
            a @ a
            if device.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
        peaks[precision] = 2 * n**3 / best
    return peaks, f"measured: the fastest of 5 {n} x {n} matmuls per precision"


# --- one recipe, timed ------------------------------------------------------------


def quiet_trainer(**kwargs):
    """A ``Trainer`` that prints no log lines (the script prints its own)."""
    from transformers import PrinterCallback, Trainer

    trainer = Trainer(**kwargs)
    trainer.remove_callback(PrinterCallback)
    return trainer


def time_recipe(recipe, setup, train, tokenizer, max_length, cli, memory) -> dict:
    """Warm up, then time one epoch of ``recipe`` over ``train``."""
    import torch

    model = recipe_model(recipe, setup, cli.layers)
    collate = recipe_collator(recipe, tokenizer, max_length)
    with tempfile.TemporaryDirectory() as output_dir:
        if cli.warmup_steps:
            args = recipe_arguments(
                recipe, setup, output_dir, max_steps=cli.warmup_steps
            )
            quiet_trainer(
                model=model,
                args=args,
                train_dataset=train,
                data_collator=collate,
                processing_class=tokenizer,
            ).train()
        counting, clock = CountingCollator(collate), make_clock(setup.device)
        args = recipe_arguments(recipe, setup, output_dir, num_train_epochs=1)
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
    samples = sum(len(b) - 1 for b in counting.batches)
    real_flops, padded_flops = training_flops(model.config, counting.batches)
    return {
        "recipe": recipe.name,
        "label": recipe.label,
        "precision": "fp32" if recipe.precision == "fp32" else setup.precision,
        "padding": recipe.padding,
        "sampling": args.train_sampling_strategy,
        "per_device_batch": args.per_device_train_batch_size,
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
        "optimizer": args.optim.value,
        "attention": model.config._attn_implementation,
        "steps": len(clock.times) - 1,
        "samples": samples,
        "seconds": seconds,
        "samples_per_second": samples / seconds,
        "real_tokens_per_second": real / seconds,
        "padded_tokens_per_second": padded / seconds,
        "padding_fraction": 1 - real / padded,
        "distinct_lengths": len({b[-1] for b in counting.batches}),
        "model_flops_per_second": real_flops / seconds,
        "computed_flops_per_second": padded_flops / seconds,
        "peak_memory_gb": round(peak, 3),
        "peak_memory_kind": memory.kind,
        # CPU seconds per thread and second: below 1 where threads waited, on
        # single-threaded work or on other processes that took the cores
        "cpu_share": clock.cpu_seconds / (seconds * torch.get_num_threads()),
    }


# --- accuracy parity --------------------------------------------------------------


def accuracy_parity(setup, tokenized, tokenizer, max_length, cli) -> dict:
    """Each of ``PARITY_RECIPES`` fine-tunes a fresh model for one epoch on
    ``tokenized['train']`` with the profile's learning rate and warm-up; all are scored
    on ``tokenized['validation']``. Returns accuracies, standard errors, and each
    recipe's difference from the article's with the paired standard error."""
    from utils.finetune import predict_in_order

    by_name = {r.name: r for r in RECIPES}
    profile = setup.profile
    correct, runs = {}, {}
    for name in PARITY_RECIPES:
        recipe = by_name[name]
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
            start = time.perf_counter()
            trainer.train()
            train_seconds = time.perf_counter() - start
            out = predict_in_order(trainer, tokenized["validation"])
        hits = (out.predictions.argmax(-1) == out.label_ids).astype(float)
        correct[name] = hits
        a, n = hits.mean(), len(hits)
        runs[name] = {
            "accuracy": float(a),
            "standard_error": float(math.sqrt(a * (1 - a) / n)),
            "train_seconds": train_seconds,
        }
    for name in PARITY_RECIPES[1:]:
        diff = correct[name] - correct["article"]
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


def cpu_name() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return None


def print_table(runs: list[dict], peak: float) -> None:
    base = next((r for r in runs if r["recipe"] == "article"), runs[0])
    print(
        f"{'recipe':52s} {'samples/s':>9s} {'x':>5s} {'tokens/s':>9s} "
        f"{'padding':>7s} {'memory':>8s} {'of peak':>7s}"
    )
    for r in runs:
        print(
            f"{r['label']:52s} {r['samples_per_second']:9.1f} "
            f"{r['samples_per_second'] / base['samples_per_second']:5.2f} "
            f"{r['real_tokens_per_second']:9.0f} {r['padding_fraction']:7.1%} "
            f"{r['peak_memory_gb']:6.2f}GB "
            f"{r['model_flops_per_second'] / peak:7.1%}"
        )


def main(argv=None) -> Path:
    cli = parse_args(argv)
    provenance = git_commit()
    check_provenance(provenance, cli.allow_dirty)
    import torch

    from datasets import DatasetDict

    from utils import finetune as ft
    from utils import setup_chapter
    from utils.environment import describe_device
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
        ("parity_train", "parity_train"),
        ("parity_eval", "parity_eval"),
    ):
        if getattr(cli, field) is None:
            setattr(cli, field, sizes[key])
    max_length = cli.max_length or profile.max_length
    parity_length = cli.parity_max_length or profile.max_length
    chosen = [r for r in RECIPES if r.name in cli.recipes.split(",")]
    unknown = set(cli.recipes.split(",")) - {r.name for r in RECIPES}
    if unknown or not chosen:
        raise SystemExit(
            f"--recipes: unknown {', '.join(sorted(unknown)) or 'empty list'}; "
            f"choose from {', '.join(r.name for r in RECIPES)}"
        )

    # the whole training split, shuffled with the seed: disjoint random samples for the
    # timed runs, the parity run's training and its held-out reviews
    whole = load_imdb(setup, None, 2, verbose=False)["train"]
    needed = (
        cli.reviews + cli.parity_train + (cli.parity_eval if cli.parity_train else 0)
    )
    if needed > len(whole):
        raise SystemExit(
            f"--reviews, --parity-train and --parity-eval ask for {needed:,} training "
            f"reviews; IMDb has {len(whole):,}"
        )
    tokenizer = load_tokenizer(setup)
    config = model_config(setup, cli.layers)
    timed = ft.tokenize_imdb(
        DatasetDict({"train": whole.select(range(cli.reviews))}),
        tokenizer,
        max_length,
        profile.truncation,
        profile.head_tokens,
    )["train"]

    peaks, peak_source = device_peak(setup.device)
    peak = max(peaks.values())
    memory = PeakMemory(setup.device)
    runs = []
    for recipe in chosen:
        run = time_recipe(recipe, setup, timed, tokenizer, max_length, cli, memory)
        run["share_of_peak"] = run["model_flops_per_second"] / peak
        runs.append(run)
        print(
            f"{recipe.name}: {run['samples_per_second']:.1f} samples/s, "
            f"padding {run['padding_fraction']:.0%}, "
            f"CPU share {run['cpu_share']:.2f}",
            flush=True,
        )
    print_table(runs, peak)

    parity = None
    if cli.parity_train:
        start = cli.reviews
        split = DatasetDict(
            {
                "train": whole.select(range(start, start + cli.parity_train)),
                "validation": whole.select(range(start + cli.parity_train, needed)),
            }
        )
        tokenized = ft.tokenize_imdb(
            split, tokenizer, parity_length, profile.truncation, profile.head_tokens
        )
        parity = accuracy_parity(setup, tokenized, tokenizer, parity_length, cli)
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
        "script": "scripts/benchmark_recipes.py",
        "profile": profile.name,
        "argv": sys.argv[1:] if argv is None else argv,
        "date": started.isoformat(timespec="seconds"),
        **provenance,
        "model": setup.model.label,
        "shape": {
            "layers": config.num_hidden_layers,
            "hidden": config.hidden_size,
            "heads": config.num_attention_heads,
        },
        "device": describe_device(setup.device),
        "gpu": torch.cuda.get_device_name() if setup.device.type == "cuda" else None,
        "cpu": cpu_name(),
        "threads": torch.get_num_threads(),
        "versions": versions(),
        "book_precision": setup.precision,
        "max_length": max_length,
        "reviews": cli.reviews,
        "warmup_steps": cli.warmup_steps,
        "truncation": profile.truncation,
        "peak_flops": peaks,
        "peak_source": peak_source,
        "runs": runs,
        "parity": parity,
    }
    out_dir = Path(cli.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = (
        out_dir
        / f"benchmark_imdb_{profile.name}_{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    )
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path.name} to {cli.output_dir}")
    return path


if __name__ == "__main__":
    main()
