"""How training batches are cut and padded, chosen per device from what
``scripts/benchmark_recipes.py`` measured.

The profile fixes what the model learns from (the batch of ``batch_size`` reviews, the
learning rate, the epochs); the recipe only decides how that batch is computed, so it
changes speed, not results:

- **CPU** (measured, ``utils/results/benchmark_imdb_*``): length grouping with dynamic
  padding (each batch padded to its own longest review) and small per-device batches,
  summed by gradient accumulation into the profile's batch. Padding to a multiple of 64
  and large batches are tensor-core choices, and on a CPU both cost time.
- **GPU**: tensor-core shapes, batches padded to a multiple of 64 and as large as
  memory allows. Not yet measured by this book on a GPU: ``measured`` says so until a
  GPU benchmark record exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Recipe:
    """How one device computes the profile's batch."""

    # per-device batch (None: as large as memory allows, fitted by setup_chapter)
    device_batch: int | None
    # pad each batch's length up to a multiple of this (None: to its longest review)
    pad_to_multiple_of: int | None
    # whether a recorded benchmark on this kind of device backs the choice
    measured: bool
    # reviews of similar length share a batch (transformers' LengthGroupedSampler)
    group_by_length: bool = True

    def describe(self) -> str:
        padding = (
            f"padded to a multiple of {self.pad_to_multiple_of}"
            if self.pad_to_multiple_of
            else "padded to their longest review"
        )
        size = (
            f"{self.device_batch} reviews a step"
            if self.device_batch
            else "as many reviews a step as memory holds"
        )
        grouped = "grouped by length, " if self.group_by_length else ""
        return f"batches {grouped}{padding}, {size}"


# The fastest CPU choices of the benchmark (tests/test_recipe.py checks them against
# the newest CPU record in utils/results/): on the book's 2-core CPU, steps of 4
# reviews beat steps of 8, 16 and 32 (benchmark_imdb_smoke_20261207T004910Z), with
# smaller steps measured too.
CPU_RECIPE = Recipe(device_batch=4, pad_to_multiple_of=None, measured=True)
# Tensor cores multiply tiles of 8 to 64 along each side fastest.
GPU_RECIPE = Recipe(device_batch=None, pad_to_multiple_of=64, measured=False)


def pick_recipe(device: torch.device) -> Recipe:
    """The recipe for ``device``: CUDA gets tensor-core shapes, anything else the CPU's
    measured choices (Apple's MPS has no tensor cores to feed)."""
    return GPU_RECIPE if device.type == "cuda" else CPU_RECIPE


def accumulation_for(batch_size: int, device_batch: int) -> int:
    """Gradient accumulation steps that run ``batch_size`` as steps of at most
    ``device_batch`` reviews: the smallest divisor-friendly split."""
    if batch_size < 1 or device_batch < 1:
        raise ValueError(
            f"batch sizes must be positive: batch_size={batch_size}, "
            f"device_batch={device_batch}"
        )
    steps = -(-batch_size // device_batch)  # ceil
    while batch_size % steps:  # the per-device batch must divide the batch evenly
        steps += 1
    return steps
