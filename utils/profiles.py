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
    # --- tiny pretraining runs (chapter 3)
    pretrain_texts: int          # IMDb training reviews used as raw, unlabelled text
    pretrain_seconds: float      # wall-clock budget of each tiny pretraining run
    pretrain_max_length: int
    pretrain_batch_size: int
    tiny_vocab_size: int
    tiny_layers: int
    tiny_hidden: int
    tiny_heads: int
    # --- the Transformer chapter (chapter 2): how many review sentences its checks run on
    attention_examples: int

    def replace(self, **changes) -> "Profile":
        """A copy with some sizes changed, e.g. ``profile.replace(train_size=500)`` in an exercise."""
        return dataclasses.replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        model="sentence-transformers/all-MiniLM-L6-v2",
        train_size=4_000, test_size=1_000,
        max_length=128, epochs=1, batch_size=16, eval_batch_size=64,
        learning_rate=5e-5, warmup_steps=25,
        pretrain_texts=5_000, pretrain_seconds=150, pretrain_max_length=128,
        pretrain_batch_size=32, tiny_vocab_size=4_000, tiny_layers=2, tiny_hidden=128, tiny_heads=2,
        attention_examples=8,
    ),
    "full": Profile(
        name="full",
        model="bert-base-uncased",
        train_size=None, test_size=None,
        max_length=512, epochs=2, batch_size=32, eval_batch_size=256,
        learning_rate=2e-5, warmup_steps=100,
        pretrain_texts=25_000, pretrain_seconds=900, pretrain_max_length=256,
        pretrain_batch_size=128, tiny_vocab_size=8_000, tiny_layers=4, tiny_hidden=256, tiny_heads=4,
        attention_examples=64,
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
