"""What every test runs under, and fixtures for the utils tests: a small IMDb archive
in Stanford's layout, and a clean environment per test.

The settings below are made when pytest loads this file, before any test module imports
the Hugging Face libraries (they read them at import), and they hold for the chapters
that nbval executes too (their kernels inherit them). ``make test`` sets the same.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK_VARIABLES = (
    "BOOK_PROFILE",
    "BOOK_MODEL",
    "BOOK_PRECISION",
    "BOOK_PROFILE_OVERRIDES",
)

# Offline, whatever the machine can reach: the stand-ins and the packaged model are what
# the tests check, so the Hub must not answer instead (online, `evaluate.load` and the
# model lookups would take another path). The smoke profile, whatever the hardware (a
# GPU would pick `full`); no book variable from the machine; figures without a display.
for _name in (
    *BOOK_VARIABLES,
    "HF_DATASETS_CACHE",
    "HF_HUB_CACHE",
    "TRANSFORMERS_CACHE",
):
    os.environ.pop(_name, None)
os.environ.update(
    BOOK_PROFILE="smoke",
    HF_HUB_OFFLINE="1",
    HF_DATASETS_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
    MPLBACKEND="Agg",
)
SESSION_DIR = Path(tempfile.mkdtemp(prefix="book-tests-"))
# The machine's Hugging Face caches stay out of it: a cached bert-base-uncased would
# replace the stand-in that the tests expect.
os.environ["HF_HOME"] = str(SESSION_DIR / "hf")
# One book cache for the test run (unless one is given, as .ci/run does): the chapters
# under nbval and every test that reads the real archive share it, so IMDb is parsed
# from the archive once per run.
os.environ.setdefault("BOOK_CACHE", str(SESSION_DIR / "book-cache"))
SESSION_IMDB = Path(os.environ["BOOK_CACHE"]) / "imdb"
SESSION_IMDB.mkdir(parents=True, exist_ok=True)
# The archive, where the README says to put it, unless IMDB_PATH names one.
if not os.environ.get("IMDB_PATH"):
    for _place in ("data/aclImdb_v1.tar.gz", "../shared/data/aclImdb_v1.tar.gz"):
        if (ROOT / _place).is_file():
            os.environ["IMDB_PATH"] = str((ROOT / _place).resolve())
            break


def pytest_unconfigure(config):
    shutil.rmtree(SESSION_DIR, ignore_errors=True)


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
    """Each test starts with no book variable set but ``IMDB_PATH`` (which tests that
    run chapter code need; tests of its absence remove it themselves), and with its own
    book cache, whose parsed IMDb entries are the run's (``own_cache`` for a test that
    inspects them)."""
    for name in BOOK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "imdb").symlink_to(SESSION_IMDB, target_is_directory=True)
    monkeypatch.setenv("BOOK_CACHE", str(cache))


@pytest.fixture
def own_cache(monkeypatch, tmp_path) -> Path:
    """A book cache of the test's own, IMDb entries included."""
    cache = tmp_path / "own-cache"
    monkeypatch.setenv("BOOK_CACHE", str(cache))
    return cache
