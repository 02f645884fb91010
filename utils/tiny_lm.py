"""Chapter 3's tiny causal language model, for the chapters that generate text with it.

``tiny_clm(setup)`` returns the tiny GPT-2 that chapter 3 pretrains on raw IMDb
reviews, with its byte-level BPE tokenizer and its training log. It trains it the
first time (a minute or two on a CPU in the smoke profile) and keeps it in the book's
cache (``utils.cache``: written whole or not at all) for later calls, so chapter 5
never depends on chapter 3 having run.

The recipe is chapter 3's, step for step: a byte-level BPE vocabulary trained on the
profile's pretraining reviews; each review's tokens followed by ``<|endoftext|>`` and
the stream cut into blocks; then chapter 3's training loop,
``utils.pretraining.pretrain`` (AdamW, a warm-up then a cosine decay, gradient
clipping, a fixed number of steps, the held-out loss nine times), in the precision
``setup`` chose.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import NamedTuple

import torch

from utils.cache import recipe_folder, usable, writing
from utils.pretraining import blocks, causal_lm_loss, pretrain

# the profile's fields that change the tokenizer or the trained model
RECIPE_FIELDS = (
    "pretrain_texts",
    "pretrain_eval_texts",
    "tiny_vocab_size",
    "tiny_layers",
    "tiny_hidden",
    "tiny_heads",
    "pretrain_max_length",
    "pretrain_batch_size",
    "pretrain_steps_clm",
    "pretrain_learning_rate",
)
RECIPE = "recipe.json"  # what the model was trained with
LOG = "log.json"
END_OF_TEXT = "<|endoftext|>"
HELDOUT_EVALS = 9  # the held-out loss at step 0, then eight more times


class TinyCLM(NamedTuple):
    model: object  # a GPT2LMHeadModel, in evaluation mode, on setup.device
    tokenizer: object  # its PreTrainedTokenizerFast (byte-level BPE)
    log: dict  # 'train' and 'heldout' (step, loss) pairs and 'seconds' of training
    loaded: bool  # True: from the cache; False: trained by this call


def byte_level_bpe(texts, vocab_size: int):
    """GPT-2's kind of tokenizer, trained on ``texts``: no normalisation, every byte a
    token, ``Ġ`` for a leading space, ``<|endoftext|>`` between documents."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=[END_OF_TEXT],
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=END_OF_TEXT,
        eos_token=END_OF_TEXT,
        pad_token=END_OF_TEXT,
    )


def tiny_gpt_config(profile, tokenizer, **extra):
    """The profile's tiny GPT-2 over ``tokenizer``'s vocabulary."""
    from transformers import GPT2Config

    eos = tokenizer.eos_token_id
    return GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=profile.tiny_hidden,
        n_layer=profile.tiny_layers,
        n_head=profile.tiny_heads,
        n_positions=profile.pretrain_max_length,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
        **extra,
    )


def clm_blocks(tokenizer, texts, length: int) -> torch.Tensor:
    """Each review's tokens followed by ``<|endoftext|>``, cut into rows of
    ``length``."""
    return blocks(tokenizer(texts)["input_ids"], length, tokenizer.eos_token_id)


def pretrain_clm(
    setup,
    model,
    train_blocks: torch.Tensor,
    heldout: torch.Tensor,
    steps: int,
    evals: int = HELDOUT_EVALS,
    scaler=None,
) -> dict:
    """Chapter 3's pretraining loop (``utils.pretraining.pretrain``) for the CLM: the
    labels are the inputs (the model shifts them), the held-out loss is scored at
    every position."""
    profile = setup.profile
    return pretrain(
        setup,
        model,
        train_blocks,
        lambda rows, generator: (rows, rows),
        causal_lm_loss,
        (heldout, heldout, True),
        steps,
        profile.pretrain_learning_rate,
        profile.pretrain_batch_size,
        evals=evals,
        scaler=scaler,
    )


def recipe(setup) -> dict:
    """What the trained model depends on: the recipe's profile fields, the seed, the
    device type and the precision."""
    profile = dataclasses.asdict(setup.profile)
    return {
        **{name: profile[name] for name in RECIPE_FIELDS},
        "seed": setup.seed,
        "device": setup.device.type,
        "precision": setup.precision,
    }


def cache_folder(setup) -> Path:
    """Where the model trained with ``setup``'s recipe is kept (one folder per
    recipe)."""
    return recipe_folder("tiny_clm", setup.profile.name, recipe(setup))


def train_tiny_clm(setup):
    """Chapter 3's CLM run: its texts, tokenizer, blocks, model and loop. Returns
    (model, tokenizer, log)."""
    from transformers import GPT2LMHeadModel

    from utils.imdb import load_imdb

    profile = setup.profile
    # every review, each split shuffled with the seed: a prefix is a random sample
    imdb = load_imdb(setup, None, None, verbose=False)
    pretrain_text = list(imdb["train"]["text"][: profile.pretrain_texts])
    heldout_text = list(imdb["test"]["text"][: profile.pretrain_eval_texts])
    tokenizer = byte_level_bpe(pretrain_text, profile.tiny_vocab_size)
    length = profile.pretrain_max_length
    train = clm_blocks(tokenizer, pretrain_text, length)
    heldout = clm_blocks(tokenizer, heldout_text, length)
    torch.manual_seed(setup.seed)
    model = GPT2LMHeadModel(tiny_gpt_config(profile, tokenizer)).to(setup.device)
    log = pretrain_clm(setup, model, train, heldout, profile.pretrain_steps_clm)
    return model, tokenizer, log


def _as_pairs(log: dict) -> dict:
    """JSON stores (step, loss) pairs as lists; give them back as tuples."""
    return {
        key: [tuple(pair) for pair in value] if isinstance(value, list) else value
        for key, value in log.items()
    }


def _load(folder: Path, setup) -> TinyCLM:
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

    model = GPT2LMHeadModel.from_pretrained(folder).to(setup.device).eval()
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    log = _as_pairs(json.loads((folder / LOG).read_text()))
    return TinyCLM(model, tokenizer, log, loaded=True)


def tiny_clm(setup, verbose: bool = True) -> TinyCLM:
    """Chapter 3's tiny CLM for ``setup``'s profile: the one an earlier call trained
    with the same recipe, else trained now (a minute or two on a CPU) and kept. An
    entry that a stopped run left unfinished, or that cannot be read, is trained
    again, with one line saying so."""
    from safetensors import SafetensorError

    folder = cache_folder(setup)
    if usable(folder, "tiny GPT-2"):
        try:
            tiny = _load(folder, setup)
        except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as error:
            print(
                f"The saved tiny GPT-2 could not be read ({type(error).__name__}): "
                "training it again."
            )
            shutil.rmtree(folder, ignore_errors=True)
        else:
            if verbose:
                print(
                    f"The tiny GPT-2, trained earlier with this recipe in "
                    f"{tiny.log['seconds']:.0f} s ({setup.device.type})."
                )
            return tiny
    if verbose:
        print(
            f"Training the tiny GPT-2 with chapter 3's recipe: "
            f"{setup.profile.pretrain_steps_clm} steps (kept for later chapters)."
        )
    model, tokenizer, log = train_tiny_clm(setup)
    with writing(folder) as tmp:
        _save(tmp, setup, model, tokenizer, log)
    return TinyCLM(model.eval(), tokenizer, log, loaded=False)


def _save(folder: Path, setup, model, tokenizer, log: dict) -> None:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / LOG).write_text(json.dumps(log))
    (folder / RECIPE).write_text(json.dumps(recipe(setup), indent=1, sort_keys=True))
