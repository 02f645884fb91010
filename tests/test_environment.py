"""The one-line chapter setup: it resolves device, precision, profile and model once."""

import sys

import pytest
import torch

from utils import environment
from utils.environment import setup_chapter


def test_setup_prints_what_it_resolved_and_seeds(capsys):
    first = setup_chapter(seed=7, profile="smoke")
    a = torch.rand(3)
    setup_chapter(seed=7, profile="smoke")
    b = torch.rand(3)
    out = capsys.readouterr().out.strip().splitlines()
    assert torch.equal(a, b)
    assert len(out) == 4 and out[:2] == out[2:]
    assert out[0].startswith("Running on ") and "profile smoke" in out[0]
    assert "model all-MiniLM-L6-v2" in out[0] and out[1].startswith("torch ")
    assert first.precision in ("bf16", "fp16", "fp32") and first.profile.name == "smoke"


def test_the_loaders_get_what_setup_resolved(monkeypatch, capsys):
    setup = setup_chapter(profile="full")
    assert setup.profile.name == "full" and setup.model.requested == "bert-base-uncased"
    # offline, with no cached bert-base-uncased, the packaged MiniLM stands in, said
    # once
    assert "stands in for it" in capsys.readouterr().out


def test_book_precision_is_read_by_setup_and_passed_down(monkeypatch):
    monkeypatch.setenv("BOOK_PRECISION", "fp32")
    assert not {"bf16", "fp16"} & set(setup_chapter(profile="smoke").precision_args)


def test_expect_asserts_goals_in_the_named_profile_only(capsys):
    setup = setup_chapter(profile="smoke")
    setup.expect(True, "fine")
    with pytest.raises(AssertionError, match="accuracy of at least 82%"):
        setup.expect(False, "accuracy of at least 82%")
    setup.profile = setup.profile.replace(epochs=0.1)
    setup.expect(False, "accuracy of at least 82%")
    assert "Not reached with the changed profile: accuracy" in capsys.readouterr().out


def test_colab_without_gpu_says_how_to_switch_it_on(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", object())
    monkeypatch.setattr(environment, "pick_device", lambda: torch.device("cpu"))
    setup_chapter()
    assert "Runtime > Change runtime type" in capsys.readouterr().out


def test_on_a_small_gpu_the_batch_is_split_and_said(monkeypatch, capsys):
    from utils.models import resolve_model

    # offline the model is MiniLM (6 layers, width 384): a 4 GiB card cannot hold 32 x
    # 512
    monkeypatch.setattr(environment, "gpu_memory_bytes", lambda device: 4 * 2**30)
    full = environment.get_profile("full")
    fitted = environment.fit_to_gpu(
        full, resolve_model(full.model), torch.device("cuda")
    )
    assert fitted.gradient_accumulation_steps > 1
    assert fitted.per_device_batch_size * fitted.gradient_accumulation_steps == 32
    assert "batches of 32 run as" in capsys.readouterr().out
    monkeypatch.setattr(environment, "gpu_memory_bytes", lambda device: 80 * 2**30)
    assert (
        environment.fit_to_gpu(full, resolve_model(full.model), torch.device("cuda"))
        is full
    )
