"""Run profiles: every size a chapter uses, in one object, so chapters carry no magic
numbers.

``smoke`` runs on 2 CPU cores in minutes (what CI executes); ``full`` is the real recipe
for one GPU. ``setup_chapter()`` picks one (its argument, else ``BOOK_PROFILE``, else
``full`` on a CUDA GPU and ``smoke`` elsewhere), applies ``BOOK_PROFILE_OVERRIDES`` and
hands it to every loader.
"""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    # --- the classifier backbone (a Hugging Face Hub id; utils.models resolves it
    # offline)
    model: str
    # --- IMDb sizes; None means the whole split (25,000 reviews)
    train_size: int | None
    test_size: int | None
    # --- fine-tuning (chapter 4)
    max_length: int
    epochs: float
    batch_size: int  # the effective batch: per-device batch x gradient accumulation
    eval_batch_size: int
    learning_rate: float
    warmup_steps: int
    # 'head' or 'head+tail' (Sun et al. 2019) for reviews longer than max_length
    truncation: str
    head_tokens: (
        int  # with 'head+tail': tokens kept from the start; the rest come from the end
    )
    # evaluations during training: the loss/accuracy curves and the learning curve
    eval_points: int
    # --- tiny pretraining runs (chapter 3)
    # IMDb training reviews used as raw, unlabelled text (None: all)
    pretrain_texts: int | None
    pretrain_seconds: float  # wall-clock budget of each tiny pretraining run
    pretrain_max_length: int
    pretrain_batch_size: int
    tiny_vocab_size: int
    tiny_layers: int
    tiny_hidden: int
    tiny_heads: int
    pretrain_steps_mlm: (
        int  # optimizer steps of the tiny MLM run (fixed: deterministic)
    )
    pretrain_steps_clm: int  # optimizer steps of the tiny CLM run
    pretrain_learning_rate: float
    # IMDb test reviews (labels unused) for held-out loss and the unigram baseline
    pretrain_eval_texts: int
    tiny_finetune_train: (
        int  # labelled reviews for 'does pretraining help?' (few labels on purpose)
    )
    tiny_finetune_test: int
    tiny_finetune_epochs: int
    # the same small grid for pretrained and random init
    tiny_finetune_learning_rates: tuple[float, ...]
    # labelled training reviews held out to choose learning rates (never the test set)
    finetune_validation: int
    finetune_seeds: int  # each choice is fine-tuned with this many seeds
    # 'does pretraining help?' with the profile's real model: pretrained vs random init
    transfer_train: int
    transfer_max_length: int
    transfer_epochs: int
    transfer_learning_rates: tuple[float, ...]
    # --- the Transformer chapter (chapter 2): how many review sentences its checks run
    # on
    attention_examples: int
    # --- chapter 1's probe: a linear classifier on frozen features, with few labels
    probe_train_size: int
    probe_test_size: int
    # --- chapter 5's applications: the sentence-embedding model (a Hub id) for
    # zero-shot classification and search, and the text generated per decoding
    # strategy: continuations per prompt, tokens per continuation
    embedding_model: str
    decoding_samples: int
    decoding_new_tokens: int
    # --- chapters 7 and 8: test reviews whose gradient x input attributions are
    # checked by deleting tokens (chapter 7), and the samples in the training step
    # whose memory is measured against the calculator (chapter 8)
    attribution_reviews: int
    memory_check_batch: int
    # --- per-device batch = batch_size // gradient_accumulation_steps (fitted to the
    # GPU found)
    gradient_accumulation_steps: int = 1
    # --- the fields changed from the named profile, e.g. ('epochs',); shown in the
    # setup line
    changed: tuple[str, ...] = ()

    def replace(self, **changes) -> "Profile":
        """A copy with some sizes changed, e.g. ``profile.replace(train_size=500)`` in
        an exercise."""
        marked = tuple(
            dict.fromkeys(self.changed + tuple(k for k in changes if k != "changed"))
        )
        return dataclasses.replace(self, **changes, changed=marked)

    @property
    def per_device_batch_size(self) -> int:
        return self.batch_size // self.gradient_accumulation_steps

    @property
    def is_changed(self) -> bool:
        """True when sizes differ from the named profile: its outcome goals need not
        hold."""
        return bool(set(self.changed) - {"gradient_accumulation_steps"})


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        model="sentence-transformers/all-MiniLM-L6-v2",
        train_size=2_000,
        test_size=1_000,
        max_length=128,
        epochs=1,
        batch_size=32,
        eval_batch_size=64,
        learning_rate=1e-4,
        warmup_steps=5,
        truncation="head+tail",
        head_tokens=32,
        eval_points=4,
        pretrain_texts=5_000,
        pretrain_seconds=150,
        pretrain_max_length=128,
        pretrain_batch_size=32,
        tiny_vocab_size=4_000,
        tiny_layers=2,
        tiny_hidden=128,
        tiny_heads=4,
        pretrain_steps_mlm=400,
        pretrain_steps_clm=400,
        pretrain_learning_rate=3e-3,
        pretrain_eval_texts=200,
        tiny_finetune_train=1_000,
        tiny_finetune_test=1_000,
        tiny_finetune_epochs=5,
        tiny_finetune_learning_rates=(3e-4, 1e-3),
        finetune_validation=250,
        finetune_seeds=2,
        transfer_train=500,
        transfer_max_length=64,
        transfer_epochs=2,
        transfer_learning_rates=(1e-4, 3e-4),
        attention_examples=8,
        probe_train_size=200,
        probe_test_size=500,
        embedding_model="sentence-transformers/all-MiniLM-L6-v2",
        decoding_samples=4,
        decoding_new_tokens=40,
        attribution_reviews=64,
        memory_check_batch=8,
    ),
    "full": Profile(
        name="full",
        model="bert-base-uncased",
        train_size=None,
        test_size=None,
        max_length=512,
        epochs=2,
        batch_size=32,
        eval_batch_size=256,
        learning_rate=2e-5,
        warmup_steps=100,
        truncation="head+tail",
        head_tokens=128,
        eval_points=4,
        pretrain_texts=None,
        pretrain_seconds=900,
        pretrain_max_length=256,
        pretrain_batch_size=128,
        tiny_vocab_size=8_000,
        tiny_layers=4,
        tiny_hidden=256,
        tiny_heads=4,
        pretrain_steps_mlm=1_500,
        pretrain_steps_clm=1_200,
        pretrain_learning_rate=3e-3,
        pretrain_eval_texts=2_000,
        tiny_finetune_train=1_000,
        tiny_finetune_test=5_000,
        tiny_finetune_epochs=5,
        tiny_finetune_learning_rates=(3e-4, 1e-3),
        finetune_validation=1_000,
        finetune_seeds=3,
        transfer_train=1_000,
        transfer_max_length=128,
        transfer_epochs=2,
        transfer_learning_rates=(2e-5, 5e-5, 2e-4),
        attention_examples=64,
        probe_train_size=1_000,
        probe_test_size=5_000,
        embedding_model="sentence-transformers/all-MiniLM-L6-v2",
        decoding_samples=8,
        decoding_new_tokens=60,
        attribution_reviews=500,
        memory_check_batch=8,
    ),
}


SIZE_FIELDS = {f.name for f in dataclasses.fields(Profile)} - {"name", "changed"}


def get_profile(name: str) -> Profile:
    """The named profile; an unknown name says which names exist."""
    key = name.strip().lower()
    if key not in PROFILES:
        raise ValueError(
            f"Unknown profile {name!r}. Use one of: {', '.join(sorted(PROFILES))}."
        )
    return PROFILES[key]


def parse_overrides(text: str) -> dict:
    """``"epochs=1; max_length=128"`` as a dict of Python values (the format of
    ``BOOK_PROFILE_OVERRIDES``); a bad entry says what is wrong and what is allowed."""
    changes = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        key, sep, value = (x.strip() for x in item.partition("="))
        if not sep or key not in SIZE_FIELDS:
            raise ValueError(
                f"BOOK_PROFILE_OVERRIDES: {item!r} is not 'field=value' with a profile "
                f"field; the fields are: {', '.join(sorted(SIZE_FIELDS))}"
            )
        try:
            changes[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            changes[key] = value  # a plain word, such as a model id or 'head'
    return changes
