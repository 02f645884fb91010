"""LoRA (Hu et al. 2021), written from its formula, for chapter 8.

A frozen linear layer ``W`` (with its bias) gets a trainable update of rank ``r``:

    h = W x + (alpha / r) B A x

with ``A`` (r x d_in) random and ``B`` (d_out x r) zero at the start, so that training
starts from the pretrained model's own outputs. Only ``A`` and ``B`` (and the new
classification head) are trained. After training, ``W + (alpha / r) B A`` is one matrix
of ``W``'s shape: merged, the model is as fast as the original and needs no extra code.

``peft`` implements the same (``LoraConfig``, ``get_peft_model``, ``merge_and_unload``);
``copy_adapters`` puts peft's ``A`` and ``B`` into a hand-made model so that both can be
compared on the same weights (``tests/test_lora.py``, and chapter 8).
"""

from __future__ import annotations

import math

import torch
from torch import nn

# Hu et al. 2021 adapt the attention's query and value projections (their names in
# BERT's attention; peft's default for BERT too)
TARGETS = ("query", "value")
# the new classification head is trained whole
HEAD = ("classifier",)
# Hu et al. fix alpha and tune the learning rate instead; chapter 8 chooses the rank
# from these on the validation split
ALPHA = 16
RANKS = (4, 16)


class LoRALinear(nn.Module):
    """``base(x) + (alpha / rank) * B(A(x))`` with ``base`` frozen."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        if rank < 1:
            raise ValueError(f"rank={rank}: a LoRA rank is a positive whole number")
        self.base = base
        self.rank, self.alpha = rank, alpha
        self.scaling = alpha / rank
        self.A = nn.Parameter(torch.empty(rank, base.in_features))
        self.B = nn.Parameter(torch.zeros(base.out_features, rank))
        # A as nn.Linear initialises its weight (as the LoRA paper's code and peft do)
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        for p in self.base.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scaling * ((x @ self.A.T) @ self.B.T)

    def merged(self) -> nn.Linear:
        """One linear layer computing the same: weight ``W + (alpha / r) B A``."""
        base = self.base
        merged = nn.Linear(
            base.in_features, base.out_features, bias=base.bias is not None
        )
        merged = merged.to(device=base.weight.device, dtype=base.weight.dtype)
        with torch.no_grad():
            merged.weight.copy_(base.weight + self.scaling * (self.B @ self.A))
            if base.bias is not None:
                merged.bias.copy_(base.bias)
        return merged


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def add_lora(
    model: nn.Module,
    rank: int,
    alpha: float,
    targets: tuple[str, ...] = TARGETS,
    trained: tuple[str, ...] = HEAD,
) -> nn.Module:
    """``model`` (changed in place) with every ``nn.Linear`` whose name ends in one of
    ``targets`` wrapped in ``LoRALinear``; every other weight frozen except the modules
    named in ``trained`` (the classification head)."""
    for p in model.parameters():
        p.requires_grad_(False)
    found = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and name.rpartition(".")[2] in targets
    ]
    if not found:
        raise ValueError(f"no linear layer of the model is named one of {targets}")
    for name in found:
        _replace(model, name, LoRALinear(model.get_submodule(name), rank, alpha))
    for name, module in model.named_modules():
        if name.rpartition(".")[2] in trained:
            for p in module.parameters():
                p.requires_grad_(True)
    return model


def merge(model: nn.Module) -> nn.Module:
    """``model`` (changed in place) with every ``LoRALinear`` replaced by its merged
    linear layer."""
    names = [n for n, m in model.named_modules() if isinstance(m, LoRALinear)]
    for name in names:
        _replace(model, name, model.get_submodule(name).merged())
    return model


def copy_adapters(model: nn.Module, peft_model, adapter: str = "default") -> int:
    """Copy ``peft_model``'s LoRA matrices (and trained head) into ``model`` (made by
    ``add_lora`` from the same pretrained weights), layer by layer; returns how many
    LoRA layers were copied. A layer of one without its twin in the other is an
    error."""
    ours = {n: m for n, m in model.named_modules() if isinstance(m, LoRALinear)}
    theirs = {
        # peft wraps the model in base_model.model
        n.removeprefix("base_model.model."): m
        for n, m in peft_model.named_modules()
        if hasattr(m, "lora_A") and adapter in getattr(m, "lora_A", {})
    }
    if ours.keys() != theirs.keys():
        raise ValueError(
            "the two models adapt different layers: "
            f"{sorted(ours.keys() ^ theirs.keys())[:4]}"
        )
    with torch.no_grad():
        for name, layer in ours.items():
            peft_layer = theirs[name]
            if peft_layer.scaling[adapter] != layer.scaling:
                raise ValueError(f"{name}: alpha / rank differs from peft's")
            layer.A.copy_(peft_layer.lora_A[adapter].weight)
            layer.B.copy_(peft_layer.lora_B[adapter].weight)
        # peft keeps a trained copy of the head (modules_to_save)
        for name, module in model.named_modules():
            if name.rpartition(".")[2] in HEAD:
                saved = peft_model.base_model.model.get_submodule(name)
                copies = getattr(saved, "modules_to_save", None)
                if copies is not None and adapter in copies:
                    saved = copies[adapter]
                module.load_state_dict(saved.state_dict())
    return len(ours)


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def lora_parameters(model: nn.Module) -> int:
    """Parameters of the LoRA matrices alone: rank x (d_in + d_out) per layer."""
    return sum(
        m.A.numel() + m.B.numel() for m in model.modules() if isinstance(m, LoRALinear)
    )


def peft_lora(
    model: nn.Module,
    rank: int,
    alpha: float,
    targets: tuple[str, ...] = TARGETS,
    dropout: float = 0.0,
):
    """The same adaptation through ``peft``: ``get_peft_model`` with a ``LoraConfig``
    for sequence classification (which also trains the new head, as ``add_lora``
    does)."""
    import warnings

    from peft import LoraConfig, TaskType, get_peft_model

    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(targets),
    )
    with warnings.catch_warnings():
        # peft 0.21 asks transformers 5 a question by its deprecated name
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing")
        return get_peft_model(model, config)


def save(model, folder) -> None:
    """Save ``model`` into ``folder``; a peft model without asking the Hub whether its
    embeddings were resized (LoRA leaves them as they are, and offline the question
    only ends in a warning)."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        model.save_pretrained(folder, save_embedding_layers=False)
    else:
        model.save_pretrained(folder)
