"""utils/recipe.py: how a device computes the profile's batch. On a CPU, the choices
must be the fastest that the newest CPU benchmark record measured; on a GPU, tensor-core
shapes, said to be unmeasured until a GPU record exists."""

import pytest
import torch

from utils.benchmark_report import newest_reports
from utils.environment import fit_to_cpu
from utils.profiles import get_profile
from utils.recipe import (
    CPU_RECIPE,
    GPU_RECIPE,
    Recipe,
    accumulation_for,
    pick_recipe,
)


@pytest.mark.parametrize(
    "batch, device_batch, steps",
    [(32, 8, 4), (32, 32, 1), (32, 64, 1), (30, 8, 5), (32, 5, 8), (7, 2, 7)],
)
def test_accumulation_splits_the_batch_evenly_into_steps_no_larger_than_asked(
    batch, device_batch, steps
):
    assert accumulation_for(batch, device_batch) == steps
    assert batch % steps == 0 and batch // steps <= device_batch


@pytest.mark.parametrize("batch, device_batch", [(0, 8), (32, 0), (-1, 8)])
def test_a_batch_that_is_not_positive_is_refused(batch, device_batch):
    with pytest.raises(ValueError, match="positive"):
        accumulation_for(batch, device_batch)


def test_cuda_gets_tensor_core_shapes_and_every_other_device_the_cpus_choices():
    assert pick_recipe(torch.device("cuda")) is GPU_RECIPE
    assert GPU_RECIPE.pad_to_multiple_of == 64 and GPU_RECIPE.device_batch is None
    assert pick_recipe(torch.device("cpu")) is CPU_RECIPE
    assert pick_recipe(torch.device("mps")) is CPU_RECIPE


def test_the_cpu_runs_the_profiles_batch_in_steps_of_its_device_batch():
    profile = get_profile("smoke")
    fitted = fit_to_cpu(profile, CPU_RECIPE)
    assert fitted.batch_size == profile.batch_size  # what the model learns from
    assert fitted.per_device_batch_size <= CPU_RECIPE.device_batch
    assert fitted.per_device_batch_size * fitted.gradient_accumulation_steps == 32
    explicit = profile.replace(gradient_accumulation_steps=2)
    assert fit_to_cpu(explicit, CPU_RECIPE) is explicit  # the reader's choice stays


def test_describe_says_how_batches_are_cut():
    assert Recipe(8, None, True).describe() == (
        "batches grouped by length, padded to their longest review, 8 reviews a step"
    )
    assert Recipe(None, 64, False, group_by_length=False).describe() == (
        "batches padded to a multiple of 64, as many reviews a step as memory holds"
    )


@pytest.fixture(scope="module")
def cpu_record():
    report = newest_reports()["cpu"]
    assert report is not None, "no CPU benchmark is recorded in utils/results/"
    return report


def test_the_newest_cpu_record_measured_this_recipes_padding_and_grouping(cpu_record):
    # its per-device batch is the fastest of the record's batch rows (next test); the
    # record's own "book" row may predate that choice
    book = cpu_record.book
    assert cpu_record.record["repeats"] >= 3, "the CPU record times each row 3 times"
    assert book["padding"] == "longest" and CPU_RECIPE.pad_to_multiple_of is None
    assert book["grouped"] is CPU_RECIPE.group_by_length


def test_the_cpu_recipe_makes_the_fastest_choices_the_record_measured(cpu_record):
    rows = cpu_record.rows
    batches = [r for r in rows.values() if r["change"] == "batch"]
    fastest = max(batches, key=lambda r: r["samples_per_second"])
    assert fastest["per_device_batch"] == CPU_RECIPE.device_batch, fastest["recipe"]
    # grouping paid; the multiple of 64 cost time
    assert cpu_record.gain("grouped") > 0 and CPU_RECIPE.group_by_length
    assert cpu_record.gain("multiple") < 0 and CPU_RECIPE.pad_to_multiple_of is None


def test_a_recipe_is_called_measured_only_where_a_record_backs_it():
    reports = newest_reports()
    assert CPU_RECIPE.measured == (reports["cpu"] is not None)
    assert GPU_RECIPE.measured == (reports["gpu"] is not None)
