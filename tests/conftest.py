"""Fixtures for the utils tests: a small IMDb archive in Stanford's layout, and a clean
environment."""

from __future__ import annotations

import io
import tarfile

import pytest

# A handful of reviews per split and label: (id, rating, text)
TINY_REVIEWS = {
    ("train", "pos"): [
        (0, 9, "A wonderful film."),
        (1, 7, "Good fun\twith a tab inside."),
        (2, 10, "Loved it."),
    ],
    ("train", "neg"): [
        (3, 1, "Dreadful."),
        (4, 4, "Not worth it."),
        (5, 2, "Boring and long."),
    ],
    ("test", "pos"): [(6, 8, "Great acting."), (7, 10, "A masterpiece.")],
    ("test", "neg"): [(8, 3, "Weak plot."), (9, 1, "Awful.")],
}


def write_tarball(path, reviews=TINY_REVIEWS, extra: dict[str, str] | None = None):
    """An aclImdb_v1.tar.gz look-alike; ``extra`` adds members by name (to plant bad
    input)."""
    members = {
        f"aclImdb/{split}/{label}/{rid}_{rating}.txt": text
        for (split, label), rows in reviews.items()
        for rid, rating, text in rows
    }
    members["aclImdb/README"] = "Large Movie Review Dataset"
    members["aclImdb/imdb.vocab"] = "the\nand\n"
    members.update(extra or {})
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def tiny_tarball(tmp_path):
    return write_tarball(tmp_path / "aclImdb_v1.tar.gz")


@pytest.fixture(autouse=True)
def book_env(monkeypatch, tmp_path):
    """Each test starts offline, with its own data cache and no book variables set but
    IMDB_PATH (which tests that run chapter code need; tests of its absence remove it
    themselves)."""
    for name in (
        "BOOK_PROFILE",
        "BOOK_MODEL",
        "BOOK_PRECISION",
        "BOOK_PROFILE_OVERRIDES",
    ):
        monkeypatch.delenv(name, raising=False)
    # the Hugging Face libraries read these at import; .ci/run and the Makefile export
    # them too, so that the process is offline from the start
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("BOOK_CACHE", str(tmp_path / "cache"))
