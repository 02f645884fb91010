"""Every way a reader runs the book executes every chapter, here on the CPU and offline.

The nbval run of ``chapters/`` is the first way: the ``smoke`` profile with the local
IMDb archive and the packaged MiniLM. This module runs the two others:

- **colab**: as in Colab on a GPU. No ``IMDB_PATH``; the chapters call
  ``load_dataset("stanfordnlp/imdb")`` and ``from_pretrained("bert-base-uncased")``
  exactly as online, and the libraries' own code finds stand-ins laid out in the Hugging
  Face caches (``tests/hub_stand_ins.py``), with the Hub's schema, splits and
  label-sorted order; chapter 5's Hub applications find tiny random stand-ins there
  (``tests/application_stand_ins.py``) and run their online code paths.
- **full**: the ``full`` profile's whole-split code paths (``None`` sizes) over a small
  archive in Stanford's layout, with a BERT-base-shaped model (12 layers, width 768,
  random weights, the MiniLM tokenizer, which has bert-base-uncased's vocabulary).

Both shrink only the profile's step counts and sample sizes (``BOOK_PROFILE_OVERRIDES``)
so that all chapters run in minutes on 2 cores; every line that depends on a size or a
shape runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests import hub_stand_ins as stand_ins
from tests.application_stand_ins import write_application_stand_ins

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
ARCHIVE = os.environ.get("IMDB_PATH", "")
needs_archive = pytest.mark.skipif(
    not ARCHIVE.endswith(".tar.gz"),
    reason="IMDB_PATH must name aclImdb_v1.tar.gz (.ci/run sets it) "
    "to build the stand-ins",
)

# Time, not shape: fewer steps, examples and epochs; lengths and widths stay. The
# batches shrink too: 32 reviews of 512 tokens through BERT-base train in about 21 GB on
# a CPU (the OOM killer stopped it on CI's 24 GB), and a GPU splits them
# (setup_chapter's fit_to_gpu).
SHRINK = (
    "epochs=1; eval_points=2; batch_size=8; eval_batch_size=32; probe_train_size=40; "
    "probe_test_size=40; "
    "attention_examples=8; pretrain_eval_texts=40; pretrain_steps_mlm=24; "
    "pretrain_steps_clm=24; pretrain_batch_size=16; tiny_finetune_train=24; "
    "tiny_finetune_test=40; tiny_finetune_epochs=1; finetune_validation=12; "
    "transfer_train=16; transfer_max_length=32; transfer_epochs=1; "
    "attribution_reviews=4; memory_check_batch=1; decoding_samples=2; "
    "decoding_new_tokens=16; lora_train=16; lora_validation=8; lora_test=16; "
    "lora_max_length=32; lora_epochs=1; lora_batch_size=8"
)
# the variables a reader's machine might have that would change what is tested
CLEARED = (
    "IMDB_PATH",
    "BOOK_MODEL",
    "BOOK_PROFILE",
    "BOOK_PRECISION",
    "HF_DATASETS_CACHE",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "TRANSFORMERS_CACHE",
)


def reader_env(tmp: Path, **settings) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(
        HF_HOME=str(tmp / "hf"),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        BOOK_CACHE=str(tmp / "book-cache"),
        BOOK_PROFILE="full",
        BOOK_PROFILE_OVERRIDES=SHRINK,
        MPLBACKEND="Agg",
    )
    env.update(settings)
    return env


@pytest.fixture(scope="module")
def colab_env(tmp_path_factory):
    """The Hub's IMDb (120 + 120 reviews) and bert-base-uncased, in the Hugging Face
    caches."""
    tmp = tmp_path_factory.mktemp("colab")
    rows = stand_ins.imdb_rows_from_tarball(ARCHIVE, per_label=60)
    stand_ins.write_imdb_dataset_cache(tmp / "hf", rows)
    stand_ins.write_model_snapshot(
        tmp / "hf", "bert-base-uncased", stand_ins.minilm_model_dir()
    )
    # tiny random stand-ins for the Hub models of chapter 5's online-only sections
    # (translation, speech, a SQuAD reader, GPT-2), so that those code paths run too
    write_application_stand_ins(tmp / "hf")
    return reader_env(tmp)


def small_archive(source: str, target: Path, per_label: int) -> Path:
    """The first ``per_label`` reviews of each split and label of an archive, same
    layout."""
    counts: dict[str, int] = {}
    with tarfile.open(source, "r:*") as src, tarfile.open(target, "w:gz") as out:
        for member in src:
            folder = "/".join(member.name.split("/")[1:3])  # e.g. train/pos
            if member.isfile() and folder.split("/")[-1] in ("pos", "neg"):
                if counts.get(folder, 0) < per_label:
                    counts[folder] = counts.get(folder, 0) + 1
                    out.addfile(member, src.extractfile(member))
            if len(counts) == 4 and min(counts.values()) == per_label:
                break
    return target


def bert_base_shaped(folder: Path) -> Path:
    """BERT-base's shape with random weights, and the MiniLM tokenizer (same
    vocabulary)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    BertModel(BertConfig()).save_pretrained(
        folder
    )  # BertConfig(): bert-base-uncased's sizes
    AutoTokenizer.from_pretrained(stand_ins.minilm_model_dir()).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def full_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("full")
    archive = small_archive(ARCHIVE, tmp / "aclImdb_small.tar.gz", per_label=24)
    model = bert_base_shaped(tmp / "bert-base-shaped")
    return reader_env(tmp, IMDB_PATH=str(archive), BOOK_MODEL=str(model))


def execute(chapter: Path, env: dict, tmp: Path) -> list[dict]:
    """Run the chapter top to bottom in a fresh kernel; return its executed cells."""
    out = tmp / chapter.name
    out.write_text(chapter.read_text())
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "execute",
        "--inplace",
        "--timeout=900",
        str(out),
    ]
    done = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text())["cells"]


def printed(cells: list[dict]) -> str:
    return "\n".join(
        "".join(o.get("text", "")) for c in cells for o in c.get("outputs", [])
    )


@needs_archive
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem[:2])
def test_as_in_colab_through_the_hub_code_path(chapter, colab_env, tmp_path):
    text = printed(execute(chapter, colab_env, tmp_path))
    assert "profile full" in text and "model bert-base-uncased" in text
    assert "stands in" not in text, "bert-base-uncased must come from the Hub's cache"
    if "IMDb:" in text:
        assert "120 test reviews from the Hugging Face Hub's stanfordnlp/imdb" in text
    if chapter.name.startswith("05_"):  # each Hub application ran, on its stand-in
        assert "skipped" not in text
    assert "Warning" not in text and "Traceback" not in text


@needs_archive
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem[:2])
def test_full_profile_whole_splits_with_a_bert_base_shaped_model(
    chapter, full_env, tmp_path
):
    text = printed(execute(chapter, full_env, tmp_path))
    assert "profile full" in text and "model bert-base-shaped" in text
    if "IMDb: " in text:  # sizes of the small archive: 24 reviews a label a split
        assert (
            "48 train and " in text
            and "48 test reviews from Stanford's archive" in text
        )
    assert "Warning" not in text and "Traceback" not in text
