"""Chapter 3's pretraining runs and its "does pretraining help?" comparisons.

- ``TinyMLM``: a tiny masked language model that is BERT (``BertForMaskedLM``, checked
  weight for weight) or, one change at a time, each step of the chapter's ablation:
  pre-LN, no dropout and no MLM-head transform, and a fixed distance bias in the
  attention instead of learned position embeddings (``ABLATION``).
- ``pretrain``: the training loop of every tiny pretraining run (the MLMs here, the CLM
  of ``utils.tiny_lm``): AdamW, a warm-up then a cosine decay, gradient clipping, a
  fixed number of steps, the held-out loss a few times, in the precision ``setup``
  chose (an fp16 step that the gradient scaler skips leaves the schedule alone).
- ``search_learning_rate``: a small grid, extended while the best rate sits at an edge.
- ``compare_starts``: fine-tune a pretrained and a randomly initialised start, each at
  the learning rate its validation accuracy chose, with several seeds; only the chosen
  models see the test set, once.

Device, precision and timing go through ``setup`` (``setup.autocast()``,
``setup.to_device``, ``setup.optimizer_step``, ``setup.stopwatch()``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# --- data --------------------------------------------------------------------------


def blocks(token_lists, length: int, separator: int | None = None) -> torch.Tensor:
    """Concatenate token lists (each followed by ``separator``, if given) and cut the
    stream into rows of ``length``; the last partial row is dropped."""
    tail = [] if separator is None else [separator]
    stream = np.concatenate([np.asarray(t + tail, dtype=np.int64) for t in token_lists])
    rows = len(stream) // length
    return torch.from_numpy(stream[: rows * length].reshape(rows, length))


# --- the tiny MLM and its ablation --------------------------------------------------


def distance_bias(n: int, heads: int) -> torch.Tensor:
    """B of shape (heads, n, n): -s_h |i - j| on the head's side of i, -inf elsewhere.
    Even heads look left (j <= i), odd heads right (j >= i); one slope per pair, from
    1 down to 1/16."""
    i = torch.arange(n)
    offset = (i[:, None] - i[None, :]).float()  # i - j
    slopes = torch.logspace(0, -4, max(heads // 2, 1), base=2).repeat_interleave(2)
    slopes = slopes[:heads]
    looks_left = torch.arange(heads) % 2 == 0
    side = torch.where(looks_left[:, None, None], offset >= 0, offset <= 0)
    return (-slopes[:, None, None] * offset.abs()).masked_fill(~side, float("-inf"))


@dataclass(frozen=True)
class Variant:
    """One architecture of the ablation."""

    name: str
    positions: str = "learned"  # 'learned' embeddings, or a fixed 'distance' bias
    pre_ln: bool = False  # layer norm before each sub-layer (else after, as BERT)
    dropout: float = 0.1  # BERT's dropout on embeddings, attention and sub-layers
    head_transform: bool = True  # BERT's dense + GELU + LayerNorm before the output


# One change at a time, from BERT to the distance-bias model.
ABLATION = (
    Variant("tiny BERT"),
    Variant("+ pre-LN", pre_ln=True),
    Variant(
        "+ no dropout, no head transform",
        pre_ln=True,
        dropout=0.0,
        head_transform=False,
    ),
    Variant(
        "+ distance bias", "distance", pre_ln=True, dropout=0.0, head_transform=False
    ),
)
CHANGES = {
    "+ pre-LN": "layer normalisation moved before each sub-layer",
    "+ no dropout, no head transform": "dropout and the MLM head's transform removed",
    "+ distance bias": "a fixed distance bias in place of learned positions",
}


class TinyLayer(nn.Module):
    """One encoder layer: multi-head self-attention and a feed-forward network, each
    with a residual connection; layer norm after each (post-LN, BERT) or before each
    (pre-LN)."""

    def __init__(self, d: int, heads: int, pre_ln: bool, dropout: float, eps: float):
        super().__init__()
        self.heads, self.pre_ln, self.dropout = heads, pre_ln, dropout
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)  # W^Q W^K W^V, W^O
        self.norm1, self.norm2 = nn.LayerNorm(d, eps=eps), nn.LayerNorm(d, eps=eps)
        self.ffn_in, self.ffn_out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.drop = nn.Dropout(dropout)

    def split_heads(self, x: torch.Tensor):
        """q, k, v, each (batch, heads, n, d_k)."""
        b, n, d = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.heads, d // self.heads)
        return qkv.permute(2, 0, 3, 1, 4)

    def attend(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        q, k, v = self.split_heads(x)
        p = self.dropout if self.training else 0.0
        # the bias in q's precision: a float32 bias with fp16 or bf16 q, k, v takes a
        # slower path (or none)
        a = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias.to(q.dtype), dropout_p=p
        )
        b, n, d = x.shape
        return self.drop(self.out(a.transpose(1, 2).reshape(b, n, d)))

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.ffn_out(F.gelu(self.ffn_in(x))))

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        if self.pre_ln:
            x = x + self.attend(self.norm1(x), bias)
            return x + self.feed_forward(self.norm2(x))
        x = self.norm1(x + self.attend(x, bias))
        return self.norm2(x + self.feed_forward(x))

    def attention_weights(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """softmax(Q K^T / sqrt(d_k) + B), (batch, heads, n, n), of the layer input."""
        q, k, _ = self.split_heads(self.norm1(x) if self.pre_ln else x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        return (scores.float() + bias).softmax(-1)


class TinyMLM(nn.Module):
    """A tiny masked language model; ``Variant("tiny BERT")`` is ``BertForMaskedLM``
    (``from_bert`` copies its weights; the outputs agree)."""

    def __init__(
        self,
        vocab_size: int,
        d: int,
        layers: int,
        heads: int,
        max_length: int,
        variant: Variant = ABLATION[0],
        eps: float = 1e-12,  # BERT's layer-norm epsilon
    ):
        super().__init__()
        self.variant = variant
        self.embed = nn.Embedding(vocab_size, d)
        self.positions = (
            nn.Embedding(max_length, d) if variant.positions == "learned" else None
        )
        # post-LN normalises the embeddings; pre-LN normalises once, after the layers
        self.norm = nn.LayerNorm(d, eps=eps)
        self.drop = nn.Dropout(variant.dropout)
        self.layers = nn.ModuleList(
            TinyLayer(d, heads, variant.pre_ln, variant.dropout, eps)
            for _ in range(layers)
        )
        if variant.head_transform:  # BERT's MLM head: dense, GELU, LayerNorm
            self.transform = nn.Sequential(
                nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d, eps=eps)
            )
        else:
            self.transform = nn.Identity()
        self.out_bias = nn.Parameter(torch.zeros(vocab_size))
        self.apply(self._init)
        bias = (
            distance_bias(max_length, heads)
            if variant.positions == "distance"
            else torch.zeros(heads, max_length, max_length)
        )
        self.register_buffer("bias", bias, persistent=False)

    @staticmethod
    def _init(module):  # BERT's initialisation: N(0, 0.02), zero biases
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear):
            nn.init.zeros_(module.bias)

    def attention_bias(self, input_ids, attention_mask=None) -> torch.Tensor:
        """The additive attention bias: the distance bias (or zeros), with padding keys
        hidden from every query (each position still sees itself)."""
        n = input_ids.shape[1]
        bias = self.bias[:, :n, :n]
        if attention_mask is not None:
            keep = attention_mask.bool()[:, None, None, :] | torch.eye(
                n, dtype=torch.bool, device=input_ids.device
            )
            bias = bias.masked_fill(~keep, float("-inf"))
        return bias

    def embeddings(self, input_ids) -> torch.Tensor:
        x = self.embed(input_ids)
        if self.positions is not None:
            x = x + self.positions.weight[: input_ids.shape[1]]
        if not self.variant.pre_ln:
            x = self.norm(x)
        return self.drop(x)

    def encode(self, input_ids, attention_mask=None) -> torch.Tensor:
        """The last hidden states, (batch, n, d)."""
        bias = self.attention_bias(input_ids, attention_mask)
        x = self.embeddings(input_ids)
        for layer in self.layers:
            x = layer(x, bias)
        return self.norm(x) if self.variant.pre_ln else x

    def project(self, hidden) -> torch.Tensor:
        """Logits over the vocabulary; the output weights are the input embeddings."""
        return self.transform(hidden) @ self.embed.weight.T + self.out_bias

    def forward(self, input_ids, attention_mask=None) -> torch.Tensor:
        return self.project(self.encode(input_ids, attention_mask))

    @torch.no_grad()
    def attention_weights(self, input_ids) -> list[torch.Tensor]:
        """Each layer's attention weights, (batch, heads, n, n), in evaluation mode."""
        bias = self.attention_bias(input_ids).float()
        x, weights = self.embeddings(input_ids), []
        for layer in self.layers:
            weights.append(layer.attention_weights(x, bias))
            x = layer(x, bias)
        return weights

    @classmethod
    def from_bert(cls, bert) -> "TinyMLM":
        """A ``TinyMLM`` holding a ``BertForMaskedLM``'s weights (the token-type
        embedding, the same for every token here, folded into the positions)."""
        config = bert.config
        model = cls(
            config.vocab_size,
            config.hidden_size,
            config.num_hidden_layers,
            config.num_attention_heads,
            config.max_position_embeddings,
            Variant("tiny BERT", dropout=config.hidden_dropout_prob),
            eps=config.layer_norm_eps,
        )
        emb, head = bert.bert.embeddings, bert.cls.predictions
        with torch.no_grad():
            model.embed.weight.copy_(emb.word_embeddings.weight)
            model.positions.weight.copy_(
                emb.position_embeddings.weight + emb.token_type_embeddings.weight[0]
            )
            model.norm.load_state_dict(emb.LayerNorm.state_dict())
            for ours, theirs in zip(model.layers, bert.bert.encoder.layer):
                att = theirs.attention
                parts = (att.self.query, att.self.key, att.self.value)
                ours.qkv.weight.copy_(torch.cat([p.weight for p in parts]))
                ours.qkv.bias.copy_(torch.cat([p.bias for p in parts]))
                ours.out.load_state_dict(att.output.dense.state_dict())
                ours.norm1.load_state_dict(att.output.LayerNorm.state_dict())
                ours.ffn_in.load_state_dict(theirs.intermediate.dense.state_dict())
                ours.ffn_out.load_state_dict(theirs.output.dense.state_dict())
                ours.norm2.load_state_dict(theirs.output.LayerNorm.state_dict())
            model.transform[0].load_state_dict(head.transform.dense.state_dict())
            model.transform[2].load_state_dict(head.transform.LayerNorm.state_dict())
            model.out_bias.copy_(head.bias)
        return model


def masked_lm_loss(model: TinyMLM, inputs, labels) -> torch.Tensor:
    """L_MLM with the vocabulary projection applied only at the chosen positions (the
    others do not enter the loss)."""
    chosen = labels != -100
    return F.cross_entropy(
        model.project(model.encode(inputs)[chosen]).float(), labels[chosen]
    )


def causal_lm_loss(model, inputs, labels) -> torch.Tensor:
    """L_CLM of a Hugging Face causal LM, which shifts the labels itself."""
    return model(input_ids=inputs, labels=labels).loss


def logits_of(model, input_ids) -> torch.Tensor:
    """The logits of a Hugging Face model or of a ``TinyMLM`` (which returns them)."""
    out = model(input_ids=input_ids)
    return getattr(out, "logits", out)


# --- held-out losses ------------------------------------------------------------------


@torch.no_grad()
def target_nll(setup, model, inputs, labels, shift=False, batch_size=64):
    """-log P(target) at every target of the held-out set (labels -100 are skipped),
    in order; ``shift=True`` for a CLM, whose position t predicts token t + 1."""
    was_training = model.training
    model.eval()
    nll = []
    for i in range(0, len(inputs), batch_size):
        x, y = setup.to_device((inputs[i : i + batch_size], labels[i : i + batch_size]))
        with setup.autocast():
            logits = logits_of(model, x).float()
        if shift:
            logits, y = logits[:, :-1], y[:, 1:]
        keep = y != -100
        nll.append(F.cross_entropy(logits[keep], y[keep], reduction="none").cpu())
    model.train(was_training)
    return torch.cat(nll)


def clustered_mean(values: torch.Tensor, groups: torch.Tensor) -> tuple[float, float]:
    """The mean of ``values`` and its standard error when values of the same group
    (e.g. the targets of one block of text) are not independent draws: the group sums
    of the residuals are (the cluster-robust standard error)."""
    values = values.double()
    mean = values.mean()
    _, group = torch.unique(groups, return_inverse=True)
    sums = torch.zeros(int(group.max()) + 1, dtype=torch.float64)
    sums.index_add_(0, group, values - mean)
    return mean.item(), (sums.pow(2).sum().sqrt() / len(values)).item()


def heldout_loss(setup, model, inputs, labels, shift=False, batch_size=64) -> float:
    """The mean cross-entropy over every held-out target (not a mean of batch means)."""
    return target_nll(setup, model, inputs, labels, shift, batch_size).mean().item()


# --- the pretraining loop -------------------------------------------------------------


def pretrain(
    setup,
    model: nn.Module,
    train_blocks: torch.Tensor,
    make_batch: Callable,
    loss_fn: Callable,
    heldout: tuple,
    steps: int,
    learning_rate: float,
    batch_size: int,
    evals: int = 9,
    scaler=None,
) -> dict:
    """Train ``model`` for ``steps`` steps of ``batch_size`` blocks; return its log.

    ``make_batch(rows, generator)`` gives (inputs, labels) for a batch of blocks,
    ``loss_fn(model, inputs, labels)`` the loss; ``heldout`` is (inputs, labels,
    shift), scored at step 0 and ``evals - 1`` more times. The blocks' order and every
    random draw of ``make_batch`` come from a generator seeded with ``setup.seed``, so
    runs with the same data and steps see the same batches.

    The log: ``train`` and ``heldout`` (step, loss) pairs, ``seconds`` of training,
    ``skipped`` steps (fp16 overflow: the scaler skipped them, the schedule did not
    advance) and ``schedule_steps`` (how often the schedule advanced).
    """
    from transformers import get_cosine_schedule_with_warmup

    model = model.to(setup.device)
    generator = torch.Generator().manual_seed(setup.seed)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=learning_rate, weight_decay=0.01
    )
    schedule = get_cosine_schedule_with_warmup(
        optimizer, num_warmup_steps=steps // 10, num_training_steps=steps
    )
    scaler = scaler or setup.grad_scaler()
    log = {"train": [], "heldout": [(0, heldout_loss(setup, model, *heldout))]}
    order = torch.randperm(len(train_blocks), generator=generator)
    every = max(steps // max(evals - 1, 1), 1)
    skipped, seconds = 0, 0.0
    model.train()
    for step in range(1, steps + 1):
        with setup.stopwatch() as clock:
            if len(order) < batch_size:  # a new pass over the data, reshuffled
                order = torch.cat(
                    [order, torch.randperm(len(train_blocks), generator=generator)]
                )
            rows, order = order[:batch_size], order[batch_size:]
            inputs, labels = setup.to_device(make_batch(train_blocks[rows], generator))
            with setup.autocast():
                loss = loss_fn(model, inputs, labels)
            stepped = setup.optimizer_step(loss, optimizer, scaler, schedule)
        seconds += clock.seconds
        skipped += not stepped
        log["train"].append((step, loss.item()))
        if step % every == 0 or step == steps:
            log["heldout"].append((step, heldout_loss(setup, model, *heldout)))
    model.eval()
    log.update(seconds=seconds, skipped=skipped, schedule_steps=schedule.last_epoch)
    return log


# --- learning-rate search -------------------------------------------------------------


def _one_or_three(rate: float) -> float:
    """The nearest of 1, 3, 10, 30, ... times a power of ten, on a log scale."""
    power = math.floor(math.log10(rate))
    candidates = [m * 10.0**p for p in (power, power + 1) for m in (1, 3)]
    return float(f"{min(candidates, key=lambda c: abs(math.log(c / rate))):.0e}")


def search_learning_rate(
    score: Callable[[float], float],
    grid: Sequence[float],
    higher_is_better: bool = True,
    max_extensions: int = 2,
) -> tuple[float, dict[float, float]]:
    """The best rate of ``grid`` by ``score``; while it sits at the grid's edge, the
    grid is extended one step beyond it (by the ratio of its two outer rates, rounded
    to 1 or 3 times a power of ten), at most ``max_extensions`` times. Returns the best
    rate and every rate's score, sorted by rate."""
    grid = sorted(grid)
    if len(grid) < 2:
        raise ValueError(f"a learning-rate grid needs at least 2 rates, got {grid}")
    scores = {lr: score(lr) for lr in grid}

    def best():
        pick = max if higher_is_better else min
        return pick(scores, key=scores.get)

    for _ in range(max_extensions):
        rates = sorted(scores)
        chosen = best()
        if chosen == rates[0]:
            new = rates[0] * rates[0] / rates[1]
        elif chosen == rates[-1]:
            new = rates[-1] * rates[-1] / rates[-2]
        else:
            break
        rounded = _one_or_three(new)
        new = rounded if rounded not in scores else float(f"{new:.3g}")
        scores[new] = score(new)
    return best(), dict(sorted(scores.items()))


def at_edge(rate: float, scores: dict) -> bool:
    return rate in (min(scores), max(scores))


# --- fine-tuning: does pretraining help? ----------------------------------------------


class MeanPoolClassifier(nn.Module):
    """A ``TinyMLM`` encoder, mean-pooled over the review's real tokens, then a linear
    layer to the two labels."""

    def __init__(self, encoder: TinyMLM):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.embed.embedding_dim, 2)

    def forward(self, input_ids, attention_mask, labels=None):
        from transformers.modeling_outputs import SequenceClassifierOutput

        hidden = self.encoder.encode(input_ids, attention_mask)
        real = attention_mask[..., None].to(hidden.dtype)
        logits = self.head((hidden * real).sum(1) / real.sum(1)).float()
        loss = None if labels is None else F.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)


def device_batch(setup, length: int) -> int:
    """Reviews of ``length`` tokens per forward pass: as many tokens as the per-device
    batch that ``setup`` fitted holds at the profile's length (memory grows with
    tokens)."""
    profile = setup.profile
    return max(1, profile.per_device_batch_size * profile.max_length // length)


def _trimmed(ids, mask):
    """A batch cut to its longest review (dynamic padding)."""
    longest = int(mask.sum(1).max())
    return ids[:, :longest], mask[:, :longest]


def fine_tune(setup, make_model, learning_rate, seed, data, epochs, batch_size):
    """Fine-tune ``make_model()`` on ``data`` = (ids, mask, labels) for ``epochs``
    epochs of batches of ``batch_size`` reviews (computed in pieces of
    ``device_batch``, gradients summed): AdamW, warm-up and cosine decay. Returns the
    model, in evaluation mode, and its training loss at every step."""
    from transformers import get_cosine_schedule_with_warmup

    torch.manual_seed(seed)  # the new head (and, for random init, everything)
    model = make_model().to(setup.device).train()
    ids, mask, y = data
    generator = torch.Generator().manual_seed(seed)
    n_steps = epochs * math.ceil(len(y) / batch_size)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=learning_rate, weight_decay=0.01
    )
    schedule = get_cosine_schedule_with_warmup(
        optimizer, num_warmup_steps=n_steps // 10, num_training_steps=n_steps
    )
    scaler, piece, losses = setup.grad_scaler(), device_batch(setup, ids.shape[1]), []
    for _ in range(epochs):
        for rows in torch.randperm(len(y), generator=generator).split(batch_size):
            parts, total = rows.split(piece), 0.0
            for k, part in enumerate(parts):
                x, m = setup.to_device(_trimmed(ids[part], mask[part]))
                with setup.autocast():
                    out = model(
                        input_ids=x, attention_mask=m, labels=setup.to_device(y[part])
                    )
                loss = out.loss * len(part) / len(rows)  # the batch's mean, in parts
                total += loss.item()
                if k < len(parts) - 1:
                    scaler.scale(loss).backward()
                else:
                    setup.optimizer_step(loss, optimizer, scaler, schedule)
            losses.append(total)
    return model.eval(), losses


@torch.no_grad()
def class_logits(setup, model, data) -> torch.Tensor:
    """``model``'s logits for every review of ``data`` = (ids, mask, labels), in
    float32 on the CPU."""
    ids, mask, y = data
    model.to(setup.device).eval()
    piece, logits = 2 * device_batch(setup, ids.shape[1]), []
    for i in range(0, len(y), piece):
        x, m = setup.to_device(_trimmed(ids[i : i + piece], mask[i : i + piece]))
        with setup.autocast():
            logits.append(model(input_ids=x, attention_mask=m).logits.float().cpu())
    return torch.cat(logits)


def correct(setup, model, data) -> np.ndarray:
    """Per review, whether ``model`` predicts its label (True/False)."""
    return (class_logits(setup, model, data).argmax(-1) == data[2]).numpy()


def positive_share(answers, labels) -> float:
    """The share of reviews predicted positive (label 1), over runs, from each run's
    right (True) and wrong answers: a prediction is positive where it is right about a
    positive review or wrong about a negative one."""
    positive = np.asarray(labels).astype(bool)
    return float(np.mean([(np.asarray(a) == positive).mean() for a in answers]))


@dataclass
class Comparison:
    """What ``compare_starts`` found for each start."""

    table: object  # DataFrame: chosen rate, validation and test accuracy, SE, seeds
    validation: dict  # start -> {learning rate: validation accuracy (first seed)}
    validation_loss: dict  # start -> {learning rate: validation loss (first seed)}
    losses: dict  # start -> training loss per step, at the chosen rate, first seed
    predicted_share: dict  # start -> share of test reviews predicted positive


def compare_starts(setup, starts: dict, data: dict, epochs: int, seeds, batch_size):
    """For each start (name -> (make_model, learning-rate grid)): choose its rate by the
    first seed's validation accuracy, ties broken by the validation loss
    (``search_learning_rate``, extending the grid at an edge), fine-tune the other
    seeds at that rate, and only then score the chosen models on the test set, once
    each. The standard error combines the seeds' spread and the test sample's."""
    import pandas as pd

    rows, validation, validation_loss, losses, positive = {}, {}, {}, {}, {}
    for name, (make, grid) in starts.items():
        runs = {}

        def score(lr, make=make, runs=runs):
            runs[lr] = fine_tune(
                setup, make, lr, seeds[0], data["train"], epochs, batch_size
            )
            logits = class_logits(setup, runs[lr][0], data["validation"])
            y = data["validation"][2]
            accuracy = (logits.argmax(-1) == y).float().mean().item()
            # the loss breaks ties (a start that predicts one class scores the same
            # accuracy at every rate)
            return accuracy, -F.cross_entropy(logits, y).item()

        best, scores = search_learning_rate(score, grid)
        validation[name] = {lr: accuracy for lr, (accuracy, _) in scores.items()}
        validation_loss[name] = {lr: -minus for lr, (_, minus) in scores.items()}
        chosen = [runs[best]] + [
            fine_tune(setup, make, best, seed, data["train"], epochs, batch_size)
            for seed in seeds[1:]
        ]
        losses[name] = chosen[0][1]
        answers = [correct(setup, model, data["test"]) for model, _ in chosen]
        test = np.array([a.mean() for a in answers])
        n = len(answers[0])
        seed_se = test.std(ddof=1) / math.sqrt(len(test)) if len(test) > 1 else 0.0
        test_se = math.sqrt(test.mean() * (1 - test.mean()) / n)
        positive[name] = positive_share(answers, data["test"][2].numpy())
        rows[name] = {
            "chosen learning rate": best,
            "validation accuracy": validation[name][best],
            "test accuracy": test.mean(),
            "standard error": math.hypot(seed_se, test_se),
            "per seed": " ".join(f"{a:.1%}" for a in test),
        }
    return Comparison(
        pd.DataFrame(rows).T, validation, validation_loss, losses, positive
    )
