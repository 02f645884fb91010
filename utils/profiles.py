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
import os
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
    # the pretrained tiny encoder's grid (the random start has its own, below)
    tiny_finetune_learning_rates: tuple[float, ...]
    # labelled training reviews held out to choose learning rates (never the test set)
    finetune_validation: int
    finetune_seeds: int  # each choice is fine-tuned with this many seeds
    # 'does pretraining help?' with the profile's real model: pretrained vs random init
    transfer_train: int
    transfer_max_length: int
    transfer_epochs: int
    transfer_learning_rates: tuple[float, ...]
    # chapter 3's ablation: every tiny MLM variant gets its learning rate from this
    # grid (extended where the best sits at an edge), chosen on held-out text
    mlm_learning_rates: tuple[float, ...]
    # 'does pretraining help?': the random starts' own grid (the pretrained starts use
    # tiny_finetune_learning_rates / transfer_learning_rates), and the reviews per step
    scratch_learning_rates: tuple[float, ...]
    comparison_batch_size: int
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
    # --- chapter 8's LoRA study: full fine-tuning and LoRA on the same small sample,
    # each with its own learning-rate grid (LoRA's rank is chosen too), chosen on
    # lora_validation held-out training reviews; lora_test test reviews, used once
    lora_train: int
    lora_validation: int
    lora_test: int
    lora_max_length: int
    lora_epochs: int
    lora_batch_size: int
    full_learning_rates: tuple[float, ...]
    lora_learning_rates: tuple[float, ...]
    # --- per-device batch = batch_size // gradient_accumulation_steps (fitted to the
    # GPU found)
    gradient_accumulation_steps: int = 1
    # --- the fields changed from the named profile, e.g. ('epochs',); shown in the
    # setup line
    changed: tuple[str, ...] = ()

    def __post_init__(self):
        problems = [problem for problem in _problems(self) if problem]
        if problems:
            raise ValueError("; ".join(problems))

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


SIZE_FIELDS = {f.name for f in dataclasses.fields(Profile)} - {"name", "changed"}
FIELD_TYPES = {f.name: f.type for f in dataclasses.fields(Profile)}
# What a field may hold follows from its type: an ``int`` is a positive integer (a
# count, a size), ``int | None`` one or None (the whole split), a ``float`` a positive
# number (a rate, epochs), a ``tuple[float, ...]`` a non-empty tuple of them (a grid of
# learning rates); these exceptions besides:
ZERO_ALLOWED = {"warmup_steps"}
CHOICES = {"truncation": ("head", "head+tail")}
EXAMPLES = {
    "int": "a positive whole number, e.g. 8",
    "int | None": "a positive whole number, or None for the whole split",
    "float": "a positive number, e.g. 2 or 3e-4",
    "tuple[float, ...]": "a tuple of positive numbers, e.g. (1e-4, 3e-4)",
    "str": "a text, e.g. bert-base-uncased",
}


def _is_count(value, zero_allowed: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return value >= 0 if zero_allowed else value > 0


def _is_rate(value) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and 0 < value < float("inf")
    )


def check_field(name: str, value) -> str:
    """What is wrong with ``name=value`` for a profile, in words; '' when nothing."""
    if name in CHOICES:
        if value in CHOICES[name]:
            return ""
        allowed = " or ".join(repr(choice) for choice in CHOICES[name])
        return f"{name}={value!r}: {name} must be {allowed}"
    kind = FIELD_TYPES[name]
    if kind == "int":
        ok = _is_count(value, name in ZERO_ALLOWED)
        if name in ZERO_ALLOWED and not ok:
            return f"{name}={value!r}: {name} must be a whole number, 0 or more"
    elif kind == "int | None":
        ok = value is None or _is_count(value, False)
    elif kind == "float":
        ok = _is_rate(value)
    elif kind == "tuple[float, ...]":
        ok = isinstance(value, tuple) and bool(value) and all(map(_is_rate, value))
    elif kind == "str":
        ok = isinstance(value, str) and bool(value.strip())
    else:  # name, changed: set by the code, not by a reader
        return ""
    return "" if ok else f"{name}={value!r}: {name} must be {EXAMPLES[kind]}"


def _problems(profile: Profile):
    for name in SIZE_FIELDS:
        yield check_field(name, getattr(profile, name))
    if profile.batch_size % max(1, profile.gradient_accumulation_steps):
        yield (
            f"batch_size={profile.batch_size} is not a multiple of "
            f"gradient_accumulation_steps={profile.gradient_accumulation_steps}"
        )


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
        pretrain_texts=2_000,
        pretrain_max_length=64,
        pretrain_batch_size=32,
        tiny_vocab_size=4_000,
        tiny_layers=2,
        tiny_hidden=128,
        tiny_heads=4,
        pretrain_steps_mlm=80,
        pretrain_steps_clm=150,
        pretrain_learning_rate=3e-3,
        pretrain_eval_texts=64,
        tiny_finetune_train=320,
        tiny_finetune_test=400,
        tiny_finetune_epochs=3,
        tiny_finetune_learning_rates=(3e-4, 1e-3, 3e-3),
        finetune_validation=128,
        finetune_seeds=3,
        transfer_train=128,
        transfer_max_length=48,
        transfer_epochs=3,
        transfer_learning_rates=(1e-4, 3e-4, 1e-3),
        mlm_learning_rates=(1e-3, 3e-3, 1e-2),
        scratch_learning_rates=(3e-4, 1e-3, 3e-3),
        comparison_batch_size=16,
        attention_examples=8,
        probe_train_size=200,
        probe_test_size=500,
        embedding_model="sentence-transformers/all-MiniLM-L6-v2",
        decoding_samples=4,
        decoding_new_tokens=40,
        attribution_reviews=64,
        memory_check_batch=8,
        lora_train=256,
        lora_validation=128,
        lora_test=500,
        lora_max_length=48,
        lora_epochs=1,
        lora_batch_size=8,
        full_learning_rates=(3e-5, 1e-4, 3e-4, 1e-3),
        lora_learning_rates=(3e-3, 1e-2, 3e-2),
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
        tiny_finetune_learning_rates=(3e-4, 1e-3, 3e-3),
        finetune_validation=1_000,
        finetune_seeds=3,
        transfer_train=1_000,
        transfer_max_length=128,
        transfer_epochs=2,
        transfer_learning_rates=(2e-5, 5e-5, 2e-4),
        mlm_learning_rates=(1e-3, 3e-3, 1e-2),
        scratch_learning_rates=(3e-4, 1e-3, 3e-3),
        comparison_batch_size=32,
        attention_examples=64,
        probe_train_size=1_000,
        probe_test_size=5_000,
        embedding_model="sentence-transformers/all-MiniLM-L6-v2",
        decoding_samples=8,
        decoding_new_tokens=60,
        attribution_reviews=500,
        memory_check_batch=8,
        lora_train=1_000,
        lora_validation=500,
        lora_test=2_000,
        lora_max_length=256,
        lora_epochs=2,
        lora_batch_size=16,
        full_learning_rates=(1e-5, 2e-5, 5e-5, 1e-4),
        lora_learning_rates=(3e-4, 1e-3, 3e-3),
    ),
}


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
        if isinstance(changes[key], list):  # [1e-4, 3e-4] for a grid
            changes[key] = tuple(changes[key])
        problem = check_field(key, changes[key])
        if problem:
            raise ValueError(f"BOOK_PROFILE_OVERRIDES: {problem}")
    return changes


def from_environment(profile: str | Profile | None, default: str) -> Profile:
    """The profile a chapter runs with: ``profile`` (a name or a ``Profile``), else
    ``BOOK_PROFILE``, else ``default``; then ``BOOK_PROFILE_OVERRIDES`` and
    ``BOOK_MODEL`` on top. A bad value raises ``ValueError`` naming the variable and
    what it may hold."""
    if not isinstance(profile, Profile):
        name = profile or os.environ.get("BOOK_PROFILE") or default
        try:
            profile = get_profile(name)
        except ValueError:
            where = "setup_chapter(profile=...)" if profile else "BOOK_PROFILE"
            raise ValueError(
                f"{where}={name!r} is not a profile: use one of "
                f"{', '.join(sorted(PROFILES))}, or leave it unset."
            ) from None
    changes = parse_overrides(os.environ.get("BOOK_PROFILE_OVERRIDES", ""))
    if os.environ.get("BOOK_MODEL", "").strip():
        changes["model"] = os.environ["BOOK_MODEL"].strip()
    if not changes:
        return profile
    try:
        return profile.replace(**changes)
    except ValueError as err:  # sizes that do not fit together
        variables = "BOOK_PROFILE_OVERRIDES" + (
            " and BOOK_MODEL" if "BOOK_MODEL" in os.environ else ""
        )
        raise ValueError(f"{variables}: {err}") from None
