"""Profiles: one object holds every size; BOOK_PROFILE chooses, else the hardware does."""
import dataclasses

import pytest
import torch

from utils.profiles import PROFILES, get_profile


def test_smoke_is_the_default_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_profile().name == "smoke"


def test_full_is_the_default_with_a_cuda_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_profile().name == "full"


def test_book_profile_overrides_the_hardware(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("BOOK_PROFILE", "smoke")
    assert get_profile().name == "smoke"


def test_an_unknown_profile_names_the_known_ones(monkeypatch):
    monkeypatch.setenv("BOOK_PROFILE", "huge")
    with pytest.raises(ValueError, match="full, smoke"):
        get_profile()


def test_both_profiles_set_every_size():
    for profile in PROFILES.values():
        for field in dataclasses.fields(profile):
            value = getattr(profile, field.name)
            # None is allowed only for "the whole split"
            assert value is not None or field.name in ("train_size", "test_size"), (profile.name, field.name)


def test_full_uses_bert_base_and_all_of_imdb():
    full = get_profile("full")
    assert full.model == "bert-base-uncased"
    assert full.train_size is None and full.test_size is None


def test_smoke_is_smaller_than_full_everywhere_it_counts():
    smoke, full = get_profile("smoke"), get_profile("full")
    assert smoke.max_length < full.max_length
    assert smoke.train_size < 25_000 and smoke.test_size >= 1_000
    assert smoke.pretrain_texts <= full.pretrain_texts


def test_replace_gives_a_changed_copy():
    smoke = get_profile("smoke")
    small = smoke.replace(train_size=10)
    assert small.train_size == 10 and smoke.train_size != 10
