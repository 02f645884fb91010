"""Chapter 3's pretraining (utils.pretraining): the tiny MLM is BERT until the ablation
changes it, one thing per step; the training loop runs in fp16 with a gradient scaler
on the CPU, as a T4 runs it, and a step the scaler skips does not advance the schedule;
learning-rate grids grow where their best rate sits at an edge; the comparison of
starts reads the test set once per chosen model."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from utils import get_profile, pretraining, setup_chapter
from utils.pretraining import ABLATION, TinyMLM, Variant

VOCAB, WIDTH, LAYERS, HEADS, LENGTH = 60, 16, 2, 4, 12


@pytest.fixture
def setup(tiny_tarball, monkeypatch):
    monkeypatch.setenv("IMDB_PATH", str(tiny_tarball))
    return setup_chapter(profile=get_profile("smoke"))


def fp16(setup):
    """The setup a T4 gets (fp16 autocast, a gradient scaler), on the CPU."""
    return dataclasses.replace(setup, precision_args={"use_cpu": True, "fp16": True})


def tiny_bert():
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=WIDTH,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=4 * WIDTH,
        max_position_embeddings=LENGTH,
    )
    return BertForMaskedLM(config).eval()


def ids_and_labels(rows=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (rows, LENGTH), generator=generator)
    chosen = torch.rand(ids.shape, generator=generator) < 0.3
    chosen[:, 0] = True  # at least one target per row
    return ids, torch.where(chosen, ids, -100)


def mask_batch(rows, generator):
    """A stand-in for the chapter's mask_tokens: 15% of the tokens become id 4."""
    chosen = torch.rand(rows.shape, generator=generator) < 0.15
    return rows.masked_fill(chosen, 4), torch.where(chosen, rows, -100)


# --- the model ----------------------------------------------------------------------


def test_the_first_step_of_the_ablation_is_bert_masked_lm():
    bert = tiny_bert()
    ours = TinyMLM.from_bert(bert).eval()
    ids, labels = ids_and_labels()
    mask = torch.ones_like(ids)
    mask[0, 8:] = 0  # padding in the first row
    with torch.no_grad():
        theirs = bert(input_ids=ids, attention_mask=mask, labels=labels)
        logits = ours(ids, mask)
        assert torch.allclose(
            logits[mask.bool()], theirs.logits[mask.bool()], atol=1e-5
        )
        unpadded = bert(input_ids=ids, labels=labels)
        loss = pretraining.masked_lm_loss(ours, ids, labels)
    assert torch.allclose(loss, unpadded.loss, atol=1e-5)
    assert ours.variant == dataclasses.replace(ABLATION[0], dropout=0.1)


def test_each_step_of_the_ablation_changes_what_its_name_says():
    fields = lambda v: {k: v for k, v in dataclasses.asdict(v).items() if k != "name"}
    changed = [
        {k for k in fields(b) if fields(a)[k] != fields(b)[k]}
        for a, b in zip(ABLATION, ABLATION[1:])
    ]
    assert changed == [{"pre_ln"}, {"dropout", "head_transform"}, {"positions"}]
    assert set(pretraining.CHANGES) == {v.name for v in ABLATION[1:]}
    last = ABLATION[-1]
    assert (last.positions, last.pre_ln, last.dropout) == ("distance", True, 0.0)


def test_only_the_learned_position_variants_have_position_embeddings():
    for variant in ABLATION:
        model = TinyMLM(VOCAB, WIDTH, LAYERS, HEADS, LENGTH, variant)
        assert (model.positions is None) == (variant.positions == "distance")
        has_transform = not isinstance(model.transform, torch.nn.Identity)
        assert has_transform == variant.head_transform


def test_distance_bias_is_the_formula_and_what_fused_attention_adds():
    bias = pretraining.distance_bias(5, 4)
    # head 0 looks left with slope 1, head 1 right with slope 1; heads 2, 3 slope 1/16
    assert bias[0, 3, 1] == -2 and bias[0, 1, 3] == -math.inf
    assert bias[1, 1, 3] == -2 and bias[1, 3, 1] == -math.inf
    assert bias[2, 4, 0] == pytest.approx(-4 / 16) and bias[3, 0, 4] == bias[2, 4, 0]
    assert torch.all(torch.diagonal(bias, dim1=1, dim2=2) == 0)
    q, k, v = torch.randn(3, 2, 4, 5, 8).unbind(0)
    by_formula = ((q @ k.transpose(-2, -1)) / math.sqrt(8) + bias).softmax(-1) @ v
    fused = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    assert torch.allclose(by_formula, fused, atol=1e-5)


def test_attention_weights_are_rows_of_probabilities_that_respect_the_bias():
    model = TinyMLM(VOCAB, WIDTH, LAYERS, HEADS, LENGTH, ABLATION[-1]).eval()
    ids, _ = ids_and_labels()
    weights = model.attention_weights(ids)
    assert len(weights) == LAYERS and weights[0].shape == (3, HEADS, LENGTH, LENGTH)
    assert torch.allclose(weights[0].sum(-1), torch.ones(3, HEADS, LENGTH))
    # head 0 looks left: nothing to the right of the query
    assert torch.all(torch.triu(weights[0][:, 0], diagonal=1) == 0)


def test_clustered_mean_counts_each_group_as_one_draw():
    values = torch.tensor([1.0, 3.0, 2.0, 6.0])
    # every value its own group: the usual standard error (population form)
    mean, se = pretraining.clustered_mean(values, torch.arange(4))
    assert mean == 3.0 and se == pytest.approx(values.std(unbiased=False).item() / 2)
    # two groups of identical values are two draws, not four: a larger error
    twins = torch.tensor([1.0, 1.0, 5.0, 5.0])
    _, one_each = pretraining.clustered_mean(twins, torch.arange(4))
    _, paired = pretraining.clustered_mean(twins, torch.tensor([7, 7, 9, 9]))
    assert paired == pytest.approx(math.sqrt(2) * one_each)


# --- the loop -------------------------------------------------------------------


def run(setup, variant=ABLATION[-1], steps=6, scaler=None, seen=None):
    torch.manual_seed(setup.seed)
    model = TinyMLM(VOCAB, WIDTH, LAYERS, HEADS, LENGTH, variant)
    # ten of the vocabulary's tokens: a model learns at least which ones occur
    train = torch.randint(5, 15, (40, LENGTH), generator=torch.Generator())
    heldout = mask_batch(train[:6], torch.Generator().manual_seed(1))

    def make_batch(rows, generator):
        if seen is not None:
            seen.append(rows.clone())
        return mask_batch(rows, generator)

    log = pretraining.pretrain(
        setup,
        model,
        train,
        make_batch,
        pretraining.masked_lm_loss,
        (*heldout, False),
        steps=steps,
        learning_rate=3e-3,
        batch_size=8,
        evals=3,
        scaler=scaler,
    )
    return model, log


def test_the_loop_logs_every_step_and_scores_held_out_text_at_the_start_and_end(setup):
    _, log = run(setup, steps=16)
    assert [step for step, _ in log["train"]] == list(range(1, 17))
    assert [step for step, _ in log["heldout"]] == [0, 8, 16]
    assert log["skipped"] == 0 and log["schedule_steps"] == 16
    assert log["heldout"][-1][1] < log["heldout"][0][1] - 0.5  # it learns


def test_every_variant_sees_the_same_batches(setup):
    first, second = [], []
    run(setup, ABLATION[0], seen=first)
    run(setup, ABLATION[-1], seen=second)
    assert len(first) == 6 and all(torch.equal(a, b) for a, b in zip(first, second))


@pytest.mark.parametrize("variant", [ABLATION[0], ABLATION[-1]], ids=["bert", "bias"])
def test_fp16_with_a_gradient_scaler_on_the_cpu_trains_with_finite_losses(
    setup, variant
):
    model, log = run(fp16(setup), variant, steps=6)
    assert fp16(setup).grad_scaler().is_enabled()
    losses = [loss for _, loss in log["train"] + log["heldout"]]
    assert all(math.isfinite(loss) for loss in losses)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def recording_adamw(monkeypatch):
    """Make ``torch.optim.AdamW`` keep a list of the optimizers it builds."""
    built = []

    class Recording(torch.optim.AdamW):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(torch.optim, "AdamW", Recording)
    return built


def adam_steps(optimizer) -> set[int]:
    return {int(state["step"]) for state in optimizer.state.values()}


def test_a_step_the_scaler_skips_does_not_advance_the_schedule(setup, monkeypatch):
    built = recording_adamw(monkeypatch)
    # a scale so large that the first fp16 gradients overflow: the scaler skips those
    # steps and halves its scale each time, until the gradients fit
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**24)
    _, log = run(fp16(setup), steps=12, scaler=scaler)
    assert 0 < log["skipped"] < 12
    assert adam_steps(built[0]) == {12 - log["skipped"]}  # skipped: no update
    assert log["schedule_steps"] == 12 - log["skipped"]
    assert all(math.isfinite(loss) for _, loss in log["train"])


def test_the_tiny_clm_trains_in_fp16_on_the_cpu(setup, monkeypatch):
    from transformers import GPT2Config, GPT2LMHeadModel

    from utils import tiny_lm

    built = recording_adamw(monkeypatch)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=VOCAB, n_embd=WIDTH, n_layer=1, n_head=2, n_positions=LENGTH
    )
    model = GPT2LMHeadModel(config)
    train = torch.randint(0, VOCAB, (40, LENGTH), generator=torch.Generator())
    small = fp16(setup)
    small = dataclasses.replace(
        small, profile=small.profile.replace(pretrain_batch_size=8)
    )
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**24)
    log = tiny_lm.pretrain_clm(
        small, model, train, train[:4], steps=12, evals=3, scaler=scaler
    )
    assert all(math.isfinite(loss) for _, loss in log["train"] + log["heldout"])
    assert 0 < log["skipped"] < 12 and log["schedule_steps"] == 12 - log["skipped"]
    assert adam_steps(built[0]) == {12 - log["skipped"]}


# --- learning rates and the comparison of starts ----------------------------------


@pytest.mark.parametrize(
    "best, expected_grid",
    [
        (3e-4, [1e-4, 3e-4, 1e-3]),  # inside: nothing added
        (7e-5, [3e-5, 1e-4, 3e-4, 1e-3]),  # below: one rate added under the grid
        (1e-2, [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]),  # above: twice, then it stops
    ],
)
def test_a_grid_grows_past_an_edge_until_its_best_rate_is_inside(best, expected_grid):
    # a score that peaks at `best` on a log scale
    score = lambda lr: -abs(math.log(lr / best))
    chosen, scores = pretraining.search_learning_rate(score, [1e-4, 3e-4, 1e-3])
    assert list(scores) == pytest.approx(expected_grid)
    assert chosen == min(scores, key=lambda lr: abs(math.log(lr / best)))


def test_ties_are_broken_by_the_second_score_without_growing_the_grid():
    # a start that predicts one class: the same accuracy everywhere, its loss lowest
    # at 3e-4
    score = lambda lr: (0.5, -abs(math.log(lr / 3e-4)))
    chosen, scores = pretraining.search_learning_rate(score, [1e-4, 3e-4, 1e-3])
    assert chosen == 3e-4 and list(scores) == [1e-4, 3e-4, 1e-3]


def test_a_grid_stops_growing_after_its_extensions():
    chosen, scores = pretraining.search_learning_rate(
        lambda lr: lr, [1e-4, 1e-3], max_extensions=2
    )
    assert list(scores) == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])  # ratio 10
    assert chosen == pytest.approx(1e-1) and pretraining.at_edge(chosen, scores)


def labelled(n, seed):
    """Reviews whose label is whether token 7 occurs: learnable from the tokens."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(10, VOCAB, (n, LENGTH), generator=generator)
    y = torch.arange(n) % 2
    ids[y == 1, 3] = 7
    mask = torch.ones_like(ids)
    mask[::3, 9:] = 0  # some padding
    return ids, mask, y


def test_fine_tuning_in_pieces_equals_fine_tuning_in_whole_batches(setup):
    data = labelled(24, 0)

    def make():
        torch.manual_seed(0)
        encoder = TinyMLM(VOCAB, WIDTH, LAYERS, HEADS, LENGTH, ABLATION[-1])
        return pretraining.MeanPoolClassifier(encoder)

    # the per-device batch that setup fitted (8 reviews of 64 tokens, or 1): here as
    # many tokens in reviews of 12 tokens, 42 (the whole batch) or 5
    setups = [
        dataclasses.replace(
            setup,
            profile=setup.profile.replace(
                batch_size=8, gradient_accumulation_steps=steps, max_length=64
            ),
        )
        for steps in (1, 8)
    ]
    assert [pretraining.device_batch(s, LENGTH) for s in setups] == [42, 5]
    models = [
        pretraining.fine_tune(s, make, 1e-3, 0, data, epochs=2, batch_size=8)
        for s in setups
    ]
    (a, losses_a), (b, losses_b) = models
    assert len(losses_a) == 2 * 3 and losses_a == pytest.approx(losses_b, rel=1e-4)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-5)


def test_compare_starts_chooses_on_validation_and_reads_the_test_set_once(
    setup, monkeypatch
):
    data = {
        "train": labelled(32, 0),
        "validation": labelled(16, 1),
        "test": labelled(20, 2),
    }
    scored = []
    class_logits = pretraining.class_logits

    def counting(setup, model, split):
        scored.append(next(k for k, v in data.items() if v is split))
        return class_logits(setup, model, split)

    monkeypatch.setattr(pretraining, "class_logits", counting)

    def make():
        return pretraining.MeanPoolClassifier(
            TinyMLM(VOCAB, WIDTH, 1, HEADS, LENGTH, ABLATION[-1])
        )

    seeds = [1, 2, 3]
    result = pretraining.compare_starts(
        setup,
        {"a": (make, [1e-3, 3e-3, 1e-2]), "b": (make, [3e-4, 1e-3, 3e-3])},
        data,
        epochs=2,
        seeds=seeds,
        batch_size=8,
    )
    assert scored.count("test") == 2 * len(seeds)  # the chosen models only, once
    assert scored.count("validation") == sum(map(len, result.validation.values()))
    for name in ("a", "b"):
        row = result.table.loc[name]
        rates = result.validation[name]
        assert rates[row["chosen learning rate"]] == max(rates.values())
        losses = result.validation_loss[name]
        best = [lr for lr in rates if rates[lr] == max(rates.values())]
        assert row["chosen learning rate"] == min(best, key=losses.get)  # ties
        assert 0 < row["standard error"] < 0.5
        assert len(row["per seed"].split()) == len(seeds)
        assert len(result.losses[name]) == 2 * 4  # 2 epochs of 4 batches


def test_the_share_predicted_positive_is_read_from_right_and_wrong_answers():
    import numpy as np

    labels = np.array([1, 1, 0, 0])
    share = pretraining.positive_share
    assert share([np.array([True, True, True, True])], labels) == 0.5  # the labels
    assert share([np.array([False, False, False, False])], labels) == 0.5
    assert share([labels == 1], labels) == 1.0  # right on positives only: all "pos"
    assert share([labels == 0], labels) == 0.0  # right on negatives only: all "neg"
    assert share([labels == 1, labels == 0], labels) == 0.5  # the mean over runs
