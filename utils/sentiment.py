"""Chapter 4's fine-tuned sentiment classifier, and its one test number, for the
chapters that use it after.

``fine_tuned_classifier(setup)`` returns a folder with the model that chapter 4 trains
(weights, config with the neg/pos names, tokenizer), loadable by
``pipeline("text-classification", model=folder)`` or
``AutoModelForSequenceClassification.from_pretrained(folder)``.

``classifier_result(setup)`` returns its score on the profile's test reviews, computed
once, the way chapter 4 computes it (head+tail tokens at the profile's ``max_length``,
``Trainer.predict``), and kept with the model: every chapter then shows the same number
for the same model and test set::

    from utils.sentiment import classifier_result

    result = classifier_result(setup)
    result["accuracy"], result["standard_error"], result["n"]
    result["correct"]  # per test review, in the order of load_imdb(setup)["test"]

Chapter 4 trains the model itself and leaves it, with its test predictions, where these
functions find it (``keep``). A chapter run first trains it with the same recipe
(``utils.finetune``: the same sample, validation split, tokenization, ``Trainer``
arguments and evaluations during training; same seed, so the same weights) at the
profile's sizes. The entry (model, recipe, test result) is written whole or not at all
(``utils.cache.writing``); a damaged one is made again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tempfile
from pathlib import Path

import numpy as np

# the profile's fields that change the trained model, or the test reviews its kept
# result is scored on (test_size); the rest (pretraining sizes, probe sizes, ...) do not
RECIPE_FIELDS = (
    "model",
    "train_size",
    "test_size",
    "max_length",
    "epochs",
    "batch_size",
    "learning_rate",
    "warmup_steps",
    "truncation",
    "head_tokens",
    "eval_points",
)
RECIPE = "recipe.json"
RESULT = "test_result.json"
WHAT = "fine-tuned sentiment classifier"  # for the line said when an entry is remade


def recipe(setup) -> dict:
    """What the kept entry depends on: the recipe's profile fields, the model that
    ``setup`` resolved, the seed and the precision."""
    profile = dataclasses.asdict(setup.profile)
    return {
        **{name: profile[name] for name in RECIPE_FIELDS},
        "resolved_model": setup.model.label,
        "seed": setup.seed,
        "precision": setup.precision,
    }


def cache_folder(setup) -> Path:
    """Where the model trained with ``setup``'s recipe is kept (one folder per
    recipe)."""
    from utils.cache import recipe_folder

    return recipe_folder("classifiers", setup.profile.name, recipe(setup))


def texts_sha256(texts) -> str:
    """A fingerprint of reviews in their order (as ``scripts/finetune_imdb.py`` records
    ``test_order_sha256``)."""
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()


def eval_steps(profile, train_size: int) -> int:
    """Chapter 4 evaluates ``profile.eval_points`` times during training: every this
    many optimizer steps of ``profile.batch_size`` reviews."""
    steps = math.ceil(math.ceil(train_size / profile.batch_size) * profile.epochs)
    return max(1, math.ceil(steps / profile.eval_points))


def chapter_data(setup, tokenizer):
    """Chapter 4's splits, tokenized: the profile's training sample, a validation split
    of unused training reviews (``utils.finetune.add_validation``), the profile's test
    reviews; and the test reviews' texts."""
    from utils import finetune as ft
    from utils.imdb import load_imdb

    profile = setup.profile
    sample = load_imdb(setup, verbose=False)
    whole_train = load_imdb(setup, None, None, verbose=False)["train"]
    data = ft.add_validation(sample, whole_train, setup.seed)
    tokenized = ft.tokenize_imdb(
        data, tokenizer, profile.max_length, profile.truncation, profile.head_tokens
    )
    return tokenized, list(data["test"]["text"])


def train_classifier(setup):
    """A ``Trainer`` that has fine-tuned with chapter 4's recipe at the profile's
    sizes (the chapter's arguments, evaluations during training included: they draw
    from the random generator, so leaving them out would give other weights)."""
    from transformers import PrinterCallback

    from utils import finetune as ft
    from utils.environment import seed_everything
    from utils.models import load_classifier, load_tokenizer

    profile = setup.profile
    tokenizer = load_tokenizer(setup)
    tokenized, _ = chapter_data(setup, tokenizer)
    seed_everything(setup.seed)  # the head starts from the same weights as chapter 4's
    model = load_classifier(setup)
    args = ft.training_arguments(
        profile,
        tempfile.mkdtemp(),  # checkpoints and logs never land in the repository
        setup.precision_args,
        setup.seed,
        eval_steps(profile, len(tokenized["train"])),
        disable_tqdm=True,
    )
    trainer = ft.make_trainer(
        model, args, tokenized, tokenizer, setup.recipe.pad_to_multiple_of
    )
    # without a progress bar, Trainer prints its logs as dicts: not for a chapter's page
    trainer.remove_callback(PrinterCallback)
    ft.train(trainer, profile)
    return trainer


def predict_test(trainer, setup):
    """``utils.finetune.predict_in_order`` on the profile's test reviews, tokenized as
    for training: what chapter 4 computes its test numbers from."""
    from utils import finetune as ft

    tokenized, _ = chapter_data(setup, trainer.processing_class)
    return ft.predict_in_order(trainer, tokenized["test"])


def _result_record(prediction, texts) -> dict:
    logits = np.asarray(prediction.predictions, dtype=np.float64)
    labels = np.asarray(prediction.label_ids, dtype=np.int64)
    if len(labels) != len(texts):
        raise ValueError(
            f"{len(labels)} predictions for {len(texts)} test reviews: pass the "
            "predictions of the profile's whole test split, in its order"
        )
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return {
        "predictions": logits.argmax(-1).tolist(),
        "labels": labels.tolist(),
        "positive_probability": (shifted[:, 1] / shifted.sum(-1)).tolist(),
        "test_sha256": texts_sha256(texts),
    }


def keep(trainer, setup, prediction=None) -> Path:
    """Save the model that chapter 4 just trained with ``setup``'s recipe, with its
    predictions on the profile's test reviews, where ``fine_tuned_classifier(setup)``
    and ``classifier_result(setup)`` find them.

    ``prediction``: the output of ``utils.finetune.predict_in_order`` on the test
    reviews, as the chapter computed it (else it is computed here, the same way).
    """
    from utils.cache import writing
    from utils.imdb import load_imdb

    if prediction is None:
        prediction = predict_test(trainer, setup)
    texts = list(load_imdb(setup, verbose=False)["test"]["text"])
    record = _result_record(prediction, texts)
    folder = cache_folder(setup)
    with writing(folder) as tmp:
        trainer.save_model(str(tmp))
        (tmp / RECIPE).write_text(json.dumps(recipe(setup), indent=1, sort_keys=True))
        (tmp / RESULT).write_text(json.dumps(record))
    return folder


def fine_tuned_classifier(setup, verbose: bool = True) -> Path:
    """The folder of chapter 4's fine-tuned classifier for ``setup``'s profile: the
    one kept by chapter 4 or an earlier call, else trained now (minutes on a CPU) and
    kept."""
    from utils.cache import usable

    folder = cache_folder(setup)
    if usable(folder, WHAT):
        return folder
    if verbose:
        size = setup.profile.train_size
        print(
            f"Fine-tuning {setup.model.label} with chapter 4's recipe on "
            f"{f'{size:,}' if size else 'all the'} training reviews, once: the "
            "chapters after it use the same model."
        )
    trainer = train_classifier(setup)
    return keep(trainer, setup, predict_test(trainer, setup))


def classifier_result(setup, verbose: bool = True) -> dict:
    """Chapter 4's classifier on the profile's test reviews, as chapter 4 scored it.

    Returns ``accuracy``, ``standard_error`` (of the accuracy: sqrt(a (1 - a) / n)),
    ``n``; per test review, in the order of ``load_imdb(setup)["test"]``:
    ``predictions`` (0 neg, 1 pos), ``labels``, ``correct`` (booleans) and
    ``positive_probability``; ``test_sha256`` (``texts_sha256`` of the test texts, to
    check that a chapter pairs it with the same reviews), ``model`` (its label) and
    ``folder`` (the model's).
    """
    folder = fine_tuned_classifier(setup, verbose)
    record = json.loads((folder / RESULT).read_text())
    predictions = np.asarray(record["predictions"], dtype=np.int64)
    labels = np.asarray(record["labels"], dtype=np.int64)
    correct = predictions == labels
    n = len(correct)
    accuracy = float(correct.mean())
    return {
        "accuracy": accuracy,
        "standard_error": math.sqrt(accuracy * (1 - accuracy) / n),
        "n": n,
        "predictions": predictions,
        "labels": labels,
        "correct": correct,
        "positive_probability": np.asarray(record["positive_probability"]),
        "test_sha256": record["test_sha256"],
        "model": setup.model.label,
        "folder": folder,
    }


def check_same_reviews(result: dict, texts) -> None:
    """Raise unless ``texts`` are the reviews ``result`` was scored on, in its order
    (call it before pairing ``result["correct"]`` with another model's answers)."""
    if texts_sha256(list(texts)) != result["test_sha256"]:
        raise ValueError(
            f"These {len(texts):,} reviews are not the {result['n']:,} test reviews "
            "chapter 4's classifier was scored on (in their order): pair it with "
            "load_imdb(setup)['test'], as it comes."
        )


def paired_difference(correct_a, correct_b) -> tuple[float, float]:
    """Accuracy of A minus accuracy of B on the same reviews, and the standard error
    of that difference from the per-review answers (the standard error of the mean of
    the per-review differences, which is smaller than the unpaired one when the two
    get the same reviews right)."""
    a = np.asarray(correct_a, dtype=np.float64)
    b = np.asarray(correct_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(
            f"paired answers need two equally long sequences of at least 2 reviews, "
            f"got {a.shape} and {b.shape}"
        )
    difference = a - b
    return float(difference.mean()), float(difference.std(ddof=1) / math.sqrt(len(a)))
