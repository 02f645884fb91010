"""The IMDb Large Movie Review Dataset (Maas et al., 2011) as a ``datasets.DatasetDict``.

Sources, in order:
1. ``IMDB_PATH``: Stanford's ``aclImdb_v1.tar.gz`` (read once, then cached as Arrow), an unpacked
   ``aclImdb/`` folder (or the folder holding it), or a ``.jsonl[.xz]`` file with
   ``split``/``label``/``rating``/``text`` fields;
2. the Hugging Face Hub (``stanfordnlp/imdb``);
3. otherwise an error naming both ways to get the data.
"""
from __future__ import annotations

import hashlib
import json
import lzma
import os
import re
import tarfile
from pathlib import Path

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value, load_from_disk

from utils.environment import hub_reachable
from utils.profiles import get_profile

HUB_ID = "stanfordnlp/imdb"
SPLITS = ("train", "test")
LABEL_NAMES = ["neg", "pos"]
FEATURES = Features({"text": Value("string"), "label": ClassLabel(names=LABEL_NAMES), "rating": Value("int8")})
# aclImdb/<split>/<pos|neg>/<id>_<rating>.txt; anything else under a split's pos/neg folder is an error
REVIEW_DIR = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/([^/]+)$")
REVIEW_FILE = re.compile(r"(\d+)_(\d+)\.txt")
HOW_TO_GET = (
    "Set IMDB_PATH to Stanford's aclImdb_v1.tar.gz (https://ai.stanford.edu/~amaas/data/sentiment/) "
    "or to its unpacked aclImdb/ folder, or go online so that datasets.load_dataset('stanfordnlp/imdb') works."
)


class ImdbFormatError(ValueError):
    """The IMDb source does not have the expected layout; the message names the file and the fix."""


def cache_dir() -> Path:
    return Path(os.environ.get("BOOK_CACHE", Path.home() / ".cache" / "pretrained-lm-book"))


def _review(split: str, folder: str, name: str, where: str, text: str) -> tuple[str, dict]:
    match = REVIEW_FILE.fullmatch(name)
    if not match:
        raise ImdbFormatError(f"{where}: a review file must be named <id>_<rating>.txt")
    review_id, rating = int(match[1]), int(match[2])
    label = LABEL_NAMES.index(folder)
    if (label == 1 and rating < 7) or (label == 0 and rating > 4) or not 1 <= rating <= 10:
        raise ImdbFormatError(f"{where}: rating {rating} does not fit folder '{folder}' (neg: 1-4, pos: 7-10)")
    if not text.strip():
        raise ImdbFormatError(f"{where}: the review is empty")
    return split, {"id": review_id, "text": text, "label": label, "rating": rating}


def _read_tarball(path: Path):
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            found = REVIEW_DIR.search(member.name)
            if member.isfile() and found:
                text = tar.extractfile(member).read().decode("utf-8")
                yield _review(found[1], found[2], found[3], f"{path}:{member.name}", text)


def _read_folder(path: Path):
    root = path if path.name == "aclImdb" else path / "aclImdb"
    if not root.is_dir():
        raise ImdbFormatError(f"{path}: no aclImdb/ folder here; {HOW_TO_GET}")
    for split in SPLITS:
        for folder in LABEL_NAMES:
            for file in sorted((root / split / folder).glob("*")):
                yield _review(split, folder, file.name, str(file), file.read_text(encoding="utf-8"))


def _read_jsonl(path: Path):
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            try:
                row = json.loads(line)
                split, text, label, rating = row["split"], row["text"], int(row["label"]), int(row["rating"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
                raise ImdbFormatError(
                    f"{path}:{line_no}: not a review record ({err}); each line must be a JSON object "
                    "with split, label, rating and text"
                ) from None
            if split not in SPLITS or label not in (0, 1):
                raise ImdbFormatError(f"{path}:{line_no}: split must be train/test and label 0/1")
            yield split, {"id": line_no, "text": text, "label": label, "rating": rating}


def _build(rows, source: Path) -> DatasetDict:
    by_split = {split: [] for split in SPLITS}
    for split, row in rows:
        by_split[split].append(row)
    parts = {}
    for split, items in by_split.items():
        counts = np.bincount([r["label"] for r in items], minlength=2)
        if counts.min() == 0:
            raise ImdbFormatError(f"{source}: the {split} split has {counts[0]} neg and {counts[1]} pos reviews; "
                                  f"both are needed. {HOW_TO_GET}")
        items.sort(key=lambda r: (r["label"], r["id"]))  # a fixed order, whatever the archive's
        parts[split] = Dataset.from_dict(
            {k: [r[k] for r in items] for k in ("text", "label", "rating")}, features=FEATURES)
    return DatasetDict(parts)


def read_imdb_path(path: str | Path) -> DatasetDict:
    """Read the whole labelled IMDb from a tarball, folder or JSONL file (tarball and JSONL cached)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ImdbFormatError(f"IMDB_PATH={path} does not exist. {HOW_TO_GET}")
    if path.is_dir():
        return _build(_read_folder(path), path)
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    cached = cache_dir() / f"imdb-{key}"
    if cached.exists():
        return load_from_disk(str(cached))
    reader = _read_jsonl if ".jsonl" in path.name else _read_tarball
    data = _build(reader(path), path)
    data.save_to_disk(str(cached))
    return load_from_disk(str(cached))


def load_imdb_full() -> tuple[DatasetDict, str]:
    """All 25,000 + 25,000 labelled reviews, and a word on where they came from."""
    if os.environ.get("IMDB_PATH"):
        return read_imdb_path(os.environ["IMDB_PATH"]), "IMDB_PATH"
    if hub_reachable() and os.environ.get("HF_DATASETS_OFFLINE", "") not in ("1", "true", "TRUE"):
        from datasets import load_dataset

        data = load_dataset(HUB_ID)
        return DatasetDict({split: data[split] for split in SPLITS}), f"the Hub ({HUB_ID})"
    raise FileNotFoundError(f"No IMDb data: IMDB_PATH is not set and the Hugging Face Hub is not reachable. {HOW_TO_GET}")


def subsample_balanced(data: Dataset, size: int | None, seed: int = 42) -> Dataset:
    """``size`` reviews, half of each label, drawn with ``seed``, in shuffled order; None keeps all."""
    if size is None or size >= len(data):
        return data
    rng = np.random.default_rng(seed)
    labels = np.asarray(data["label"])
    picks = []
    for label, n in ((0, size - size // 2), (1, size // 2)):
        pool = np.flatnonzero(labels == label)
        if n > len(pool):
            raise ValueError(f"asked for {n} reviews of label {label}, but only {len(pool)} exist")
        picks.append(rng.choice(pool, size=n, replace=False))
    order = rng.permutation(np.concatenate(picks))
    return data.select(order)


def load_imdb(train_size="profile", test_size="profile", seed: int = 42, verbose: bool = True) -> DatasetDict:
    """IMDb with the profile's train and test sizes (or the given ones; None means the whole split)."""
    profile = get_profile()
    sizes = {"train": profile.train_size if train_size == "profile" else train_size,
             "test": profile.test_size if test_size == "profile" else test_size}
    full, source = load_imdb_full()
    data = DatasetDict({split: subsample_balanced(full[split], sizes[split], seed) for split in SPLITS})
    if verbose:
        print(f"IMDb from {source}: {len(data['train']):,} train / {len(data['test']):,} test reviews "
              f"(of {len(full['train']):,} / {len(full['test']):,}; balanced, seed {seed})")
    return data
