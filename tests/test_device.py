"""utils/device.py: device and precision in one place. Autocast, moving batches, a
stopwatch that waits for the device, and a training step that fp16's GradScaler may
skip, executed on the CPU (PyTorch runs float16 autocast and GradScaler there too)."""

import time

import pytest
import torch
from transformers import BatchEncoding

from utils import device as dev

CPU, META = torch.device("cpu"), torch.device("meta")


@pytest.mark.parametrize(
    "precision, dtype",
    [("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)],
)
def test_autocast_computes_matmuls_in_the_precision(precision, dtype):
    a = torch.randn(4, 4)
    with dev.autocast(CPU, precision):
        product = a @ a
    assert product.dtype == dtype
    assert dev.autocast_dtype(precision) == (None if precision == "fp32" else dtype)


def test_to_device_moves_tensors_in_every_container_and_leaves_the_rest():
    x = torch.ones(2)
    encoding = BatchEncoding({"input_ids": torch.ones(1, 3, dtype=torch.long)})
    batch = {"ids": x, "pair": (x, [x, "label"]), "n": 3, "enc": encoding}
    moved = dev.to_device(batch, META)
    assert moved["ids"].device == META
    assert moved["pair"][0].device == META and moved["pair"][1][0].device == META
    assert isinstance(moved["pair"], tuple) and isinstance(moved["pair"][1], list)
    assert moved["pair"][1][1] == "label" and moved["n"] == 3
    assert isinstance(moved["enc"], BatchEncoding)
    assert moved["enc"]["input_ids"].device == META
    assert x.device == CPU  # the original stays where it was


def test_the_stopwatch_times_the_block():
    with dev.Stopwatch(CPU) as clock:
        time.sleep(0.05)
    assert 0.05 <= clock.seconds < 1.0


def test_on_a_gpu_the_stopwatch_waits_for_the_queued_work_at_both_ends(monkeypatch):
    waits = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda d=None: waits.append(d))
    cuda = torch.device("cuda")
    with dev.Stopwatch(cuda):
        assert len(waits) == 1  # before the clock starts
    assert waits == [cuda, cuda]


@pytest.mark.parametrize(
    "precision, on", [("fp16", True), ("bf16", False), ("fp32", False)]
)
def test_only_fp16_scales_the_loss(precision, on):
    assert dev.grad_scaler(CPU, precision).is_enabled() is on


def training_step_parts(lr=0.1):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    return model, optimizer, schedule


def test_an_fp16_step_whose_gradients_overflow_is_skipped_and_the_schedule_waits():
    model, optimizer, schedule = training_step_parts()
    scaler = dev.grad_scaler(CPU, "fp16")
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.randn(2, 4)
    with dev.autocast(CPU, "fp16"):
        # a loss whose gradients are inf once scaled (65536 x 1e35 overflows fp32)
        loss = model(x).float().sum() * 1e35
    stepped = dev.optimizer_step(loss, optimizer, scaler, schedule)
    assert not stepped
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert schedule.last_epoch == 0 and optimizer.param_groups[0]["lr"] == 0.1
    assert scaler.get_scale() < 2.0**16  # lowered for the next try
    assert all(p.grad is None for p in model.parameters())  # zeroed all the same

    with dev.autocast(CPU, "fp16"):
        loss = model(x).float().pow(2).mean()
    assert torch.isfinite(loss)
    assert dev.optimizer_step(loss, optimizer, scaler, schedule)
    assert not all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert schedule.last_epoch == 1 and optimizer.param_groups[0]["lr"] == 0.05


def test_without_a_scaler_every_step_is_taken_and_clipped():
    model, optimizer, schedule = training_step_parts(lr=1.0)
    scaler = dev.grad_scaler(CPU, "fp32")
    before = model.weight.detach().clone()
    # gradients: 100 for each of the 4 weights, 1 for the bias; norm sqrt(40001)
    loss = model(torch.full((1, 4), 100.0)).sum()
    assert dev.optimizer_step(loss, optimizer, scaler, schedule, max_grad_norm=1.0)
    # clipped to norm 1 before the step, so lr 1 moves the weights by their share of 1
    moved = (model.weight.detach() - before).norm()
    assert moved == pytest.approx(200 / 40001**0.5, rel=1e-5)
    assert schedule.last_epoch == 1


def test_no_grad_eval_puts_the_mode_back():
    model = torch.nn.Dropout(0.5).train()
    with dev.no_grad_eval(model) as same:
        assert same is model and not model.training and not torch.is_grad_enabled()
    assert model.training and torch.is_grad_enabled()
