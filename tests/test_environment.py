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
        full, resolve_model(full.model), torch.device("cuda"), "bf16"
    )
    assert fitted.gradient_accumulation_steps > 1
    assert fitted.per_device_batch_size * fitted.gradient_accumulation_steps == 32
    assert "batches of 32 run as" in capsys.readouterr().out
    monkeypatch.setattr(environment, "gpu_memory_bytes", lambda device: 80 * 2**30)
    assert (
        environment.fit_to_gpu(full, resolve_model(full.model), torch.device("cuda"))
        is full
    )


# --- the batch fitted to a GPU, in the precision it trains in -----------------------

T4 = 15_095 * 2**20  # what torch reports for Colab's T4
GPU_80GB = 81_559 * 2**20


@pytest.fixture(scope="module")
def bert_base_shaped(tmp_path_factory):
    """A model folder with BERT-base's configuration (no weights are needed to fit)."""
    from transformers import BertConfig

    from utils.models import resolve_model

    folder = tmp_path_factory.mktemp("bert-base-shaped")
    BertConfig().save_pretrained(folder)  # bert-base-uncased's sizes
    return resolve_model(str(folder))


@pytest.mark.parametrize(
    "memory, precision, per_device",
    [
        (T4, "fp16", 32),
        (T4, "fp32", 16),
        (GPU_80GB, "fp16", 32),
        (GPU_80GB, "fp32", 32),
    ],
)
def test_bert_base_at_512_tokens_fits_the_gpu_in_its_precision(
    monkeypatch, bert_base_shaped, memory, precision, per_device
):
    monkeypatch.setattr(environment, "gpu_memory_bytes", lambda device: memory)
    full = environment.get_profile("full")  # batches of 32 at 512 tokens
    fitted = environment.fit_to_gpu(
        full, bert_base_shaped, torch.device("cuda"), precision
    )
    assert fitted.per_device_batch_size == per_device
    assert fitted.batch_size == 32  # what the model learns from stays


def test_an_explicit_accumulation_is_kept_on_a_gpu(monkeypatch, bert_base_shaped):
    monkeypatch.setattr(environment, "gpu_memory_bytes", lambda device: T4)
    chosen = environment.get_profile("full").replace(gradient_accumulation_steps=4)
    fitted = environment.fit_to_gpu(
        chosen, bert_base_shaped, torch.device("cuda"), "fp32"
    )
    assert fitted.gradient_accumulation_steps == 4 and fitted.per_device_batch_size == 8


@pytest.mark.parametrize("forced, per_device", [(None, 32), ("fp32", 16)])
def test_setup_fits_the_batch_after_picking_the_precision(
    monkeypatch, capsys, bert_base_shaped, forced, per_device
):
    """A T4 as setup_chapter sees it: fp16 by default, fp32 when BOOK_PRECISION says;
    the per-device batch follows the precision."""
    monkeypatch.setattr(environment, "pick_device", lambda: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: (7, 5))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Tesla T4")
    monkeypatch.setattr(environment, "gpu_memory_bytes", lambda device: T4)
    monkeypatch.setenv("BOOK_MODEL", bert_base_shaped.source)
    if forced:
        monkeypatch.setenv("BOOK_PRECISION", forced)
    setup = setup_chapter(profile="full")
    assert setup.precision == (forced or "fp16")
    assert setup.profile.per_device_batch_size == per_device
    assert setup.recipe.pad_to_multiple_of == 64  # tensor-core shapes on a GPU
