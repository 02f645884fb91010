"""How much memory training a Transformer takes, and how to measure it.

``training_memory`` adds up what a training step with AdamW can hold at once:

- per parameter: the weights, their gradients and AdamW's two moment estimates, in fp32
  4 + 4 + 8 = 16 bytes. Mixed precision as PyTorch's autocast does it (what
  ``Trainer``'s ``fp16``/``bf16`` use) keeps all of these in fp32 and adds a 16-bit
  copy of each weight for the matrix products, 2 bytes more: 18. (Frameworks that keep
  16-bit weights and gradients beside an fp32 master copy, such as Megatron and
  DeepSpeed, need 2 + 2 + 4 + 8 = 16.)
- per sample: the activations the backward pass needs (``activation_bytes``,
  Korthikanti et al. 2022), 2 bytes a value in mixed precision, 4 in fp32.

The sum is an upper bound: during the backward pass gradients appear as activations
are freed, so both are never whole at once. ``measured_peak_bytes`` measures the real
peak of a step on the CPU, and ``tests/test_memory.py`` holds the two within 20%.
``utils.hardware.fit_batch_size`` uses the same numbers to split a batch on a GPU.
"""

from __future__ import annotations

import contextlib
import os

PARAMETER_BYTES = {
    "fp32": {"weights": 4, "gradients": 4, "AdamW moments": 8},
    "mixed": {
        "weights (fp32)": 4,
        "16-bit weight copies": 2,
        "gradients (fp32)": 4,
        "AdamW moments": 8,
    },
}
ACTIVATION_VALUE_BYTES = {"fp32": 4, "mixed": 2}
# what setup.precision says, as the two cases above
PRECISIONS = {"fp32": "fp32", "mixed": "mixed", "bf16": "mixed", "fp16": "mixed"}
# The CUDA context, cuBLAS workspaces and allocator fragmentation take the rest.
MEMORY_HEADROOM = 0.85


def _precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision={precision!r}: use one of {', '.join(sorted(PRECISIONS))}"
        )
    return PRECISIONS[precision]


def bytes_per_parameter(precision: str = "mixed") -> int:
    """Weights, gradients, AdamW moments (and 16-bit copies), bytes per parameter."""
    return sum(PARAMETER_BYTES[_precision(precision)].values())


def activation_bytes(
    max_length: int,
    layers: int,
    hidden: int,
    heads: int,
    bytes_per_activation: int = 2,
    attention_scores: bool = False,
) -> int:
    """Activations one training sample keeps for the backward pass.

    Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large
    Transformer Models", eq. 2): per token and layer, a Transformer layer keeps
    16 values of the hidden size plus two 1-byte dropout masks (34*h bytes in 16
    bits), and per head the softmax scores, their dropout mask and the dropped
    scores (5*a*s bytes). SDPA and flash attention, the default for Hugging Face
    models on a GPU, recompute the scores in the backward pass instead of storing
    them, so that term counts only with ``attention_scores=True`` (eager attention,
    and SDPA with dropout on a CPU, which falls back to the stored-scores kernel).
    """
    per_token = (16 * bytes_per_activation + 2) * hidden
    if attention_scores:
        per_token += (2 * bytes_per_activation + 1) * heads * max_length
    return layers * max_length * per_token


def training_memory(
    parameters: int,
    batch: int,
    max_length: int,
    layers: int,
    hidden: int,
    heads: int,
    precision: str = "mixed",
    attention_scores: bool = False,
) -> dict[str, int]:
    """Bytes of each part of a training step with AdamW: the per-parameter parts
    (``PARAMETER_BYTES``) and the activations of ``batch`` samples of ``max_length``
    tokens. Their sum is the step's memory, an upper bound of its peak."""
    kind = _precision(precision)
    parts = {name: n * parameters for name, n in PARAMETER_BYTES[kind].items()}
    per_sample = activation_bytes(
        max_length,
        layers,
        hidden,
        heads,
        ACTIVATION_VALUE_BYTES[kind],
        attention_scores,
    )
    parts["activations"] = batch * per_sample
    return parts


def model_shape(config) -> dict[str, int]:
    """Parameters (counted on the meta device: no memory), layers, width and heads of
    a BERT or GPT-2 configuration, as ``training_memory`` and ``largest_batch`` take
    them."""
    import torch
    from transformers import AutoModel

    with torch.device("meta"):
        model = AutoModel.from_config(config)
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "layers": config.num_hidden_layers,
        "hidden": config.hidden_size,
        "heads": config.num_attention_heads,
    }


def largest_batch(
    memory_bytes: float,
    parameters: int,
    max_length: int,
    layers: int,
    hidden: int,
    heads: int,
    precision: str = "mixed",
    attention_scores: bool = False,
) -> int:
    """The most samples of ``max_length`` tokens whose training step fits in
    ``MEMORY_HEADROOM`` of ``memory_bytes``; 0 when not even the weights and the
    optimizer state fit."""
    shape = (max_length, layers, hidden, heads)
    fixed = training_memory(parameters, 0, *shape, precision, attention_scores)
    one = training_memory(parameters, 1, *shape, precision, attention_scores)
    room = MEMORY_HEADROOM * memory_bytes - sum(fixed.values())
    return max(0, int(room // one["activations"]))


@contextlib.contextmanager
def _stderr_silenced():
    """The profiler's C++ side prints a line to the process's stderr as it starts and
    stops; a notebook would show both."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def measured_peak_bytes(run, device=None) -> int:
    """The peak of live tensor memory while ``run()`` runs, above what was live when it
    started, on ``device`` (default: the CPU).

    On the CPU, PyTorch's profiler, with ``profile_memory=True``, records every
    allocation and free of the CPU allocator with its size; the running sum of them, in
    time order, is the memory held by tensors, and its maximum is the peak. Allocator
    slack and the math libraries' scratch buffers (which a process's RSS would also
    show) are left out, as they are from ``training_memory``. On a CUDA GPU, the
    caching allocator keeps the same count itself (``torch.cuda.max_memory_allocated``,
    its peak reset before ``run`` and read after the queued kernels finished); the
    tests check that logic against a stand-in allocator, and chapter 8 runs it on a
    GPU in the GPU check (``scripts/gpu_check.sh``).
    """
    import torch
    from torch.profiler import ProfilerActivity, profile

    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        run()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before

    profiler = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    with _stderr_silenced():
        profiler.start()
    try:
        run()
    finally:
        with _stderr_silenced():
            profiler.stop()
    # an op's own allocations (not its children's), and the frees ('[memory]' events)
    events = sorted(
        (e for e in profiler.events() if e.self_cpu_memory_usage),
        key=lambda e: e.time_range.start,
    )
    live = peak = 0
    for event in events:
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return peak
