"""IMDb: from IMDB_PATH (tarball, folder, JSONL), else the Hub, else a clear error; balanced samples."""
import json
import lzma
import os
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import write_tarball
from utils.imdb import ImdbFormatError, load_imdb, load_imdb_full, read_imdb_path, subsample_balanced


def test_reads_the_stanford_tarball(tiny_tarball):
    data = read_imdb_path(tiny_tarball)
    assert data["train"].num_rows == 6 and data["test"].num_rows == 4
    assert data["train"].features["label"].names == ["neg", "pos"]
    row = data["train"][data["train"]["text"].index("Good fun\twith a tab inside.")]
    assert row["label"] == 1 and row["rating"] == 7


def test_the_tarball_is_parsed_once_then_read_from_the_cache(tiny_tarball, tmp_path):
    read_imdb_path(tiny_tarball)
    cached = list((tmp_path / "cache").glob("imdb-*"))
    assert len(cached) == 1
    (cached[0] / "marker").write_text("still here")
    assert read_imdb_path(tiny_tarball)["test"].num_rows == 4
    assert (cached[0] / "marker").exists()


def test_reads_an_unpacked_folder_or_its_parent(tiny_tarball, tmp_path):
    with tarfile.open(tiny_tarball) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    from_parent = read_imdb_path(tmp_path / "unpacked")
    from_folder = read_imdb_path(tmp_path / "unpacked" / "aclImdb")
    assert from_parent["train"]["text"] == from_folder["train"]["text"] == read_imdb_path(tiny_tarball)["train"]["text"]


def test_reads_jsonl_xz(tmp_path):
    rows = [{"split": s, "label": l, "rating": 8 if l else 2, "text": f"{s} {l} {i}"}
            for s in ("train", "test") for l in (0, 1) for i in range(2)]
    path = tmp_path / "imdb.jsonl.xz"
    with lzma.open(path, "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    data = read_imdb_path(path)
    assert data["train"].num_rows == 4 and Counter(data["test"]["label"]) == {0: 2, 1: 2}


def test_a_bad_jsonl_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"split": "train", "label": 1, "rating": 9, "text": "ok"}) + "\n{not json\n")
    with pytest.raises(ImdbFormatError, match=r"bad.jsonl:2: not a review record"):
        read_imdb_path(path)


def test_a_misnamed_review_file_is_an_error_not_a_skip(tmp_path):
    path = write_tarball(tmp_path / "a.tar.gz", extra={"aclImdb/train/pos/review.txt": "Nice."})
    with pytest.raises(ImdbFormatError, match=r"aclImdb/train/pos/review.txt: a review file must be named <id>_<rating>.txt"):
        read_imdb_path(path)


def test_a_rating_in_the_wrong_folder_is_an_error(tmp_path):
    path = write_tarball(tmp_path / "a.tar.gz", extra={"aclImdb/test/pos/99_3.txt": "Hmm."})
    with pytest.raises(ImdbFormatError, match=r"99_3.txt: rating 3 does not fit folder 'pos'"):
        read_imdb_path(path)


def test_a_split_without_both_labels_is_an_error(tmp_path):
    reviews = {("train", "pos"): [(0, 9, "Good.")], ("test", "pos"): [(1, 9, "Good.")],
               ("test", "neg"): [(2, 1, "Bad.")]}
    path = write_tarball(tmp_path / "a.tar.gz", reviews=reviews)
    with pytest.raises(ImdbFormatError, match="train split has 0 neg and 1 pos"):
        read_imdb_path(path)


def test_a_missing_path_says_how_to_get_the_data(tmp_path):
    with pytest.raises(ImdbFormatError, match="does not exist.*aclImdb_v1.tar.gz"):
        read_imdb_path(tmp_path / "nowhere.tar.gz")


def test_without_imdb_path_and_offline_the_error_names_both_ways(monkeypatch):
    monkeypatch.delenv("IMDB_PATH", raising=False)
    with pytest.raises(FileNotFoundError, match="IMDB_PATH.*stanfordnlp/imdb"):
        load_imdb_full()


def test_load_imdb_uses_imdb_path_and_the_requested_sizes(tiny_tarball, monkeypatch, capsys):
    monkeypatch.setenv("IMDB_PATH", str(tiny_tarball))
    data = load_imdb(train_size=4, test_size=2)
    assert Counter(data["train"]["label"]) == {0: 2, 1: 2}
    assert Counter(data["test"]["label"]) == {0: 1, 1: 1}
    assert "IMDb from IMDB_PATH: 4 train / 2 test reviews" in capsys.readouterr().out
    assert str(tiny_tarball) not in str(data)  # no machine path leaks into what a page prints


def test_balanced_subsamples_are_seeded(tiny_tarball):
    train = read_imdb_path(tiny_tarball)["train"]
    a, b = subsample_balanced(train, 4, seed=1), subsample_balanced(train, 4, seed=1)
    assert a["text"] == b["text"]
    assert Counter(a["label"]) == {0: 2, 1: 2}
    assert subsample_balanced(train, None) is train
    lopsided = train.select([i for i, label in enumerate(train["label"]) if label == 1] + [train["label"].index(0)])
    with pytest.raises(ValueError, match="2 reviews of label 0, but only 1 exist"):
        subsample_balanced(lopsided, 3)




@pytest.fixture(scope="module")
def real_imdb():
    path = os.environ.get("IMDB_PATH")
    if not path:
        pytest.skip("IMDB_PATH is not set (.ci/run sets it to the real aclImdb_v1.tar.gz)")
    return read_imdb_path(Path(path))


def test_the_real_imdb_has_50000_balanced_reviews(real_imdb):
    for split in ("train", "test"):
        assert real_imdb[split].num_rows == 25_000
        assert Counter(real_imdb[split]["label"]) == {0: 12_500, 1: 12_500}


def test_the_real_imdb_ratings_match_the_release(real_imdb):
    # per-folder rating counts of the original release (see the data's README)
    train = real_imdb["train"]
    counts = Counter(zip(train["label"], train["rating"]))
    assert [counts[(1, r)] for r in (7, 8, 9, 10)] == [2496, 3009, 2263, 4732]
    assert [counts[(0, r)] for r in (1, 2, 3, 4)] == [5100, 2284, 2420, 2696]
