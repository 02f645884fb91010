"""The fine-tuning recipe (utils/finetune.py) and the baselines (utils/baselines.py) of
chapter 4."""

import json

import numpy as np
import pytest
from datasets import Dataset, DatasetDict

from utils import finetune as ft
from utils.baselines import (
    NBLogisticRegression,
    TfidfLogisticRegression,
    log_count_ratio,
)
from utils.profiles import get_profile


@pytest.fixture(scope="module")
def tokenizer():
    from utils.models import load_tokenizer, resolve_model

    return load_tokenizer(resolve_model(get_profile("smoke").model))


def test_head_tail_keeps_both_ends():
    ids = list(range(10))
    assert ft.head_tail(ids, 6, 2) == [0, 1, 6, 7, 8, 9]
    assert ft.head_tail(ids, 6, 6) == [0, 1, 2, 3, 4, 5]  # head only
    assert ft.head_tail(ids, 6, 0) == [4, 5, 6, 7, 8, 9]  # tail only
    assert ft.head_tail(ids[:4], 6, 2) == [0, 1, 2, 3]  # short: untouched
    with pytest.raises(ValueError):
        ft.head_tail(ids, 6, 7)


def test_head_truncation_is_the_tokenizers_and_head_tail_keeps_the_end(tokenizer):
    text = "good " * 50 + "terrible ending"
    head = ft.tokenize_function(tokenizer, 16, "head")({"text": [text]})
    both = ft.tokenize_function(tokenizer, 16, "head+tail", head_tokens=4)(
        {"text": [text]}
    )
    assert (
        head["input_ids"][0]
        == tokenizer(text, truncation=True, max_length=16)["input_ids"]
    )
    ids = both["input_ids"][0]
    assert (
        len(ids) == 16
        and ids[0] == tokenizer.cls_token_id
        and ids[-1] == tokenizer.sep_token_id
    )
    assert tokenizer.decode(ids[-3:-1]) == "terrible ending"
    assert set(both) == set(head)  # the same model inputs either way
    with pytest.raises(ValueError):
        ft.tokenize_function(tokenizer, 16, "middle")


def test_tokenize_imdb_drops_text_and_pads_nothing(tokenizer):
    data = DatasetDict(
        {
            s: Dataset.from_dict(
                {
                    "text": ["a fine film", "bad " * 40],
                    "label": [1, 0],
                    "rating": [8, 2],
                }
            )
            for s in ("train", "test")
        }
    )
    out = ft.tokenize_imdb(data, tokenizer, 16)
    assert (
        "text" not in out["train"].column_names and "label" in out["train"].column_names
    )
    assert [len(i) for i in out["train"]["input_ids"]] == [5, 16]
    rows = [{k: v for k, v in row.items()} for row in out["train"]]
    # a GPU's recipe pads up to a multiple of 64, a CPU's to the longest review
    assert ft.collator(tokenizer, 64)(rows)["input_ids"].shape == (2, 64)
    assert ft.collator(tokenizer, None)(rows)["input_ids"].shape == (2, 16)


def _reviews(n, offset=0):
    from utils.imdb import FEATURES

    return Dataset.from_dict(
        {
            "text": [f"review {offset + i}" for i in range(n)],
            "label": [int(i % 4 == 0) for i in range(n)],  # a quarter positive
        },
        features=FEATURES,
    )


def test_add_validation_draws_unused_training_reviews_and_leaves_test_alone():
    full_train, test = _reviews(400), _reviews(20, offset=1000)
    data = DatasetDict({"train": full_train.select(range(80)), "test": test})
    out = ft.add_validation(data, full_train, seed=1)
    assert list(out) == ["train", "validation", "test"]
    assert out["train"]["text"] == data["train"]["text"]  # the sample keeps its size
    assert len(out["validation"]) == 8 and sum(out["validation"]["label"]) == 2
    assert not set(out["validation"]["text"]) & set(data["train"]["text"])
    assert set(out["validation"]["text"]) <= set(full_train["text"])
    assert out["test"]["text"] == test["text"]  # untouched
    again = ft.add_validation(data, full_train, seed=1)
    assert again["validation"]["text"] == out["validation"]["text"]  # seeded
    with pytest.raises(ValueError):
        ft.add_validation(out, full_train, seed=1)


def test_add_validation_carves_the_whole_split_stratified():
    full_train = _reviews(80)
    data = DatasetDict({"train": full_train, "test": _reviews(20, offset=1000)})
    out = ft.add_validation(data, full_train, seed=1)
    assert (len(out["train"]), len(out["validation"])) == (72, 8)
    assert sum(out["validation"]["label"]) == 2  # the quarter, as in train
    assert not set(out["train"]["text"]) & set(out["validation"]["text"])
    assert set(out["train"]["text"]) | set(out["validation"]["text"]) == set(
        full_train["text"]
    )


def test_training_arguments_follow_the_profile(tmp_path):
    profile = get_profile("smoke")
    args = ft.training_arguments(
        profile, str(tmp_path), {"use_cpu": True}, eval_steps=7
    )
    assert args.learning_rate == profile.learning_rate
    assert args.per_device_train_batch_size == profile.batch_size
    assert args.train_sampling_strategy == "group_by_length" and args.eval_steps == 7
    assert args.save_strategy == "no" and args.use_cpu and not args.disable_tqdm


def test_a_batch_split_for_a_small_gpu_keeps_the_effective_batch(tmp_path):
    profile = get_profile("full").replace(gradient_accumulation_steps=2)
    args = ft.training_arguments(profile, str(tmp_path), {"use_cpu": True})
    assert args.per_device_train_batch_size == profile.batch_size // 2
    assert args.gradient_accumulation_steps == 2


def test_processes_share_the_batch_and_an_uneven_split_is_refused(tmp_path):
    profile = get_profile("smoke")
    args = ft.training_arguments(profile, str(tmp_path), {"use_cpu": True}, processes=4)
    assert args.per_device_train_batch_size * 4 == profile.batch_size
    # the loss is a mean over the batch: not to be multiplied by the processes
    assert not args.average_tokens_across_devices
    with pytest.raises(ValueError, match="multiple of 3"):
        ft.per_process_batch(profile, 3)


def test_metrics_function():
    compute = ft.metrics_function()
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    scores = compute((logits, np.array([0, 1, 1, 1])))
    assert scores["accuracy"] == pytest.approx(0.75) and scores[
        "precision"
    ] == pytest.approx(1.0)
    assert scores["recall"] == pytest.approx(2 / 3) and scores["f1"] == pytest.approx(
        0.8
    )


def test_log_count_ratio_is_naive_bayes():
    from sklearn.naive_bayes import MultinomialNB

    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 3, size=(40, 12)), np.arange(40) % 2
    nb = MultinomialNB(alpha=1.0).fit(X, y)
    np.testing.assert_allclose(
        log_count_ratio(X, y),
        nb.feature_log_prob_[1] - nb.feature_log_prob_[0],
        atol=1e-12,
    )


@pytest.mark.parametrize("cls", [TfidfLogisticRegression, NBLogisticRegression])
def test_baselines_learn_an_easy_split(cls):
    texts = [
        "great wonderful film",
        "awful boring mess",
        "wonderful acting, great",
        "boring and awful",
    ] * 5
    labels = [1, 0, 1, 0] * 5
    model = cls(min_df=1).fit(texts, labels)
    assert list(model.predict(["a great film", "an awful film"])) == [1, 0]


def test_recorded_runs_newest_first(tmp_path):
    for date in ("2026-01-02T00:00:00+00:00", "2026-03-04T00:00:00+00:00"):
        (tmp_path / f"finetune_imdb_full_{date[:10]}.json").write_text(
            json.dumps({"profile": "full", "date": date})
        )
    assert [r["date"][:10] for r in ft.recorded_runs("full", tmp_path)] == [
        "2026-03-04",
        "2026-01-02",
    ]
    assert ft.recorded_runs("smoke", tmp_path) == []


def test_predict_in_order_undoes_the_length_grouping(tmp_path, tokenizer):
    from utils.models import load_classifier, resolve_model

    texts = [
        ("great " * (1 + 7 * i % 50)) if i % 2 else ("awful " * (1 + 5 * i % 40))
        for i in range(40)
    ]
    data = DatasetDict(
        {
            s: Dataset.from_dict({"text": texts, "label": [i % 2 for i in range(40)]})
            for s in ("train", "test")
        }
    )
    tokenized = ft.tokenize_imdb(data, tokenizer, 64)
    args = ft.training_arguments(
        get_profile("smoke"),
        str(tmp_path),
        {"use_cpu": True},
        per_device_eval_batch_size=8,
        disable_tqdm=True,
    )
    model = load_classifier(resolve_model(get_profile("smoke").model))
    trainer = ft.make_trainer(model, args, tokenized, tokenizer)
    assert trainer.eval_dataset is tokenized["test"]  # no validation split: test
    with_validation = DatasetDict({**tokenized, "validation": tokenized["test"]})
    assert (
        ft.make_trainer(model, args, with_validation, tokenizer).eval_dataset
        is with_validation["validation"]
    )
    assert not np.array_equal(
        trainer.predict(tokenized["test"]).label_ids, data["test"]["label"]
    )  # grouped order
    out = ft.predict_in_order(trainer, tokenized["test"])
    assert np.array_equal(out.label_ids, data["test"]["label"])
    lengths = np.array([len(i) for i in tokenized["test"]["input_ids"]])
    assert out.predictions.shape == (40, 2) and lengths.std() > 0


def test_4_accumulated_steps_of_8_train_as_one_batch_of_32(tmp_path, tokenizer):
    """make_trainer's fix: with gradient accumulation, a classifier's loss is each
    step's mean, so Trainer must divide it by the steps. The logged loss and the
    gradients of one optimizer step over 4 x 8 reviews equal those over 32 at once."""
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        TrainerCallback,
    )

    texts = [("great " if i % 2 else "awful ") * (3 + 5 * i % 29) for i in range(32)]
    data = DatasetDict(
        {
            s: Dataset.from_dict({"text": texts, "label": [i % 2 for i in range(32)]})
            for s in ("train", "test")
        }
    )
    tokenized = ft.tokenize_imdb(data, tokenizer, 64)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        num_labels=2,
    )

    class Gradients(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, model=None, **kw):
            self.grads = {
                n: p.grad.detach().clone() for n, p in model.named_parameters()
            }

    def one_step(accumulation):
        torch.manual_seed(0)
        model = BertForSequenceClassification(config)
        profile = get_profile("smoke").replace(
            batch_size=32, gradient_accumulation_steps=accumulation
        )
        args = ft.training_arguments(
            profile,
            str(tmp_path / str(accumulation)),
            {"use_cpu": True},
            max_steps=1,
            logging_steps=1,
            warmup_steps=0,
            max_grad_norm=0.0,  # no clipping: the raw gradients are compared
            eval_strategy="no",
            disable_tqdm=True,
        )
        grads = Gradients()
        trainer = ft.make_trainer(model, args, tokenized, tokenizer, None, [grads])
        trainer.train()
        [loss] = [h["loss"] for h in trainer.state.log_history if "loss" in h]
        return loss, grads.grads

    loss_32, grads_32 = one_step(1)
    loss_4x8, grads_4x8 = one_step(4)
    assert loss_4x8 == pytest.approx(loss_32, rel=1e-5)
    assert grads_32.keys() == grads_4x8.keys()
    for name, grad in grads_32.items():
        torch.testing.assert_close(grads_4x8[name], grad, rtol=1e-4, atol=1e-6)
