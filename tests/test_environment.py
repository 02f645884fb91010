"""Device, precision, Hub and the one-line chapter setup."""
import sys

import pytest
import torch

from utils import environment
from utils.environment import hub_reachable, pick_device, pick_precision, setup_chapter


def test_device_order_is_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device().type == "cpu"


@pytest.mark.parametrize("bf16_supported, expected", [(True, {"bf16": True}), (False, {"fp16": True})])
def test_gpus_get_bf16_where_they_have_it_else_fp16(monkeypatch, bf16_supported, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_supported)
    assert pick_precision(torch.device("cuda")) == expected


@pytest.mark.parametrize("fast, expected", [(True, {"use_cpu": True, "bf16": True}), (False, {"use_cpu": True})])
def test_cpus_get_bf16_only_with_native_support(monkeypatch, fast, expected):
    monkeypatch.setattr(environment, "cpu_has_fast_bf16", lambda: fast)
    assert pick_precision(torch.device("cpu")) == expected


def test_mps_stays_in_fp32():
    assert pick_precision(torch.device("mps")) == {}


def test_book_precision_overrides_and_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("BOOK_PRECISION", "fp32")
    assert pick_precision(torch.device("cuda")) == {}
    assert pick_precision(torch.device("cpu")) == {"use_cpu": True}
    monkeypatch.setenv("BOOK_PRECISION", "int3")
    with pytest.raises(ValueError, match="fp32, bf16 or fp16"):
        pick_precision(torch.device("cpu"))


def test_precision_args_are_accepted_by_training_arguments(tmp_path, monkeypatch):
    from transformers import TrainingArguments

    monkeypatch.setattr(environment, "cpu_has_fast_bf16", lambda: True)
    args = TrainingArguments(output_dir=str(tmp_path), **pick_precision(torch.device("cpu")))
    assert args.bf16 and args.use_cpu


def test_the_hub_is_off_when_hf_hub_offline_is_set():
    assert hub_reachable() is False


def test_setup_prints_one_line_and_seeds(capsys):
    first = setup_chapter(seed=7)
    a = torch.rand(3)
    setup_chapter(seed=7)
    b = torch.rand(3)
    lines = capsys.readouterr().out.strip().splitlines()
    assert torch.equal(a, b)
    assert len(lines) == 2 and lines[0] == lines[1]
    assert "device: cpu" in lines[0] and "profile: smoke" in lines[0] and "hub: offline" in lines[0]
    assert first.precision in ("bf16", "fp32") and first.profile.name == "smoke"


def test_colab_without_gpu_says_how_to_switch_it_on(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", object())
    setup_chapter()
    assert "Runtime > Change runtime type" in capsys.readouterr().out
