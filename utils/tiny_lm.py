"""Chapter 3's tiny causal language model, for the chapters that generate text with it.

``tiny_clm(setup)`` returns the tiny GPT-2 that chapter 3 pretrains on raw IMDb
reviews, with its byte-level BPE tokenizer and its training log. It trains it the
first time (a couple of minutes on a CPU in the smoke profile) and loads it from the
book's cache after that, so chapter 5 never depends on chapter 3 having run.

The recipe is chapter 3's, step for step: a byte-level BPE vocabulary trained on the
profile's pretraining reviews; each review's tokens followed by ``<|endoftext|>`` and
the stream cut into blocks; then chapter 3's training loop (AdamW, a warm-up then a
cosine decay, gradient clipping, a fixed number of steps, the held-out loss nine
times), in the precision ``setup`` chose. Chapter 3 shows that loop, and checks that
``pretrain_clm`` below is the same by running a few steps of both from one start.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

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
READY = "recipe.json"  # written last: a folder without it is an interrupted run
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


def blocks(token_lists, length: int, separator: int | None = None) -> torch.Tensor:
    """Concatenate token lists (each followed by ``separator``, if given) and cut the
    stream into rows of ``length``; the last partial row is dropped."""
    tail = [] if separator is None else [separator]
    stream = np.concatenate([np.asarray(t + tail, dtype=np.int64) for t in token_lists])
    rows = len(stream) // length
    return torch.from_numpy(stream[: rows * length].reshape(rows, length))


def clm_blocks(tokenizer, texts, length: int) -> torch.Tensor:
    return blocks(tokenizer(texts)["input_ids"], length, tokenizer.eos_token_id)


def amp_dtype(setup):
    """The autocast type ``setup`` chose (bf16 or fp16), or None for fp32."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(setup.precision)


def autocast(setup):
    dtype = amp_dtype(setup)
    return torch.autocast(
        setup.device.type,
        dtype=dtype or torch.bfloat16,
        enabled=dtype is not None,
    )


@torch.no_grad()
def heldout_loss(setup, model, heldout: torch.Tensor) -> float:
    """Mean next-token cross-entropy over every target of the held-out blocks (not a
    mean of batch means); position t predicts token t + 1."""
    model.eval()
    batch = 2 * setup.profile.pretrain_batch_size
    total, count = 0.0, 0
    for i in range(0, len(heldout), batch):
        rows = heldout[i : i + batch].to(setup.device)
        with autocast(setup):
            logits = model(input_ids=rows).logits.float()
        logits, targets = logits[:, :-1], rows[:, 1:]
        total += F.cross_entropy(
            logits.flatten(0, 1), targets.flatten(), reduction="sum"
        ).item()
        count += targets.numel()
    model.train()
    return total / count


def pretrain_clm(
    setup,
    model,
    train_blocks: torch.Tensor,
    heldout: torch.Tensor,
    steps: int,
    evals: int = HELDOUT_EVALS,
) -> dict:
    """Chapter 3's ``pretrain`` loop for the CLM: train for ``steps`` steps; return
    (step, training loss) and (step, held-out loss) pairs and the seconds it took."""
    from transformers import get_cosine_schedule_with_warmup

    profile = setup.profile
    B = profile.pretrain_batch_size
    generator = torch.Generator().manual_seed(setup.seed)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=profile.pretrain_learning_rate, weight_decay=0.01
    )
    schedule = get_cosine_schedule_with_warmup(
        optimizer, num_warmup_steps=steps // 10, num_training_steps=steps
    )
    # fp16 gradients underflow unless the loss is scaled up first; bf16 needs none
    scaler = torch.amp.GradScaler(
        setup.device.type, enabled=amp_dtype(setup) == torch.float16
    )
    log = {"train": [], "heldout": [(0, heldout_loss(setup, model, heldout))]}
    order = torch.randperm(len(train_blocks), generator=generator)
    start = time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        if len(order) < B:  # a new pass over the data, reshuffled
            order = torch.cat(
                [order, torch.randperm(len(train_blocks), generator=generator)]
            )
        rows, order = order[:B], order[B:]
        inputs = train_blocks[rows].to(setup.device)
        with autocast(setup):
            loss = model(input_ids=inputs, labels=inputs).loss
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
        schedule.step()
        optimizer.zero_grad()
        log["train"].append((step, loss.item()))
        if step % (steps // (evals - 1)) == 0 or step == steps:
            log["heldout"].append((step, heldout_loss(setup, model, heldout)))
    log["seconds"] = time.perf_counter() - start
    return log


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
    from utils.cache import recipe_folder

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


def tiny_clm(setup, verbose: bool = True) -> TinyCLM:
    """Chapter 3's tiny CLM for ``setup``'s profile: loaded from the cache when there,
    else trained (a few minutes on a CPU) and cached."""
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

    folder = cache_folder(setup)
    if (folder / READY).exists():
        model = GPT2LMHeadModel.from_pretrained(folder).to(setup.device).eval()
        tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
        log = _as_pairs(json.loads((folder / LOG).read_text()))
        if verbose:
            print(
                f"Tiny CLM loaded from the cache (trained earlier in "
                f"{log['seconds']:.0f} s, {setup.device.type})."
            )
        return TinyCLM(model, tokenizer, log, loaded=True)
    if verbose:
        print(
            f"Training the tiny CLM with chapter 3's recipe: "
            f"{setup.profile.pretrain_steps_clm} steps (kept for next time)."
        )
    model, tokenizer, log = train_tiny_clm(setup)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / LOG).write_text(json.dumps(log))
    (folder / READY).write_text(json.dumps(recipe(setup), indent=1, sort_keys=True))
    return TinyCLM(model.eval(), tokenizer, log, loaded=False)
