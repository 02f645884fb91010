"""Chapter 4's fine-tuned sentiment classifier, for the chapters that use it after.

``fine_tuned_classifier(setup)`` returns a folder with the model that chapter 4 trains
(weights, config with the neg/pos names, tokenizer), loadable by
``pipeline("text-classification", model=folder)`` or
``AutoModelForSequenceClassification.from_pretrained(folder)``. The first time it trains
it with the same recipe (``utils.finetune``: the same sample, validation split,
tokenization and ``Trainer``) at the profile's sizes; after that it loads it from the
book's cache, so no chapter depends on another notebook having run.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

# the profile's fields that change the trained model; the rest (pretraining sizes,
# probe sizes, ...) do not
RECIPE_FIELDS = (
    "model",
    "train_size",
    "max_length",
    "epochs",
    "batch_size",
    "learning_rate",
    "warmup_steps",
    "truncation",
    "head_tokens",
)
READY = "recipe.json"  # written last: a folder without it is an interrupted run


def recipe(setup) -> dict:
    """What the trained model depends on: the recipe's profile fields, the model that
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
    from utils.imdb import recipe_folder

    return recipe_folder("classifiers", setup.profile.name, recipe(setup))


def train_classifier(setup):
    """A ``Trainer`` that has fine-tuned with chapter 4's recipe at the profile's
    sizes."""
    from transformers import PrinterCallback

    from utils import finetune as ft
    from utils.environment import seed_everything
    from utils.imdb import load_imdb
    from utils.models import load_classifier, load_tokenizer

    profile = setup.profile
    sample = load_imdb(setup, verbose=False)  # chapter 4's training sample
    whole_train = load_imdb(setup, None, None, verbose=False)["train"]
    data = ft.add_validation(sample, whole_train, setup.seed)
    data.pop("test")  # not needed to train: each chapter scores its own test sample
    tokenizer = load_tokenizer(setup)
    tokenized = ft.tokenize_imdb(
        data, tokenizer, profile.max_length, profile.truncation, profile.head_tokens
    )
    seed_everything(setup.seed)  # the head starts from the same weights as chapter 4's
    model = load_classifier(setup)
    args = ft.training_arguments(
        profile,
        tempfile.mkdtemp(),  # checkpoints and logs never land in the repository
        setup.precision_args,
        seed=setup.seed,
        eval_strategy="no",
        disable_tqdm=True,
    )
    trainer = ft.make_trainer(model, args, tokenized, tokenizer)
    # without a progress bar, Trainer prints its logs as dicts: not for a chapter's page
    trainer.remove_callback(PrinterCallback)
    ft.train(trainer, profile)
    return trainer


def keep(trainer, setup) -> Path:
    """Save the model that chapter 4 just trained with ``setup``'s recipe where
    ``fine_tuned_classifier(setup)`` finds it, so the chapters after it need not train
    it again."""
    folder = cache_folder(setup)
    trainer.save_model(str(folder))
    (folder / READY).write_text(json.dumps(recipe(setup), indent=1, sort_keys=True))
    return folder


def fine_tuned_classifier(setup, verbose: bool = True) -> Path:
    """The folder of chapter 4's fine-tuned classifier for ``setup``'s profile: loaded
    from the cache when there, else trained (a few minutes) and cached."""
    folder = cache_folder(setup)
    if (folder / READY).exists():
        if verbose:
            print(f"Fine-tuned classifier ({setup.model.label}) loaded from the cache.")
        return folder
    if verbose:
        print(
            f"Fine-tuning {setup.model.label} with chapter 4's recipe on "
            f"{setup.profile.train_size or 'all'} reviews (kept for next time)."
        )
    folder.mkdir(parents=True, exist_ok=True)
    return keep(train_classifier(setup), setup)
