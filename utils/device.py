"""Device and precision in one place: what ``setup`` offers every chapter and module.

A chapter never builds a dtype table, moves a tensor by hand or times GPU work without
waiting for it: it calls these through its ``setup`` (``setup.autocast()``,
``setup.to_device(batch)``, ``setup.stopwatch()``, ``setup.grad_scaler()``,
``setup.optimizer_step(...)``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping

import torch

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast type of a precision name (bf16, fp16), or None for fp32."""
    return AUTOCAST_DTYPES.get(precision)


def autocast(device: torch.device, precision: str):
    """``torch.autocast`` in ``precision`` on ``device``; a no-op in fp32."""
    dtype = autocast_dtype(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def to_device(batch, device: torch.device):
    """A tensor, or a dict / ``BatchEncoding`` / list / tuple of them, on ``device``;
    anything else is returned as it is."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if hasattr(batch, "to") and hasattr(batch, "data"):  # transformers' BatchEncoding
        return batch.to(device)
    if isinstance(batch, Mapping):
        return type(batch)({k: to_device(v, device) for k, v in batch.items()})
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def synchronize(device: torch.device) -> None:
    """Wait until the device has finished the work queued on it (GPU kernels run
    asynchronously: a clock read without this times their launch, not the work)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class Stopwatch:
    """Seconds between ``start`` and ``stop``, the device's queued work included."""

    def __init__(self, device: torch.device):
        self.device = device
        self.seconds = 0.0

    def __enter__(self) -> "Stopwatch":
        synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        synchronize(self.device)
        self.seconds = time.perf_counter() - self._start


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """fp16 gradients underflow unless the loss is scaled up first; bf16 and fp32 need
    no scaling, so the scaler is off there (its calls pass through)."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


def optimizer_step(
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    schedule=None,
    parameters=None,
    max_grad_norm: float | None = 1.0,
) -> bool:
    """One training step's second half: backward, clip, step, schedule, zero.

    With fp16, the scaler skips an optimizer step whose gradients overflowed (and lowers
    its scale); the learning-rate schedule then stays where it is, so that it counts
    only the steps taken. Returns whether the optimizer stepped.
    """
    scaler.scale(loss).backward()
    if max_grad_norm is not None:
        scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        params = parameters or [
            p for group in optimizer.param_groups for p in group["params"]
        ]
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    scale = scaler.get_scale() if scaler.is_enabled() else None
    scaler.step(optimizer)
    scaler.update()
    # the scaler lowers its scale exactly when it skipped the step
    stepped = scale is None or scaler.get_scale() >= scale
    if stepped and schedule is not None:
        schedule.step()
    optimizer.zero_grad(set_to_none=True)
    return stepped


@contextlib.contextmanager
def no_grad_eval(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``model`` in eval mode without gradients, put back in its mode after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)
