"""Run profiles: every size a chapter uses, in one object, so chapters carry no magic numbers.

``smoke`` runs on 2 CPU cores in minutes (what CI executes); ``full`` is the real recipe for one GPU.
``BOOK_PROFILE`` picks one; without it, ``full`` when a CUDA GPU is present, else ``smoke``.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Profile:
    name: str
    # --- the classifier backbone (a Hugging Face Hub id; utils.models resolves it offline)
    model: str
    # --- IMDb sizes; None means the whole split (25,000 reviews)
    train_size: int | None
    test_size: int | None
    # --- fine-tuning (chapter 4)
    max_length: int
    epochs: float
    batch_size: int
    eval_batch_size: int
    learning_rate: float
    warmup_steps: int
    truncation: str              # 'head' or 'head+tail' (Sun et al. 2019) for reviews longer than max_length
    head_tokens: int             # with 'head+tail': tokens kept from the start; the rest come from the end
    eval_points: int             # evaluations during training: the loss/accuracy curves and the learning curve
    # --- tiny pretraining runs (chapter 3)
    pretrain_texts: int          # IMDb training reviews used as raw, unlabelled text
    pretrain_seconds: float      # wall-clock budget of each tiny pretraining run
    pretrain_max_length: int
    pretrain_batch_size: int
    tiny_vocab_size: int
    tiny_layers: int
    tiny_hidden: int
    tiny_heads: int
    pretrain_steps_mlm: int      # optimizer steps of the tiny MLM run (fixed: deterministic)
    pretrain_steps_clm: int      # optimizer steps of the tiny CLM run
    pretrain_learning_rate: float
    pretrain_eval_texts: int     # IMDb test reviews (labels unused) for held-out loss and the unigram baseline
    tiny_finetune_train: int     # labelled reviews for 'does pretraining help?' (few labels on purpose)
    tiny_finetune_test: int
    tiny_finetune_epochs: int
    tiny_finetune_learning_rates: tuple[float, ...]   # the same small grid for pretrained and random init
    # --- the Transformer chapter (chapter 2): how many review sentences its checks run on
    attention_examples: int
    # --- chapter 1's probe: a linear classifier on frozen features, with few labels
    probe_train_size: int
    probe_test_size: int

    def replace(self, **changes) -> "Profile":
        """A copy with some sizes changed, e.g. ``profile.replace(train_size=500)`` in an exercise."""
        return dataclasses.replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        model="sentence-transformers/all-MiniLM-L6-v2",
        train_size=2_000, test_size=1_000,
        max_length=128, epochs=1, batch_size=32, eval_batch_size=64,
        learning_rate=1e-4, warmup_steps=5, truncation="head+tail", head_tokens=32, eval_points=4,
        pretrain_texts=5_000, pretrain_seconds=150, pretrain_max_length=128,
        pretrain_batch_size=32, tiny_vocab_size=4_000, tiny_layers=2, tiny_hidden=128, tiny_heads=2,
        pretrain_steps_mlm=900, pretrain_steps_clm=400, pretrain_learning_rate=1e-3, pretrain_eval_texts=200,
        tiny_finetune_train=1_000, tiny_finetune_test=1_000, tiny_finetune_epochs=5, tiny_finetune_learning_rates=(3e-4, 1e-3),
        attention_examples=8,
        probe_train_size=200, probe_test_size=500,
    ),
    "full": Profile(
        name="full",
        model="bert-base-uncased",
        train_size=None, test_size=None,
        max_length=512, epochs=2, batch_size=32, eval_batch_size=256,
        learning_rate=2e-5, warmup_steps=100, truncation="head+tail", head_tokens=128, eval_points=4,
        pretrain_texts=25_000, pretrain_seconds=900, pretrain_max_length=256,
        pretrain_batch_size=128, tiny_vocab_size=8_000, tiny_layers=4, tiny_hidden=256, tiny_heads=4,
        pretrain_steps_mlm=12_000, pretrain_steps_clm=6_000, pretrain_learning_rate=1e-3, pretrain_eval_texts=2_000,
        tiny_finetune_train=1_000, tiny_finetune_test=5_000, tiny_finetune_epochs=5, tiny_finetune_learning_rates=(3e-4, 1e-3),
        attention_examples=64,
        probe_train_size=1_000, probe_test_size=5_000,
    ),
}


def default_profile_name() -> str:
    """``BOOK_PROFILE`` if set, else ``full`` on a CUDA GPU, else ``smoke``."""
    chosen = os.environ.get("BOOK_PROFILE", "").strip().lower()
    if chosen:
        return chosen
    return "full" if torch.cuda.is_available() else "smoke"


def get_profile(name: str | None = None) -> Profile:
    """The named profile, or the default one; an unknown name says which names exist."""
    name = (name or default_profile_name()).lower()
    if name not in PROFILES:
        raise ValueError(
            f"Unknown profile {name!r} (from BOOK_PROFILE or the argument). "
            f"Use one of: {', '.join(sorted(PROFILES))}."
        )
    return PROFILES[name]
