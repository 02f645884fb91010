"""The training-memory calculator (utils.memory) adds up what a step holds, and a real
training step on this CPU, measured, comes within 20% of it."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from utils import memory

# all-MiniLM-L6-v2's shape (the book's offline model) with 2 of its 6 layers, to run
# in seconds; random weights: memory does not depend on their values
SMALL_BERT = dict(
    vocab_size=30_522,
    hidden_size=384,
    num_hidden_layers=2,
    num_attention_heads=12,
    intermediate_size=1536,
)
BERT_BASE_PARAMETERS = 109_482_240  # BertModel(BertConfig()), counted


def test_adamw_needs_16_bytes_a_parameter_in_fp32_and_18_with_autocast():
    assert memory.bytes_per_parameter("fp32") == 4 + 4 + 8
    # fp32 weights, gradients and moments, plus the 16-bit copy autocast multiplies
    assert memory.bytes_per_parameter("bf16") == 4 + 2 + 4 + 8
    assert memory.bytes_per_parameter("fp16") == memory.bytes_per_parameter("mixed")


def test_the_parts_add_up_per_parameter_and_per_sample():
    one = memory.training_memory(1000, 1, 128, 2, 64, 4, "fp32")
    three = memory.training_memory(1000, 3, 128, 2, 64, 4, "fp32")
    assert one["weights"] == 4000 and one["AdamW moments"] == 8000
    assert three["activations"] == 3 * one["activations"]
    assert one["activations"] == memory.activation_bytes(128, 2, 64, 4, 4)


def test_an_unknown_precision_names_the_known_ones():
    with pytest.raises(ValueError, match="bf16, fp16, fp32, mixed"):
        memory.bytes_per_parameter("int8")


def test_shapes_are_counted_on_the_meta_device():
    shape = memory.model_shape(BertConfig())
    assert shape == {
        "parameters": BERT_BASE_PARAMETERS,
        "layers": 12,
        "hidden": 768,
        "heads": 12,
    }


@pytest.mark.parametrize("gigabytes", [16, 80])
def test_the_largest_batch_fits_and_one_more_does_not(gigabytes):
    shape = dict(
        parameters=BERT_BASE_PARAMETERS, max_length=512, layers=12, hidden=768, heads=12
    )
    budget = memory.MEMORY_HEADROOM * gigabytes * 1e9
    batch = memory.largest_batch(gigabytes * 1e9, **shape)
    assert sum(memory.training_memory(batch=batch, **shape).values()) <= budget
    assert sum(memory.training_memory(batch=batch + 1, **shape).values()) > budget


def test_nothing_fits_when_the_optimizer_state_alone_is_too_large():
    gpt3 = dict(max_length=2048, layers=96, hidden=12_288, heads=96)
    assert memory.largest_batch(80e9, parameters=175_000_000_000, **gpt3) == 0


def test_the_measured_peak_of_known_allocations_is_exact():
    def run():
        a = torch.empty(1_000_000)  # 4 MB
        b = torch.empty(2_000_000)  # 8 MB: 12 MB live
        del a
        c = torch.empty(500_000)  # 2 MB: 10 MB live
        del b, c

    assert memory.measured_peak_bytes(run) == 12_000_000


def test_measuring_prints_nothing(capfd):
    memory.measured_peak_bytes(lambda: torch.ones(10))
    out, err = capfd.readouterr()
    assert out == err == ""


def training_steps(batch: int, length: int, autocast: bool):
    """Two AdamW steps of a BERT classifier: the second holds the moments from the
    first, as every step after the first does."""
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(**SMALL_BERT)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(1000, 30_000, (batch, length))
    labels = torch.randint(0, 2, (batch,))

    def run():
        for _ in range(2):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    return model, run


@pytest.mark.parametrize(
    "batch, length, precision",
    [(8, 128, "fp32"), (2, 512, "fp32"), (8, 128, "bf16")],
)
def test_a_real_training_step_peaks_within_20_percent_of_the_calculator(
    batch, length, precision
):
    model, run = training_steps(batch, length, autocast=precision == "bf16")
    parameters = sum(p.numel() for p in model.parameters())
    # the weights were live before the measurement started
    measured = 4 * parameters + memory.measured_peak_bytes(run)
    # on a CPU, SDPA with dropout runs the kernel that keeps the attention scores
    estimate = memory.training_memory(
        parameters,
        batch,
        length,
        SMALL_BERT["num_hidden_layers"],
        SMALL_BERT["hidden_size"],
        SMALL_BERT["num_attention_heads"],
        precision,
        attention_scores=True,
    )
    total = sum(estimate.values())
    assert abs(measured - total) <= 0.2 * total, (
        f"measured {measured / 1e6:.0f} MB, estimated {total / 1e6:.0f} MB"
    )


class FakeCudaAllocator:
    """What torch.cuda reports about its caching allocator, for a machine without a
    GPU: bytes live now, and the most live since the last reset."""

    def __init__(self, live: int, peak: int):
        self.live, self.peak, self.synchronized = live, peak, 0

    def allocate(self, size: int) -> None:
        self.live += size
        self.peak = max(self.peak, self.live)

    def free(self, size: int) -> None:
        self.live -= size

    def install(self, monkeypatch) -> None:
        def synchronize(device=None):
            self.synchronized += 1

        def reset(device=None):
            self.peak = self.live

        monkeypatch.setattr(torch.cuda, "synchronize", synchronize)
        monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", reset)
        monkeypatch.setattr(torch.cuda, "memory_allocated", lambda d=None: self.live)
        monkeypatch.setattr(
            torch.cuda, "max_memory_allocated", lambda d=None: self.peak
        )


def test_on_a_gpu_the_peak_is_the_allocators_above_what_was_live(monkeypatch):
    # 300 bytes live before (the weights), and an older, higher peak that must not count
    cuda = FakeCudaAllocator(live=300, peak=5_000)
    cuda.install(monkeypatch)

    def run():
        cuda.allocate(400)
        cuda.allocate(200)  # 600 above the start: the peak
        cuda.free(400)
        cuda.allocate(100)
        assert cuda.synchronized == 1  # the queued work was waited for before

    assert memory.measured_peak_bytes(run, "cuda") == 600
    assert cuda.synchronized == 2  # and after: the peak includes the last kernels


def test_the_cpu_is_measured_by_the_profiler_whatever_cuda_says(monkeypatch):
    cuda = FakeCudaAllocator(live=0, peak=10**12)
    cuda.install(monkeypatch)
    assert memory.measured_peak_bytes(lambda: torch.empty(250_000), "cpu") == 1_000_000
    assert cuda.synchronized == 0
