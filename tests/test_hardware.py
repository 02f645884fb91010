"""What the hardware can do: device, precision, a batch that fits, and what an OOM says.

GPUs and CPUs are stood in for by patching what torch (or /proc/cpuinfo) reports.
"""

import gc
import re
import types
import weakref

import pytest
import torch

from utils import hardware
from utils.hardware import (
    OutOfMemory,
    cpu_flags,
    cpu_has_fast_bf16,
    explain_oom,
    fit_batch_size,
    gpu_has_native_bf16,
    pick_device,
    pick_precision,
    precision_name,
    precision_reason,
)
from utils.memory import activation_bytes
from utils.profiles import get_profile

CUDA, CPU, MPS = torch.device("cuda"), torch.device("cpu"), torch.device("mps")
BERT_BASE = dict(layers=12, hidden=768, heads=12, parameters=109_482_240)
T4 = 15_095 * 2**20  # what torch reports for Colab's T4: about 15.8e9 bytes
A100_40GB = 40_536 * 2**20
GPU_80GB = 81_559 * 2**20


def fake_gpu(monkeypatch, capability, name="Some GPU", torch_says_bf16=True):
    """A CUDA GPU of this compute capability; ``torch_says_bf16`` is what
    torch.cuda.is_bf16_supported() would answer (it counts emulation)."""
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: name)
    monkeypatch.setattr(
        torch.cuda,
        "is_bf16_supported",
        lambda including_emulation=True: torch_says_bf16,
    )


def fake_cpu(monkeypatch, *flags):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"sse4_2", "avx2", *flags})


# --- device -------------------------------------------------------------------


def test_device_order_is_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device().type == "cpu"


# --- precision on GPUs --------------------------------------------------------


# torch.cuda.is_bf16_supported() is patched to the wrong answer in every case, to
# show that only the compute capability decides.
@pytest.mark.parametrize(
    "capability, expected",
    [
        ((7, 0), {"fp16": True}),  # V100
        ((7, 5), {"fp16": True}),  # T4: bf16 only emulated
        ((8, 0), {"bf16": True}),  # A100
        ((8, 9), {"bf16": True}),  # L4
        ((9, 0), {"bf16": True}),  # H100
    ],
)
def test_gpus_get_bf16_only_from_capability_8_0(monkeypatch, capability, expected):
    fake_gpu(monkeypatch, capability, torch_says_bf16="bf16" not in expected)
    assert gpu_has_native_bf16(CUDA) == ("bf16" in expected)
    assert pick_precision(CUDA) == expected


def test_the_t4_reason_names_the_gpu_and_its_capability(monkeypatch):
    fake_gpu(monkeypatch, (7, 5), name="Tesla T4")
    assert precision_reason(CUDA) == (
        "fp16: Tesla T4 (compute capability 7.5) has no native bf16"
    )


def test_an_ampere_reason_says_bf16_is_native(monkeypatch):
    fake_gpu(monkeypatch, (8, 0), name="NVIDIA A100-SXM4-80GB")
    assert precision_reason(CUDA) == (
        "bf16: NVIDIA A100-SXM4-80GB (compute capability 8.0) computes bf16 natively"
    )


# --- precision on CPUs and Apple GPUs -----------------------------------------


@pytest.mark.parametrize(
    "flags, expected",
    [
        (("amx_bf16", "amx_tile"), {"use_cpu": True, "bf16": True}),
        (("avx512f", "avx512_bf16"), {"use_cpu": True, "bf16": True}),
        (("avx512f",), {"use_cpu": True}),
        ((), {"use_cpu": True}),
    ],
)
def test_cpus_get_bf16_only_with_amx_or_avx512_bf16(monkeypatch, flags, expected):
    fake_cpu(monkeypatch, *flags)
    assert cpu_has_fast_bf16() == ("bf16" in expected)
    assert pick_precision(CPU) == expected


def test_the_cpu_reason_names_the_instructions(monkeypatch):
    fake_cpu(monkeypatch, "avx512_bf16")
    assert precision_reason(CPU) == "bf16: the CPU computes bf16 natively (AVX512-BF16)"
    fake_cpu(monkeypatch)
    assert precision_reason(CPU).startswith(
        "fp32: the CPU has neither AMX nor AVX512-BF16"
    )


def test_cpu_flags_come_from_the_flags_line_of_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Xeon\n"
        "flags\t\t: fpu sse2 avx512f avx512_bf16 amx_bf16\n\n"
    )
    assert cpu_flags(str(cpuinfo)) == {
        "fpu",
        "sse2",
        "avx512f",
        "avx512_bf16",
        "amx_bf16",
    }


def test_without_cpuinfo_the_cpu_claims_no_flags(tmp_path):
    assert cpu_flags(str(tmp_path / "missing")) == set()


def test_apple_gpus_stay_in_fp32():
    assert pick_precision(MPS) == {}
    assert precision_reason(MPS).startswith("fp32:")


# --- BOOK_PRECISION, passed in by the caller ----------------------------------


@pytest.mark.parametrize(
    "device, forced, expected",
    [
        (CUDA, "fp32", {}),
        (CUDA, "fp16", {"fp16": True}),
        (CUDA, "bf16", {"bf16": True}),
        (CPU, "fp32", {"use_cpu": True}),
        (CPU, "bf16", {"use_cpu": True, "bf16": True}),
        (CPU, " BF16 ", {"use_cpu": True, "bf16": True}),
        (MPS, "fp16", {"fp16": True}),
    ],
)
def test_a_forced_precision_wins_over_the_hardware(
    monkeypatch, device, forced, expected
):
    fake_gpu(monkeypatch, (9, 0))
    fake_cpu(monkeypatch)
    assert pick_precision(device, forced) == expected


@pytest.mark.parametrize("forced", [None, ""])
def test_no_forced_precision_means_automatic(monkeypatch, forced):
    fake_gpu(monkeypatch, (7, 5))
    assert pick_precision(CUDA, forced) == {"fp16": True}


def test_a_forced_precision_outside_fp32_bf16_fp16_is_refused():
    with pytest.raises(ValueError, match="'int3'.*fp32, bf16 or fp16"):
        pick_precision(CPU, "int3")


def test_the_environment_is_not_read(monkeypatch):
    monkeypatch.setenv("BOOK_PRECISION", "bf16")
    fake_cpu(monkeypatch)
    assert pick_precision(CPU) == {"use_cpu": True}


def test_a_forced_precision_is_given_as_the_reason(monkeypatch):
    fake_gpu(monkeypatch, (8, 0))
    assert precision_reason(CUDA, "fp32") == "fp32: set by BOOK_PRECISION"


@pytest.mark.parametrize(
    "args, name",
    [
        ({}, "fp32"),
        ({"use_cpu": True}, "fp32"),
        ({"fp16": True}, "fp16"),
        ({"use_cpu": True, "bf16": True}, "bf16"),
    ],
)
def test_precision_name_reads_the_arguments(args, name):
    assert precision_name(args) == name


@pytest.mark.parametrize("flags", [("amx_bf16",), ()])
def test_cpu_arguments_are_accepted_by_training_arguments(tmp_path, monkeypatch, flags):
    from transformers import TrainingArguments

    fake_cpu(monkeypatch, *flags)
    args = TrainingArguments(output_dir=str(tmp_path), **pick_precision(CPU))
    assert args.use_cpu and args.bf16 == bool(flags) and not args.fp16


# --- a batch that fits --------------------------------------------------------


def test_activations_are_34_bytes_per_token_hidden_and_layer_in_16_bits():
    # Korthikanti et al. 2022 without the attention scores, which SDPA does not keep
    assert activation_bytes(512, 12, 768, 12) == 34 * 512 * 768 * 12 == 160_432_128


def test_stored_attention_scores_add_5_bytes_per_head_and_token_pair():
    eager = activation_bytes(512, 12, 768, 12, attention_scores=True)
    extra = eager - activation_bytes(512, 12, 768, 12)
    assert extra == 5 * 12 * 512 * 512 * 12


@pytest.mark.parametrize("max_length", [512, 128])
@pytest.mark.parametrize("memory", [T4, A100_40GB, GPU_80GB])
def test_bert_base_fits_a_batch_of_32_on_16_to_80_gb(memory, max_length):
    # at 512 tokens: 2.0 GB of weights, their 16-bit copies and optimizer state
    # + 32 x 0.16 GB of activations = 7.1 GB, under 85% of even the T4's 15.8 GB
    assert fit_batch_size(32, max_length, **BERT_BASE, memory_bytes=memory) == (32, 1)


@pytest.mark.parametrize(
    "memory, expected",
    [
        (T4, (64, 4)),
        (A100_40GB, (128, 2)),
        (GPU_80GB, (256, 1)),
    ],
)
def test_a_batch_too_large_for_the_gpu_is_split_into_steps(memory, expected):
    assert fit_batch_size(256, 512, **BERT_BASE, memory_bytes=memory) == expected


@pytest.mark.parametrize(
    "memory, precision, expected",
    [
        # at 512 tokens with stored attention scores, a T4 holds 32 samples in 16-bit
        # activations but only 17 in fp32's 4-byte ones (and 16 bytes per parameter
        # instead of 18): the batch is halved
        (T4, "fp16", (32, 1)),
        (T4, "mixed", (32, 1)),
        (T4, "fp32", (16, 2)),
        (GPU_80GB, "fp32", (32, 1)),
    ],
)
def test_fp32_activations_take_twice_the_memory(memory, precision, expected):
    fitted = fit_batch_size(
        32,
        512,
        **BERT_BASE,
        memory_bytes=memory,
        precision=precision,
        attention_scores=True,
    )
    assert fitted == expected


def test_stored_attention_scores_lower_the_batch_that_fits():
    eager = fit_batch_size(
        256, 512, **BERT_BASE, memory_bytes=T4, attention_scores=True
    )
    assert eager == (32, 8)


@pytest.mark.parametrize("target", [1, 3, 24, 32, 96, 100, 256, 1024])
@pytest.mark.parametrize("memory", [4 * 2**30, T4, GPU_80GB])
def test_batch_times_accumulation_is_the_target_batch(target, memory):
    batch, steps = fit_batch_size(target, 512, **BERT_BASE, memory_bytes=memory)
    assert batch * steps == target
    assert batch & (batch - 1) == 0  # a power of two


def test_when_nothing_fits_one_sample_at_a_time_is_the_answer():
    assert fit_batch_size(32, 512, **BERT_BASE, memory_bytes=2 * 2**30) == (1, 32)


def test_an_empty_target_batch_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        fit_batch_size(0, 512, **BERT_BASE, memory_bytes=T4)


# --- out of memory ------------------------------------------------------------


def run_out_of_memory():
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.50 GiB")


def test_out_of_memory_becomes_one_line_naming_the_settings():
    with pytest.raises(OutOfMemory) as caught:
        with explain_oom(batch_size=32, max_length=512):
            run_out_of_memory()
    assert str(caught.value) == (
        "CUDA ran out of memory at batch size 32 x 512 tokens. Run each batch of 32 as "
        "2 steps of 16 (gradient accumulation: the model still learns from batches of "
        "32): in the setup cell, give setup_chapter the argument profile=setup.profile"
        ".replace(gradient_accumulation_steps=2), run it, and run the cells below it "
        "again. Or use a shorter max_length."
    )


def test_a_notebook_shows_only_that_line():
    with pytest.raises(OutOfMemory) as caught:
        with explain_oom(batch_size=32, max_length=512):
            run_out_of_memory()
    assert caught.value._render_traceback_() == [f"OutOfMemory: {caught.value}"]
    assert caught.value.__suppress_context__  # `from None`: no chained torch traceback


def advised_profile(profile, advice: str):
    """The profile after following the advice's ``setup.profile.replace(...)``."""
    call = re.search(r"setup\.profile\.replace\((\w+)=(\d+)\)", advice)
    return profile.replace(**{call[1]: int(call[2])})


def test_the_advice_keeps_the_total_batch():
    # full profile: batches of 32, run on this GPU as 2 steps of 16
    profile = get_profile("full").replace(gradient_accumulation_steps=2)
    with pytest.raises(
        OutOfMemory, match=r"replace\(gradient_accumulation_steps=4\)"
    ) as caught:
        with explain_oom(profile.per_device_batch_size, 512, accumulation=2):
            run_out_of_memory()
    advised = advised_profile(profile, str(caught.value))
    assert advised.per_device_batch_size == 8 and advised.batch_size == 32


def test_an_odd_batch_is_advised_one_sample_at_a_time():
    profile = get_profile("full").replace(batch_size=6, gradient_accumulation_steps=2)
    with pytest.raises(
        OutOfMemory, match=r"replace\(gradient_accumulation_steps=6\)"
    ) as caught:
        with explain_oom(profile.per_device_batch_size, 512, accumulation=2):
            run_out_of_memory()
    advised = advised_profile(profile, str(caught.value))
    assert advised.per_device_batch_size == 1 and advised.batch_size == 6


def test_at_batch_size_1_the_advice_is_a_shorter_max_length():
    with pytest.raises(OutOfMemory, match=r"replace\(max_length=256\)"):
        with explain_oom(batch_size=1, max_length=512):
            run_out_of_memory()


def test_the_torch_cuda_name_of_the_error_is_caught_too():
    with pytest.raises(OutOfMemory):
        with explain_oom(batch_size=32, max_length=512):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory.")


def test_out_of_memory_is_still_a_runtime_error():
    assert issubclass(OutOfMemory, RuntimeError)


def test_other_errors_pass_through_untouched():
    error = ValueError("not about memory")
    with pytest.raises(ValueError) as caught:
        with explain_oom(batch_size=32, max_length=512):
            raise error
    assert caught.value is error


def test_the_failed_steps_tensors_are_released():
    class Activations:
        pass

    def step(refs):
        activations = Activations()
        refs.append(weakref.ref(activations))
        run_out_of_memory()

    refs = []
    # kept, as a notebook keeps the last error
    with pytest.raises(OutOfMemory) as caught:
        with explain_oom(batch_size=32, max_length=512):
            step(refs)
    gc.collect()
    assert caught.value.__context__ is not None and refs[0]() is None
