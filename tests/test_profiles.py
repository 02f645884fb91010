"""Profiles: one object holds every size; setup_chapter resolves it once and passes it
on."""

import dataclasses

import pytest
import torch

from utils.environment import resolve_profile
from utils.profiles import PROFILES, get_profile, parse_overrides

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_smoke_is_the_default_without_a_gpu():
    assert resolve_profile(None, CPU).name == "smoke"


def test_full_is_the_default_with_a_cuda_gpu():
    assert resolve_profile(None, CUDA).name == "full"


def test_book_profile_overrides_the_hardware(monkeypatch):
    monkeypatch.setenv("BOOK_PROFILE", "smoke")
    assert resolve_profile(None, CUDA).name == "smoke"


def test_the_argument_overrides_book_profile(monkeypatch):
    monkeypatch.setenv("BOOK_PROFILE", "smoke")
    assert resolve_profile("full", CPU).name == "full"


def test_an_unknown_profile_names_the_known_ones():
    with pytest.raises(ValueError, match="full, smoke"):
        get_profile("huge")


def test_book_model_and_overrides_change_the_resolved_profile(monkeypatch):
    monkeypatch.setenv("BOOK_MODEL", "my/model")
    monkeypatch.setenv(
        "BOOK_PROFILE_OVERRIDES", "epochs=1; train_size=None; truncation=head"
    )
    profile = resolve_profile("full", CPU)
    assert (profile.model, profile.epochs, profile.train_size) == ("my/model", 1, None)
    assert profile.truncation == "head" and profile.is_changed
    assert set(profile.changed) == {"model", "epochs", "train_size", "truncation"}
    assert not get_profile("full").is_changed


def test_a_bad_override_names_the_fields():
    with pytest.raises(ValueError, match="BOOK_PROFILE_OVERRIDES.*batch_size"):
        parse_overrides("epochz=3")
    assert parse_overrides("tiny_finetune_learning_rates=(1e-3, 3e-3)") == {
        "tiny_finetune_learning_rates": (1e-3, 3e-3)
    }


def test_both_profiles_set_every_size():
    for profile in PROFILES.values():
        for field in dataclasses.fields(profile):
            value = getattr(profile, field.name)
            # None is allowed only for "the whole split"
            whole_split = ("train_size", "test_size", "pretrain_texts")
            assert value is not None or field.name in whole_split, (
                profile.name,
                field.name,
            )


def test_full_uses_bert_base_and_all_of_imdb():
    full = get_profile("full")
    assert full.model == "bert-base-uncased"
    assert full.train_size is None and full.test_size is None


def test_smoke_is_smaller_than_full_everywhere_it_counts():
    smoke, full = get_profile("smoke"), get_profile("full")
    assert smoke.max_length < full.max_length
    assert smoke.train_size < 25_000 and smoke.test_size >= 1_000
    assert full.pretrain_texts is None and smoke.pretrain_texts < 25_000


def test_replace_gives_a_changed_copy_that_knows_it_changed():
    smoke = get_profile("smoke")
    small = smoke.replace(train_size=10)
    assert small.train_size == 10 and smoke.train_size != 10
    assert small.changed == ("train_size",) and small.is_changed


def test_gradient_accumulation_alone_keeps_the_experiment():
    fitted = get_profile("full").replace(gradient_accumulation_steps=2)
    assert fitted.per_device_batch_size == 16 and not fitted.is_changed
