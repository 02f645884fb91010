"""The one call every chapter starts with: ``setup = setup_chapter()``.

It resolves, once, where and how the chapter runs (device, precision, run profile,
model) and every loader takes them from the returned ``ChapterSetup``; nothing reads the
environment later.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from utils import device as device_tools
from utils.hardware import (
    fit_batch_size,
    gpu_memory_bytes,
    pick_device,
    pick_precision,
    precision_name,
    precision_reason,
)
from utils.models import ModelChoice, resolve_model
from utils.profiles import Profile, get_profile
from utils.profiles import from_environment as profile_from_environment
from utils.recipe import Recipe, accumulation_for, pick_recipe

__all__ = [
    "ChapterSetup",
    "setup_chapter",
    "resolve_profile",
    "seed_everything",
    "pick_device",
    "pick_precision",
    "describe_device",
]


def in_colab() -> bool:
    return "google.colab" in sys.modules


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA and MPS too


def quiet_libraries() -> None:
    """Keep rendered pages free of library chatter; errors still show.

    Only the libraries' logging and progress bars are turned down here: deprecation
    warnings from the book's own calls still show, so that the tests see them.
    """
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()  # download bars; Trainer keeps its own
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    # tqdm warns at import when ipywidgets is missing; its text bars are what we want
    # anyway
    warnings.filterwarnings("ignore", message="IProgress not found")


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({os.cpu_count()} cores, no GPU)"


def resolve_profile(profile: str | Profile | None, device: torch.device) -> Profile:
    """The argument, else ``BOOK_PROFILE``, else ``full`` on a CUDA GPU and ``smoke``
    elsewhere; then ``BOOK_PROFILE_OVERRIDES`` and ``BOOK_MODEL`` applied on top."""
    # a bad value of a variable raises ValueError naming it (utils.profiles)
    return profile_from_environment(
        profile, "full" if device.type == "cuda" else "smoke"
    )


def fit_to_gpu(
    profile: Profile, model: ModelChoice, device: torch.device, precision: str = "mixed"
) -> Profile:
    """Split the profile's batch into per-device batches and gradient accumulation steps
    that fit this GPU's memory when training in ``precision`` (fp32 keeps 4 bytes per
    activation, bf16 and fp16 2): a 16 GB T4 and an 80 GB card differ. An explicit
    ``gradient_accumulation_steps`` (``profile.replace`` or ``BOOK_PROFILE_OVERRIDES``)
    is kept."""
    if "gradient_accumulation_steps" in profile.changed:
        return profile
    from transformers import AutoConfig

    from utils.memory import model_shape

    shape = model_shape(AutoConfig.from_pretrained(model.source))
    memory = gpu_memory_bytes(device)
    # attention_scores=True counts eager attention's stored scores too: a safety margin
    per_device, steps = fit_batch_size(
        profile.batch_size,
        profile.max_length,
        memory_bytes=memory,
        precision=precision,
        attention_scores=True,
        **shape,
    )
    if steps == profile.gradient_accumulation_steps:
        return profile
    print(
        f"GPU memory {memory / 1e9:.0f} GB: batches of "
        f"{profile.batch_size} run as {steps} steps of {per_device}."
    )
    return profile.replace(gradient_accumulation_steps=steps)


def fit_to_cpu(profile: Profile, recipe: Recipe) -> Profile:
    """Run the profile's batch as gradient-accumulation steps of the recipe's
    per-device batch (the fastest the benchmark measured on a CPU); the batch the model
    learns from stays ``batch_size``. An explicit ``gradient_accumulation_steps`` is
    kept."""
    if "gradient_accumulation_steps" in profile.changed or recipe.device_batch is None:
        return profile
    steps = accumulation_for(profile.batch_size, recipe.device_batch)
    if steps == profile.gradient_accumulation_steps:
        return profile
    return profile.replace(gradient_accumulation_steps=steps)


@dataclass
class ChapterSetup:
    """What a chapter needs to know about where it runs."""

    device: torch.device
    precision_args: dict = field(repr=False)
    profile: Profile
    model: ModelChoice
    seed: int
    # how batches are cut and padded on this device (utils.recipe)
    recipe: Recipe = None  # type: ignore[assignment]

    def __post_init__(self):
        if self.recipe is None:
            self.recipe = pick_recipe(self.device)

    @property
    def precision(self) -> str:
        return precision_name(self.precision_args)

    # --- device and precision in one place (utils.device) -------------------------

    @property
    def dtype(self) -> torch.dtype | None:
        """The autocast type (torch.bfloat16 or torch.float16), None in fp32."""
        return device_tools.autocast_dtype(self.precision)

    def autocast(self):
        """``with setup.autocast():`` runs the block in the chosen precision."""
        return device_tools.autocast(self.device, self.precision)

    def to_device(self, batch):
        """A tensor, or a dict/``BatchEncoding`` of them, on the chosen device."""
        return device_tools.to_device(batch, self.device)

    def stopwatch(self) -> device_tools.Stopwatch:
        """``with setup.stopwatch() as clock: ...``; then ``clock.seconds``, with the
        device's queued work waited for at both ends."""
        return device_tools.Stopwatch(self.device)

    def grad_scaler(self):
        """A ``GradScaler``, on in fp16 only."""
        return device_tools.grad_scaler(self.device, self.precision)

    def optimizer_step(self, loss, optimizer, scaler, schedule=None, **kwargs) -> bool:
        """Backward, clip, step and schedule, skipping the schedule when fp16 skipped
        the step (``utils.device.optimizer_step``)."""
        return device_tools.optimizer_step(loss, optimizer, scaler, schedule, **kwargs)

    def summary(self) -> str:
        import datasets
        import transformers

        # the accumulation fitted to this device is the recipe's doing, not a change
        fitted = "gradient_accumulation_steps"
        changed = [c for c in self.profile.changed if c != fitted]
        changed = (
            ""
            if not changed
            else f" (changed: {', '.join(changed)})"
            if len(changed) <= 2
            else f" ({len(changed)} settings changed)"
        )
        return (
            f"Running on {describe_device(self.device)} in {self.precision}, "
            f"profile {self.profile.name}{changed}, model {self.model.label}\n"
            f"torch {torch.__version__.split('+')[0]}, "
            f"transformers {transformers.__version__}, datasets {datasets.__version__}"
        )

    def expect(self, condition: bool, goal: str) -> None:
        """Assert one of the chapter's goals (an accuracy, a margin) in the named
        profile.

        With sizes changed (``profile.replace`` or ``BOOK_PROFILE_OVERRIDES``) the goal
        need not hold, so a miss is said in one line instead of stopping the chapter.
        """
        if condition:
            return
        if not self.profile.is_changed:
            raise AssertionError(goal)
        print(f"Not reached with the changed profile: {goal}")


def setup_chapter(
    chapter: str | None = None,
    seed: int = 42,
    profile: str | Profile | None = None,
) -> ChapterSetup:
    """Seed everything, quiet the libraries, resolve device, precision, profile and
    model once; print them in one line (plus one line for each fallback taken).

    ``chapter`` ("04") names the calling chapter: the line printed is then the one for
    its reader (where the outputs come from, what that means for their numbers, how long
    the chapter takes on a Colab T4) instead of the technical summary."""
    quiet_libraries()
    seed_everything(seed)
    device = pick_device()
    chosen = resolve_profile(profile, device)
    model = resolve_model(chosen.model)
    recipe = pick_recipe(device)
    precision = pick_precision(device, os.environ.get("BOOK_PRECISION"))
    # the batch is fitted in the precision it will train in
    if device.type == "cuda":
        chosen = fit_to_gpu(chosen, model, device, precision_name(precision))
    else:
        chosen = fit_to_cpu(chosen, recipe)
    setup = ChapterSetup(device, precision, chosen, model, seed, recipe)
    if chapter is None:  # a script or a test: the technical summary
        print(setup.summary())
    else:  # a chapter: one line for its reader (utils.budget.chapter_line)
        from utils.budget import chapter_line

        print(chapter_line(chapter, device, chosen))
    if device.type == "cuda" and "bf16" not in precision:
        print(precision_reason(device, os.environ.get("BOOK_PRECISION")))
    if in_colab() and device.type == "cpu":
        print(
            "No GPU: in Colab choose Runtime > Change runtime type > T4 GPU, "
            "then run all cells again."
        )
    return setup
