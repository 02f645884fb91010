"""What the hardware can do: device, precision, a batch that fits, OOM advice.

Everything here is a small function of what torch reports (or of plain
numbers), so the tests can stand in for a T4, an A100 or a CPU without one.
Nothing reads the environment: ``setup_chapter`` passes ``BOOK_PRECISION`` in.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator

import torch

from utils.memory import MEMORY_HEADROOM, training_memory

PRECISIONS = ("fp32", "bf16", "fp16")
# Ampere (8.0) brought bf16 tensor cores; torch.cuda.is_bf16_supported() also
# counts emulation, so it says True on a T4 (7.5), where bf16 is slower than fp16.
NATIVE_BF16_CAPABILITY = (8, 0)
CPU_BF16_FLAGS = {"amx_bf16": "AMX", "avx512_bf16": "AVX512-BF16"}
# Training memory per parameter and per sample, and the share of a GPU to fill, come
# from one source, utils.memory (checked against a measured training step in tests/).


def pick_device() -> torch.device:
    """CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


# --- precision ------------------------------------------------------------------


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo; none where it is missing."""
    try:
        with open(cpuinfo) as f:
            lines = f.read().splitlines()
    except OSError:  # not Linux: no cheap way to ask, so claim nothing (fp32)
        return set()
    # x86 names the line "flags", ARM "Features"
    return {
        flag
        for line in lines
        if line.startswith(("flags", "Features"))
        for flag in line.partition(":")[2].split()
    }


def cpu_has_fast_bf16() -> bool:
    """True on x86 CPUs with AMX or AVX512-BF16, where bf16 matmuls beat fp32.

    Measured on this book's 2-core CI CPU (AVX512-BF16): MiniLM trains 1.5x and
    evaluates 2.2x faster in bf16, at equal accuracy. Elsewhere bf16 on a CPU is
    emulated and slower.
    """
    return bool(cpu_flags() & CPU_BF16_FLAGS.keys())


def gpu_has_native_bf16(device: torch.device) -> bool:
    """Whether the CUDA GPU computes bf16 in hardware (capability 8.0 or newer)."""
    return torch.cuda.get_device_capability(device) >= NATIVE_BF16_CAPABILITY


def _check_forced(forced: str | None) -> str:
    value = (forced or "").strip().lower()
    if value and value not in PRECISIONS:
        raise ValueError(
            f"BOOK_PRECISION={forced!r}: use fp32, bf16 or fp16, or leave it unset."
        )
    return value


def _gpu_choice(device: torch.device) -> tuple[str, str]:
    name = torch.cuda.get_device_name(device)
    major, minor = torch.cuda.get_device_capability(device)
    where = f"{name} (compute capability {major}.{minor})"
    if gpu_has_native_bf16(device):
        return "bf16", f"bf16: {where} computes bf16 natively"
    return "fp16", f"fp16: {where} has no native bf16"


def _cpu_choice() -> tuple[str, str]:
    found = [name for flag, name in CPU_BF16_FLAGS.items() if flag in cpu_flags()]
    if found:
        names = " and ".join(found)
        return "bf16", f"bf16: the CPU computes bf16 natively ({names})"
    return "fp32", (
        "fp32: the CPU has neither AMX nor AVX512-BF16, so bf16 would be slower"
    )


def _automatic(device: torch.device) -> tuple[str, str]:
    """The precision this device runs best in, and why, in one line."""
    if device.type == "cuda":
        return _gpu_choice(device)
    if device.type == "cpu":
        return _cpu_choice()
    return "fp32", f"fp32: mixed precision is left off on {device.type}"


def pick_precision(
    device: torch.device | None = None, forced: str | None = None
) -> dict:
    """Mixed-precision settings in the form ``TrainingArguments(**...)`` takes.

    bf16 where the hardware computes it natively (Ampere or newer GPUs, CPUs
    with AMX or AVX512-BF16), fp16 on older GPUs (the T4, the V100), else fp32
    (no flag). On the CPU ``use_cpu=True`` is included: Trainer refuses ``bf16``
    on a CPU without it. ``forced`` is the value of ``BOOK_PRECISION``: fp32,
    bf16 or fp16, or None or empty for automatic.
    """
    device = device or pick_device()
    chosen = _check_forced(forced) or _automatic(device)[0]
    cpu = {"use_cpu": True} if device.type == "cpu" else {}
    return cpu if chosen == "fp32" else {**cpu, chosen: True}


def precision_name(precision_args: dict) -> str:
    if precision_args.get("bf16"):
        return "bf16"
    return "fp16" if precision_args.get("fp16") else "fp32"


def precision_reason(device: torch.device, forced: str | None = None) -> str:
    """Why ``pick_precision`` chose what it did, e.g. for the T4:
    'fp16: Tesla T4 (compute capability 7.5) has no native bf16'."""
    chosen = _check_forced(forced)
    if chosen:
        return f"{chosen}: set by BOOK_PRECISION"
    return _automatic(device)[1]


# --- a batch that fits ----------------------------------------------------------


def gpu_memory_bytes(device: torch.device) -> int:
    return torch.cuda.get_device_properties(device).total_memory


def fit_batch_size(
    target_batch: int,
    max_length: int,
    layers: int,
    hidden: int,
    heads: int,
    parameters: int,
    memory_bytes: int,
    precision: str = "mixed",
    *,
    attention_scores: bool = False,
) -> tuple[int, int]:
    """(per-device batch, gradient accumulation steps), their product ``target_batch``.

    The per-device batch is the largest power of two dividing ``target_batch`` whose
    estimated training memory in ``precision`` (fp32, or bf16/fp16/mixed: autocast),
    its bytes per parameter plus ``activation_bytes`` per sample (``utils.memory``),
    fits in 85% of ``memory_bytes``. If not even one sample fits, the answer is
    (1, target_batch): the estimate is rough, and a real shortfall is reported by
    ``explain_oom``.
    """
    if target_batch < 1:
        raise ValueError(f"target_batch must be at least 1, not {target_batch}")
    # one sample's activations, and everything that does not grow with the batch
    parts = training_memory(
        parameters, 1, max_length, layers, hidden, heads, precision, attention_scores
    )
    per_sample = parts.pop("activations")
    budget = MEMORY_HEADROOM * memory_bytes - sum(parts.values())
    batch = target_batch & -target_batch  # the largest power of two dividing it
    while batch > 1 and batch * per_sample > budget:
        batch //= 2
    return batch, target_batch // batch


# --- out of memory --------------------------------------------------------------


class OutOfMemory(RuntimeError):
    """The GPU ran out of memory; the message names the settings to change."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of the traceback: the fix, not torch
        return [f"OutOfMemory: {self}"]


def _profile_code(profile, **changes) -> str:
    """Code for the profile with ``changes``: ``get_profile("full").replace(...)`` with
    the fields already changed kept, when ``profile`` is known; else in terms of the
    chapter's ``setup``."""
    if profile is None:
        start = "setup.profile"
    else:
        start = f'get_profile("{profile.name}")'
        kept = [f for f in profile.changed if f not in changes]
        changes = {**{f: getattr(profile, f) for f in kept}, **changes}
    return f"{start}.replace({', '.join(f'{k}={v!r}' for k, v in changes.items())})"


def _advice(batch_size: int, max_length: int, accumulation: int, profile=None) -> str:
    """``batch_size`` is the per-device batch that ran out of memory. The advice is in
    the profile's terms, where ``batch_size`` is the whole batch and the per-device
    batch is ``batch_size // gradient_accumulation_steps``: more accumulation steps make
    the per-device batch smaller and keep the batch the model learns from.

    It names code that works when pasted: a profile handed to ``setup_chapter`` in the
    chapter's setup cell, which the cells below it read their sizes from when run
    again. (A bare ``setup.profile.replace(...)`` changes nothing: it returns a new
    profile that no cell reads.)"""
    where = f"CUDA ran out of memory at batch size {batch_size} x {max_length} tokens"
    imported = "" if profile is None else " (from utils import get_profile)"
    rerun = f"{imported}, run it, and run the cells below it again"
    if batch_size > 1:
        # halve an even per-device batch, else go to 1 sample a step
        factor = 2 if batch_size % 2 == 0 else batch_size
        steps = accumulation * factor
        code = _profile_code(profile, gradient_accumulation_steps=steps)
        return (
            f"{where}. Run each batch of {batch_size * accumulation} as {steps} steps "
            f"of {batch_size // factor} (gradient accumulation: the model still learns "
            f"from batches of {batch_size * accumulation}): in the setup cell, give "
            f"setup_chapter the argument profile={code}{rerun}. Or use a shorter "
            "max_length."
        )
    code = _profile_code(profile, max_length=max_length // 2)
    return (
        f"{where}, one review a step. Use a shorter max_length: in the setup cell, "
        f"give setup_chapter the argument profile={code}{rerun}. Or use a GPU with "
        "more memory."
    )


@contextlib.contextmanager
def explain_oom(
    batch_size: int, max_length: int, accumulation: int = 1, profile=None
) -> Iterator[None]:
    """Turn a GPU out-of-memory error into one ``OutOfMemory`` line: what to change,
    as code to paste into the setup cell (``profile``, the run's ``Profile``, makes it
    name the profile; without it, the code builds on the chapter's ``setup``).

    Other exceptions pass through untouched.
    """
    try:
        yield
    except torch.OutOfMemoryError as error:  # the same class as torch.cuda's
        # The traceback's finished frames hold the failed step's tensors, and a
        # notebook keeps the last error: without this they stay on the GPU.
        traceback.clear_frames(error.__traceback__)
        raise OutOfMemory(
            _advice(batch_size, max_length, accumulation, profile)
        ) from None
