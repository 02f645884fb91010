"""IMDb: from IMDB_PATH (tarball, folder, JSONL), else the Hub, else a clear error;
balanced samples."""

import json
import lzma
import os
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from types import SimpleNamespace

from tests.conftest import write_tarball
from utils import cache
from utils.imdb import (
    FEATURES,
    ImdbFormatError,
    clean_review,
    load_imdb,
    load_imdb_full,
    read_imdb_path,
)
from utils.profiles import get_profile


def test_reads_the_stanford_tarball(tiny_tarball):
    data = read_imdb_path(tiny_tarball)
    assert data["train"].num_rows == 6 and data["test"].num_rows == 4
    assert data["train"].features["label"].names == ["neg", "pos"]
    row = data["train"][data["train"]["text"].index("Good fun\twith a tab inside.")]
    assert row["label"] == 1 and row["rating"] == 7


def test_the_tarball_is_parsed_once_then_read_from_the_cache(tiny_tarball, own_cache):
    read_imdb_path(tiny_tarball)
    cached = list((own_cache / "imdb").iterdir())
    assert len(cached) == 1 and cache.is_complete(cached[0])
    (cached[0] / "marker").write_text("still here")
    assert read_imdb_path(tiny_tarball)["test"].num_rows == 4
    assert (cached[0] / "marker").exists()


def test_a_changed_archive_is_parsed_again(tiny_tarball, own_cache):
    read_imdb_path(tiny_tarball)
    write_tarball(tiny_tarball, reviews=many_reviews(3))
    assert read_imdb_path(tiny_tarball)["test"].num_rows == 6
    assert len(list((own_cache / "imdb").iterdir())) == 2


def test_reads_an_unpacked_folder_or_its_parent(tiny_tarball, tmp_path):
    with tarfile.open(tiny_tarball) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    from_parent = read_imdb_path(tmp_path / "unpacked")
    from_folder = read_imdb_path(tmp_path / "unpacked" / "aclImdb")
    assert (
        from_parent["train"]["text"]
        == from_folder["train"]["text"]
        == read_imdb_path(tiny_tarball)["train"]["text"]
    )


def test_reads_jsonl_xz(tmp_path):
    rows = [
        {"split": s, "label": l, "rating": 8 if l else 2, "text": f"{s} {l} {i}"}
        for s in ("train", "test")
        for l in (0, 1)
        for i in range(2)
    ]
    path = tmp_path / "imdb.jsonl.xz"
    with lzma.open(path, "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    data = read_imdb_path(path)
    assert data["train"].num_rows == 4 and Counter(data["test"]["label"]) == {
        0: 2,
        1: 2,
    }


def test_a_bad_jsonl_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps({"split": "train", "label": 1, "rating": 9, "text": "ok"})
        + "\n{not json\n"
    )
    with pytest.raises(ImdbFormatError, match=r"bad.jsonl:2: not a review record"):
        read_imdb_path(path)


def test_a_misnamed_review_file_is_an_error_not_a_skip(tmp_path):
    path = write_tarball(
        tmp_path / "a.tar.gz", extra={"aclImdb/train/pos/review.txt": "Nice."}
    )
    with pytest.raises(
        ImdbFormatError,
        match=r"aclImdb/train/pos/review.txt: "
        r"a review file must be named <id>_<rating>.txt",
    ):
        read_imdb_path(path)


def test_a_rating_in_the_wrong_folder_is_an_error(tmp_path):
    path = write_tarball(
        tmp_path / "a.tar.gz", extra={"aclImdb/test/pos/99_3.txt": "Hmm."}
    )
    with pytest.raises(
        ImdbFormatError, match=r"99_3.txt: rating 3 does not fit folder 'pos'"
    ):
        read_imdb_path(path)


def test_a_split_without_both_labels_is_an_error(tmp_path):
    reviews = {
        ("train", "pos"): [(0, 9, "Good.")],
        ("test", "pos"): [(1, 9, "Good.")],
        ("test", "neg"): [(2, 1, "Bad.")],
    }
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


def many_reviews(per_label: int) -> dict:
    """A label-sorted archive, as Stanford's and the Hub's are, with <br /> in every
    text."""
    rows, next_id = {}, 0
    for split in ("train", "test"):
        for folder, rating in (("neg", 2), ("pos", 9)):
            rows[split, folder] = [
                (
                    next_id + i,
                    rating,
                    f"{folder} review {next_id + i}.<br /><br />The end.",
                )
                for i in range(per_label)
            ]
            next_id += per_label
    return rows


def _setup(seed=42):
    return SimpleNamespace(profile=get_profile("smoke"), seed=seed)


@pytest.fixture
def sorted_archive(tmp_path, monkeypatch):
    path = write_tarball(tmp_path / "sorted.tar.gz", reviews=many_reviews(20))
    monkeypatch.setenv("IMDB_PATH", str(path))
    return path


def test_the_contract_is_text_and_a_named_label_with_clean_text(sorted_archive):
    data = load_imdb(_setup(), None, None, verbose=False)
    assert data["train"].features == FEATURES
    assert data["train"].features["label"].names == ["neg", "pos"]
    assert not any("<br" in text for split in data.values() for text in split["text"])
    assert "review" in data["test"][0]["text"] and ".  " not in data["test"][0]["text"]


def test_clean_review_turns_html_breaks_into_single_spaces():
    assert clean_review("Good.<br /><br />Bad.<BR>Ugly.<br/>") == "Good. Bad. Ugly."


def test_the_whole_split_comes_shuffled_not_sorted_by_label(sorted_archive):
    test = load_imdb(_setup(), None, None, verbose=False)["test"]
    assert Counter(test["label"]) == {0: 20, 1: 20}
    first_half = test["label"][:20]
    assert 5 <= sum(first_half) <= 15, "a prefix of the split must hold both labels"


def test_samples_are_stratified_seeded_and_shuffled(sorted_archive):
    a = load_imdb(_setup(1), 10, 8, verbose=False)
    b = load_imdb(_setup(1), 10, 8, verbose=False)
    c = load_imdb(_setup(2), 10, 8, verbose=False)
    assert a["train"]["text"] == b["train"]["text"] != c["train"]["text"]
    assert Counter(a["train"]["label"]) == {0: 5, 1: 5}
    assert Counter(a["test"]["label"]) == {0: 4, 1: 4}
    assert a["train"]["label"] != sorted(a["train"]["label"])


def test_asking_for_more_reviews_than_exist_is_an_error(sorted_archive):
    with pytest.raises(ValueError, match="asked for 99 reviews, but the split has 40"):
        load_imdb(_setup(), 99, None, verbose=False)


def test_load_imdb_says_what_it_loaded_without_a_path(sorted_archive, capsys):
    load_imdb(_setup(), train_size=4, test_size=None)
    out = capsys.readouterr().out
    assert out.startswith(
        "IMDb: 4 of the 40 train and all 40 test reviews from Stanford's"
    )
    assert (
        str(sorted_archive) not in out
    )  # no machine path leaks into what a page prints


@pytest.mark.parametrize("form", ["tarball", "folder", "jsonl.xz"])
def test_every_local_form_gives_the_same_reviews(form, tmp_path, monkeypatch):
    path = write_tarball(tmp_path / "a.tar.gz", reviews=many_reviews(6))
    if form == "folder":
        with tarfile.open(path) as tar:
            tar.extractall(tmp_path / "unpacked", filter="data")
        path = tmp_path / "unpacked"
    elif form == "jsonl.xz":
        raw = read_imdb_path(path)
        path = tmp_path / "imdb.jsonl.xz"
        with lzma.open(path, "wt") as f:
            for split in ("train", "test"):
                for row in raw[split]:
                    f.write(json.dumps({"split": split, **row}) + "\n")
    monkeypatch.setenv("IMDB_PATH", str(path))
    data = load_imdb(_setup(), None, None, verbose=False)
    monkeypatch.setenv("IMDB_PATH", str(tmp_path / "a.tar.gz"))
    reference = load_imdb(_setup(), None, None, verbose=False)
    for split in ("train", "test"):
        assert data[split].features == FEATURES
        assert sorted(data[split]["text"]) == sorted(reference[split]["text"])


@pytest.fixture(scope="module")
def real_imdb():
    path = os.environ.get("IMDB_PATH")
    if not path:
        pytest.skip(
            "IMDB_PATH is not set (.ci/run sets it to the real aclImdb_v1.tar.gz)"
        )
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


HUB_LOAD = """
import json, sys
from types import SimpleNamespace
from utils.imdb import FEATURES, load_imdb
from utils.profiles import get_profile
data = load_imdb(SimpleNamespace(profile=get_profile("smoke"), seed=42), None, 10)
json.dump({"splits": sorted(data), "features": str(data["train"].features),
           "contract": str(FEATURES),
           **{s: {"labels": list(data[s]["label"]), "texts": list(data[s]["text"])}
              for s in data}}, sys.stdout)
"""


def test_the_hub_source_keeps_the_same_contract(tmp_path):
    """stanfordnlp/imdb through datasets' own offline cache code: Hub schema,
    unsupervised split and label-sorted order go in; the book's contract comes out."""
    from tests import hub_stand_ins

    rows = {
        split: [
            (f"{split} {label} {i}.<br /><br />Fin.", label)
            for label in (1, 0)
            for i in range(20)
        ]
        for split in ("train", "test")
    }
    rows["unsupervised"] = [("no label", -1)] * 4
    hub_stand_ins.write_imdb_dataset_cache(
        tmp_path / "hf", rows
    )  # stored sorted by label
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("IMDB_PATH", "HF_DATASETS_CACHE")
    }
    env.update(
        HF_HOME=str(tmp_path / "hf"),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        BOOK_CACHE=str(tmp_path / "cache"),
    )
    done = subprocess.run(
        [sys.executable, "-c", HUB_LOAD],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    said, printed = done.stdout.splitlines()
    assert said.startswith(
        "IMDb: all 40 train and 10 of the 40 test reviews from the "
        "Hugging Face Hub's stanfordnlp/imdb"
    )
    out = json.loads(printed)
    assert out["splits"] == ["test", "train"] and out["features"] == out["contract"]
    assert Counter(out["train"]["labels"]) == {0: 20, 1: 20}
    assert 5 <= sum(out["train"]["labels"][:20]) <= 15, "the whole split comes shuffled"
    assert Counter(out["test"]["labels"]) == {0: 5, 1: 5}
    assert not any("<br" in t for s in ("train", "test") for t in out[s]["texts"])
