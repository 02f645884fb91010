"""The IMDb fine-tuning recipe of chapter 4, shared by the chapter and
``scripts/finetune_imdb.py``.

One place for what both must do the same way: hold out a validation split of the
training reviews for the evaluations during training, tokenize with truncation and no
padding at map time (head-only, or head+tail as in Sun et al. 2019), pad each batch as
the device's recipe says (``setup.recipe``: to its longest review on a CPU, to a
multiple of 64 on a GPU), group reviews of similar length, and build
``TrainingArguments``/``Trainer`` for the transformers 5 API.
"""

from __future__ import annotations

import numpy as np

from utils.metrics import load_classification_metrics
from utils.profiles import Profile

TRUNCATIONS = ("head", "head+tail")
# the share of the training reviews held out as the validation split
VALIDATION_FRACTION = 0.1
# a GPU's tensor-core shapes (utils.recipe.GPU_RECIPE); a CPU pads to the longest review
# (setup.recipe.pad_to_multiple_of is None there): pass setup.recipe's value
PAD_TO_MULTIPLE_OF = 64


def head_tail(ids: list[int], budget: int, head: int) -> list[int]:
    """The first ``head`` and the last ``budget - head`` ids of ``ids`` (all of them if
    they fit)."""
    if not 0 <= head <= budget:
        raise ValueError(
            f"head={head} must lie between 0 and the token budget {budget}"
        )
    if len(ids) <= budget:
        return list(ids)
    tail = budget - head
    return list(ids[:head]) + (list(ids[-tail:]) if tail else [])


def add_validation(data, full_train, seed: int, fraction: float = VALIDATION_FRACTION):
    """``data`` with a ``validation`` split of training reviews, as many as ``fraction``
    of ``data['train']``, stratified by label and drawn with ``seed``.

    They come from the reviews of ``full_train`` (the whole training split) that
    ``data['train']`` leaves unused, so the training sample keeps its size; where it
    leaves too few (a profile that trains on the whole split), they are carved out of
    ``data['train']``. A review whose text is in ``data['train']`` is never drawn.

    The evaluations during training, and anything chosen by them, use ``validation``;
    ``test`` is left untouched, for the final numbers. Splits come in the order train,
    validation, test.
    """
    from datasets import DatasetDict

    from utils.imdb import sample_split

    if "validation" in data:
        raise ValueError("data already has a validation split")
    train = data["train"]
    size = max(2, round(fraction * len(train)))  # at least one review of each label
    used = set(train["text"])
    unused = [i for i, text in enumerate(full_train["text"]) if text not in used]
    if len(unused) >= size:
        validation = sample_split(full_train.select(unused), size, seed)
    else:
        parts = train.train_test_split(
            test_size=size, stratify_by_column="label", seed=seed
        )
        train, validation = parts["train"], parts["test"]
    rest = {name: split for name, split in data.items() if name != "train"}
    return DatasetDict(
        {
            "train": train.flatten_indices(),
            "validation": validation.flatten_indices(),
            **rest,
        }
    )


def tokenize_function(
    tokenizer, max_length: int, truncation: str = "head", head_tokens: int = 128
):
    """A batched ``Dataset.map`` function: truncate each review to ``max_length``
    tokens, pad nothing.

    ``head`` keeps the first tokens (what ``tokenizer(..., truncation=True)`` does);
    ``head+tail`` keeps the first ``head_tokens`` and fills the rest of the budget from
    the end of the review.
    """
    if truncation not in TRUNCATIONS:
        raise ValueError(f"truncation={truncation!r}: use one of {TRUNCATIONS}")
    if truncation == "head":
        return lambda batch: tokenizer(
            batch["text"], truncation=True, max_length=max_length
        )

    budget = max_length - 2  # room for [CLS] and [SEP]

    def encode(batch):
        bodies = tokenizer(batch["text"], add_special_tokens=False)["input_ids"]
        ids = [
            [
                tokenizer.cls_token_id,
                *head_tail(b, budget, min(head_tokens, budget)),
                tokenizer.sep_token_id,
            ]
            for b in bodies
        ]
        out = {"input_ids": ids, "attention_mask": [[1] * len(i) for i in ids]}
        if "token_type_ids" in tokenizer.model_input_names:
            out["token_type_ids"] = [[0] * len(i) for i in ids]
        return out

    return encode


def tokenize_imdb(
    data, tokenizer, max_length: int, truncation: str = "head", head_tokens: int = 128
):
    """Tokenized copies of every split of ``data``: model inputs and ``label``, text
    dropped."""
    fn = tokenize_function(tokenizer, max_length, truncation, head_tokens)
    drop = [c for c in data["train"].column_names if c != "label"]
    return data.map(fn, batched=True, remove_columns=drop)


def collator(tokenizer, pad_to_multiple_of: int | None = PAD_TO_MULTIPLE_OF):
    from transformers import DataCollatorWithPadding

    return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)


def per_process_batch(profile: Profile, processes: int = 1) -> int:
    """The per-device batch that keeps the profile's ``batch_size`` when ``processes``
    processes train together (``torchrun``, data parallel): ``batch_size`` = per-device
    batch x ``gradient_accumulation_steps`` x ``processes``."""
    per_device, left = divmod(profile.per_device_batch_size, processes)
    if left or not per_device:
        raise ValueError(
            f"batch_size={profile.batch_size} with gradient_accumulation_steps="
            f"{profile.gradient_accumulation_steps} does not split evenly over "
            f"{processes} processes: make the per-device batch "
            f"({profile.per_device_batch_size}) a multiple of {processes}"
        )
    return per_device


def training_arguments(
    profile: Profile,
    output_dir: str,
    precision_args: dict,
    seed: int = 42,
    eval_steps: int | None = None,
    processes: int = 1,
    **overrides,
):
    """The article's ``TrainingArguments``, translated to transformers 5 and sized by
    ``profile``.

    ``eval_steps=None`` evaluates once an epoch; a number evaluates every that many
    steps, and logs the training loss four times as often. With ``processes`` > 1 (a
    ``torchrun`` launch) each process takes its share of the batch, so that the batch
    the model learns from stays the profile's.
    """
    from transformers import TrainingArguments

    schedule = (
        {
            "eval_strategy": "steps",
            "eval_steps": eval_steps,
            "logging_steps": max(1, eval_steps // 4),
        }
        if eval_steps
        else {"eval_strategy": "epoch", "logging_steps": 50}
    )
    kwargs = dict(
        output_dir=output_dir,  # a temporary folder: nothing lands in the repository
        num_train_epochs=profile.epochs,
        per_device_train_batch_size=per_process_batch(profile, processes),
        gradient_accumulation_steps=profile.gradient_accumulation_steps,
        per_device_eval_batch_size=profile.eval_batch_size,
        learning_rate=profile.learning_rate,
        warmup_steps=profile.warmup_steps,
        weight_decay=0.01,
        train_sampling_strategy="group_by_length",  # was group_by_length=True
        save_strategy="no",  # no checkpoints; we save the final model ourselves
        report_to="none",
        disable_tqdm=False,  # a progress bar (an HTML table in notebooks)
        seed=seed,
        **schedule,
        **precision_args,  # e.g. use_cpu=True, bf16=True
    )
    if processes > 1:
        # The classifier's loss is already the mean over the batch. Left on,
        # transformers multiplies it by the number of processes, as it does for losses
        # that sum over tokens: the loss doubles on 2 processes (transformers #35078).
        kwargs["average_tokens_across_devices"] = False
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


def metrics_function(metrics=None):
    """``compute_metrics`` for ``Trainer``: accuracy, precision, recall and F1 through
    ``evaluate``."""
    metrics = metrics or load_classification_metrics()

    def compute_metrics(eval_pred):
        logits, labels = eval_pred
        return metrics.compute(
            predictions=np.asarray(logits).argmax(-1), references=labels
        )

    return compute_metrics


def predict_in_order(trainer, dataset):
    """``trainer.predict(dataset)``, with predictions and labels in the order of
    ``dataset``'s rows.

    With ``train_sampling_strategy="group_by_length"``, transformers 5 groups the
    evaluation batches by length too, so ``trainer.predict`` returns rows in that
    grouped order. Metrics do not mind (labels come in the same order), but looking a
    prediction up in the dataset does. The sampler is seeded afresh for each dataloader,
    so a second dataloader yields the order that ``predict`` used.
    """
    loader = trainer.get_test_dataloader(dataset)
    sampler = getattr(loader.batch_sampler, "sampler", None) or loader.sampler
    order = np.fromiter(iter(sampler), dtype=np.int64)
    output = trainer.predict(dataset)
    inverse = np.argsort(order)
    return output._replace(
        predictions=output.predictions[inverse], label_ids=output.label_ids[inverse]
    )


def make_trainer(
    model,
    args,
    tokenized,
    tokenizer,
    pad_to_multiple_of: int | None = PAD_TO_MULTIPLE_OF,
    callbacks=None,
):
    """A ``Trainer`` on ``tokenized['train']``, evaluating on
    ``tokenized['validation']`` where there is one (see ``add_validation``), else on
    ``tokenized['test']`` (for a run that evaluates once, at the end, with
    ``eval_strategy="no"``)."""
    from transformers import Trainer

    eval_split = "validation" if "validation" in tokenized else "test"
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized[eval_split],
        data_collator=collator(tokenizer, pad_to_multiple_of),
        processing_class=tokenizer,
        compute_metrics=metrics_function(),
        callbacks=callbacks,
    )
    # A classifier's forward takes **kwargs, so Trainer assumes its loss is already
    # divided by the reviews of the whole accumulated batch and does not divide it by
    # gradient_accumulation_steps. But the loss is each step's mean: left alone, the
    # gradients (and the logged loss) grow with the accumulation steps.
    trainer.model_accepts_loss_kwargs = False
    return trainer


def train(trainer, profile: Profile, **kwargs):
    """``trainer.train(**kwargs)``; a CUDA out-of-memory error ends in one line naming
    the knobs."""
    from utils.hardware import explain_oom

    with explain_oom(
        profile.per_device_batch_size,
        profile.max_length,
        profile.gradient_accumulation_steps,
    ):
        return trainer.train(**kwargs)


def recorded_runs(
    profile: str = "full", folder=None, kind: str = "finetune"
) -> list[dict]:
    """The runs recorded in the package's ``utils/results/`` (or ``folder``) for
    ``profile``, newest first: ``utils.recording.recorded_runs``.

    ``kind`` is ``finetune`` (``scripts/finetune_imdb.py``), ``baselines`` (its
    ``--baselines-only``) or ``benchmark`` (``scripts/benchmark_recipes.py``)."""
    from utils.recording import recorded_runs as recorded

    return recorded(profile, folder, kind)
