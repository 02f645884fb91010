"""The IMDb Large Movie Review Dataset (Maas et al., 2011) as a
``datasets.DatasetDict``.

Sources, in order:
1. ``IMDB_PATH``: Stanford's ``aclImdb_v1.tar.gz`` (read once, then cached as Arrow),
   an unpacked ``aclImdb/`` folder (or the folder holding it), or a ``.jsonl[.xz]`` file
   with ``split``/``label``/``rating``/``text`` fields;
2. the Hugging Face Hub's ``stanfordnlp/imdb``, through ``datasets.load_dataset``
   (online, or from the local cache);
3. otherwise an error naming both ways to get the data.

Whatever the source, ``load_imdb`` returns one contract: splits ``train`` and ``test``
with the features ``text`` (cleaned once, by ``clean_review``) and ``label``
(``ClassLabel`` neg/pos), each split shuffled with a fixed seed and, when sampled,
stratified by label.
"""

from __future__ import annotations

import json
import lzma
import os
import re
import shutil
import tarfile
import zlib
from pathlib import Path

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value, load_from_disk

from utils.cache import recipe_folder, usable, writing

HUB_ID = "stanfordnlp/imdb"
ARCHIVE_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
# bump when what the readers store changes (2: text cleaned; 3: written through
# utils.cache)
CACHE_VERSION = 3
SPLITS = ("train", "test")
LABEL_NAMES = ["neg", "pos"]
FEATURES = Features({"text": Value("string"), "label": ClassLabel(names=LABEL_NAMES)})
# what the archive readers keep besides: the star rating, for checking the archive
# itself
ARCHIVE_FEATURES = Features({**FEATURES, "rating": Value("int8")})
_BREAK = re.compile(r"(?:\s*<br\s*/?>\s*)+", re.IGNORECASE)
# aclImdb/<split>/<pos|neg>/<id>_<rating>.txt; anything else under a split's pos/neg
# folder is an error
REVIEW_DIR = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/([^/]+)$")
REVIEW_FILE = re.compile(r"(\d+)_(\d+)\.txt")
HOW_TO_GET = (
    f"Set IMDB_PATH to Stanford's aclImdb_v1.tar.gz ({ARCHIVE_URL}) "
    "or to its unpacked aclImdb/ folder, "
    "or go online so that datasets.load_dataset('stanfordnlp/imdb') works."
)


def clean_review(text: str) -> str:
    """IMDb marks line breaks as ``<br />``; a model or a reader should see a space."""
    return _BREAK.sub(" ", text).strip()


class ImdbFormatError(ValueError):
    """The IMDb source does not have the expected layout; the message names the file and
    the fix."""


def _review(
    split: str, folder: str, name: str, where: str, text: str
) -> tuple[str, dict]:
    match = REVIEW_FILE.fullmatch(name)
    if not match:
        raise ImdbFormatError(f"{where}: a review file must be named <id>_<rating>.txt")
    review_id, rating = int(match[1]), int(match[2])
    label = LABEL_NAMES.index(folder)
    if (
        (label == 1 and rating < 7)
        or (label == 0 and rating > 4)
        or not 1 <= rating <= 10
    ):
        raise ImdbFormatError(
            f"{where}: rating {rating} does not fit folder '{folder}' "
            "(neg: 1-4, pos: 7-10)"
        )
    if not text.strip():
        raise ImdbFormatError(f"{where}: the review is empty")
    return split, {"id": review_id, "text": text, "label": label, "rating": rating}


def _unreadable(path: Path, err: BaseException) -> ImdbFormatError:
    """The error for a file that is not the archive it should be: which file, what it
    is instead, and to download it again."""
    with open(path, "rb") as f:
        head = f.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        what = "it is a web page (HTML), not the archive: the download failed"
    elif path.stat().st_size == 0:
        what = "it is empty: the download failed"
    elif isinstance(err, (EOFError, zlib.error)):
        what = "it ends before the archive does: the download is incomplete"
    elif isinstance(err, lzma.LZMAError):
        what = "it is not an .xz file"
    elif isinstance(err, UnicodeDecodeError):
        what = f"a review in it is not UTF-8 text ({err.reason})"
    elif isinstance(err, tarfile.ReadError):
        what = "it is not a .tar.gz archive"
    else:  # a member that cannot be extracted, a disk error
        what = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    return ImdbFormatError(
        f"{path} cannot be read ({what}). Download it again from {ARCHIVE_URL} "
        "(84 MB) and point IMDB_PATH at it."
    )


def _read_tarball(path: Path):
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                found = REVIEW_DIR.search(member.name)
                if member.isfile() and found:
                    text = tar.extractfile(member).read().decode("utf-8")
                    yield _review(
                        found[1], found[2], found[3], f"{path}:{member.name}", text
                    )
    # a truncated download (EOFError, zlib.error), not a tar (ReadError), a bad member
    # (UnicodeDecodeError)
    except (tarfile.TarError, EOFError, zlib.error, OSError, UnicodeDecodeError) as err:
        raise _unreadable(path, err) from None


def _read_folder(path: Path):
    root = path if path.name == "aclImdb" else path / "aclImdb"
    if not root.is_dir():
        raise ImdbFormatError(f"{path}: no aclImdb/ folder here; {HOW_TO_GET}")
    for split in SPLITS:
        for folder in LABEL_NAMES:
            for file in sorted((root / split / folder).glob("*")):
                yield _review(
                    split,
                    folder,
                    file.name,
                    str(file),
                    file.read_text(encoding="utf-8"),
                )


def _read_jsonl(path: Path):
    opener = lzma.open if path.suffix == ".xz" else open
    try:
        yield from _jsonl_records(path, opener)
    except (lzma.LZMAError, EOFError, OSError, UnicodeDecodeError) as err:
        raise _unreadable(path, err) from None


def _jsonl_records(path: Path, opener):
    with opener(path, "rt", encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            try:
                row = json.loads(line)
                split, text, label, rating = (
                    row["split"],
                    row["text"],
                    int(row["label"]),
                    int(row["rating"]),
                )
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
                raise ImdbFormatError(
                    f"{path}:{line_no}: not a review record ({err}); "
                    "each line must be a JSON object "
                    "with split, label, rating and text"
                ) from None
            if split not in SPLITS or label not in (0, 1):
                raise ImdbFormatError(
                    f"{path}:{line_no}: split must be train/test and label 0/1"
                )
            yield split, {"id": line_no, "text": text, "label": label, "rating": rating}


def _build(rows, source: Path) -> DatasetDict:
    by_split = {split: [] for split in SPLITS}
    for split, row in rows:
        by_split[split].append(row)
    parts = {}
    for split, items in by_split.items():
        counts = np.bincount([r["label"] for r in items], minlength=2)
        if counts.min() == 0:
            raise ImdbFormatError(
                f"{source}: the {split} split has {counts[0]} neg "
                f"and {counts[1]} pos reviews; "
                f"both are needed. {HOW_TO_GET}"
            )
        # a fixed order, whatever the archive's
        items.sort(key=lambda r: (r["label"], r["id"]))
        parts[split] = Dataset.from_dict(
            {
                "text": [clean_review(r["text"]) for r in items],
                "label": [r["label"] for r in items],
                "rating": [r["rating"] for r in items],
            },
            features=ARCHIVE_FEATURES,
        )
    return DatasetDict(parts)


def read_imdb_path(path: str | Path) -> DatasetDict:
    """Read the labelled IMDb from a tarball, folder or JSONL file (tarball and JSONL
    cached), with the archive's ``rating`` column besides ``text`` and ``label``."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ImdbFormatError(f"IMDB_PATH={path} does not exist. {HOW_TO_GET}")
    if path.is_dir():
        return _build(_read_folder(path), path)
    stat = path.stat()
    folder = recipe_folder(
        "imdb",
        f"v{CACHE_VERSION}",
        {"path": str(path.resolve()), "size": stat.st_size, "mtime": stat.st_mtime_ns},
    )
    if usable(folder, "copy of the IMDb reviews"):
        try:
            return load_from_disk(str(folder))
        except (OSError, ValueError) as err:  # a file of the entry missing or damaged
            print(
                "The saved copy of the IMDb reviews was damaged "
                f"({type(err).__name__}): reading the archive again."
            )
            shutil.rmtree(folder, ignore_errors=True)
    reader = _read_jsonl if ".jsonl" in path.name else _read_tarball
    data = _build(reader(path), path)
    with writing(folder) as tmp:
        data.save_to_disk(str(tmp))
    return load_from_disk(str(folder))


def read_imdb_hub() -> DatasetDict:
    """``stanfordnlp/imdb`` as ``datasets`` serves it (online, or from its cache), with
    its ``unsupervised`` split left out and the text cleaned as the local readers clean
    it."""
    from datasets import load_dataset

    data = load_dataset(HUB_ID)
    missing = {"text", "label"} - set(data["train"].column_names)
    if missing:
        raise ImdbFormatError(f"{HUB_ID} has no {sorted(missing)} column; {HOW_TO_GET}")

    def clean(batch):
        return {"text": [clean_review(text) for text in batch["text"]]}

    return DatasetDict(
        {split: data[split].map(clean, batched=True) for split in SPLITS}
    )


def load_imdb_full(imdb_path: str | None = None) -> tuple[DatasetDict, str]:
    """All labelled reviews in the book's contract, and where they came from (for a
    page).

    ``imdb_path`` defaults to ``IMDB_PATH``; without it, ``datasets`` decides whether
    the Hub (or its cache) can serve ``stanfordnlp/imdb``.
    """
    imdb_path = imdb_path or os.environ.get("IMDB_PATH")
    if imdb_path:
        data, source = read_imdb_path(imdb_path), "Stanford's archive"
    else:
        try:
            data, source = read_imdb_hub(), f"the Hugging Face Hub's {HUB_ID}"
        # ConnectionError, FileNotFoundError: offline and not cached, or unreachable
        except OSError as err:
            raise FileNotFoundError(
                f"No IMDb data: IMDB_PATH is not set and {HUB_ID} could not be loaded "
                f"({type(err).__name__}). {HOW_TO_GET}"
            ) from None
    data = data.select_columns(list(FEATURES))
    if data["train"].features != FEATURES:  # e.g. a label column of plain integers
        data = data.cast(FEATURES)
    return data, source


def sample_split(data: Dataset, size: int | None, seed: int) -> Dataset:
    """``size`` reviews (None: all), stratified by label and shuffled with ``seed``.

    Sources store a split sorted by label, so even the whole split is shuffled: a prefix
    of it (an evaluation subset, a learning curve's first n reviews) then holds both
    labels.
    """
    if size is None or size == len(data):
        return data.shuffle(seed=seed).flatten_indices()
    if not 0 < size < len(data):
        raise ValueError(f"asked for {size:,} reviews, but the split has {len(data):,}")
    picked = data.train_test_split(
        train_size=size, stratify_by_column="label", seed=seed
    )
    return picked["train"].flatten_indices()


def load_imdb(
    setup, train_size="profile", test_size="profile", verbose: bool = True
) -> DatasetDict:
    """IMDb at the profile's sizes (or the given ones; None: the whole split), seeded by
    ``setup``, which ``setup_chapter()`` returned."""
    profile = setup.profile
    sizes = {
        "train": profile.train_size if train_size == "profile" else train_size,
        "test": profile.test_size if test_size == "profile" else test_size,
    }
    full, source = load_imdb_full()
    data = DatasetDict(
        {split: sample_split(full[split], sizes[split], setup.seed) for split in SPLITS}
    )
    if verbose:
        print(
            f"IMDb: {_describe(data, full)} from {source}, "
            f"balanced by label, shuffled with seed {setup.seed}."
        )
    return data


def _describe(data: DatasetDict, full: DatasetDict) -> str:
    def part(split):
        n, total = len(data[split]), len(full[split])
        return f"all {n:,} {split}" if n == total else f"{n:,} of the {total:,} {split}"

    return f"{part('train')} and {part('test')} reviews"
