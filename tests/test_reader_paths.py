"""Every chapter runs as a reader runs it in Colab on a GPU; here on the CPU, offline.

The nbval run of ``chapters/`` is the smoke profile with the local IMDb archive and the
packaged MiniLM. This module runs each chapter once more, the way Colab does, in the
``full`` profile:

- **as in Colab**: no ``IMDB_PATH`` and no ``BOOK_MODEL``; the chapters call
  ``load_dataset("stanfordnlp/imdb")`` and ``from_pretrained("bert-base-uncased")``
  exactly as online, and the libraries' own code finds stand-ins laid out in the Hugging
  Face caches (``tests/hub_stand_ins.py``), with the Hub's schema, splits and
  label-sorted order; chapter 5's Hub applications find tiny random stand-ins there
  (``tests/application_stand_ins.py``) and run their online code paths;
- **the full profile's code paths**: whole splits (``None`` sizes) of that IMDb, 24
  reviews a label a split taken from Stanford's archive, and ``bert-base-uncased`` with
  BERT-base's shape (12 layers, width 768; random weights and the MiniLM tokenizer,
  which has bert-base-uncased's vocabulary).

One stand-in cache serves both, so each chapter runs once. Only the profile's step
counts and sample sizes shrink (``BOOK_PROFILE_OVERRIDES``), so that all chapters run in
minutes on 2 cores; every line that depends on a size or a shape runs. A cell appended
to each chapter reports what it ran with.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import hub_stand_ins as stand_ins
from tests.application_stand_ins import write_application_stand_ins

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
ARCHIVE = os.environ.get("IMDB_PATH", "")
needs_archive = pytest.mark.skipif(
    not ARCHIVE.endswith(".tar.gz"),
    reason="IMDB_PATH must name aclImdb_v1.tar.gz (make test finds it) "
    "to build the stand-ins",
)
PER_LABEL = 24  # reviews a label a split in the stand-in IMDb: 48 train, 48 test

# Time, not shape: fewer steps, examples and epochs; lengths and widths stay. The
# batches shrink too: 32 reviews of 512 tokens through BERT-base train in about 21 GB on
# a CPU (the OOM killer stopped it on CI's 24 GB), and a GPU splits them
# (setup_chapter's fit_to_gpu).
SHRINK = (
    "epochs=1; eval_points=2; batch_size=8; eval_batch_size=32; probe_train_size=40; "
    "probe_test_size=40; "
    "attention_examples=8; pretrain_eval_texts=16; pretrain_steps_mlm=8; "
    "pretrain_steps_clm=8; pretrain_batch_size=16; tiny_finetune_train=24; "
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
# appended to each chapter: what it ran with (the setup it resolved, the model it
# loaded, the IMDb its loaders get here)
REPORT = """
import json as _json

from transformers import AutoConfig as _AutoConfig

from utils.imdb import load_imdb_full as _load_imdb_full

_config = _AutoConfig.from_pretrained(setup.model.source)
_imdb, _imdb_source = _load_imdb_full()
print("READER PATH " + _json.dumps({
    "profile": setup.profile.name,
    "sizes": [setup.profile.train_size, setup.profile.test_size],
    "model": [setup.model.requested, setup.model.source, setup.model.label],
    "shape": [_config.num_hidden_layers, _config.hidden_size],
    "imdb": [_imdb_source, _imdb["train"].num_rows, _imdb["test"].num_rows],
}))
"""


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


def bert_base_shaped(folder: Path) -> Path:
    """BERT-base's shape with random weights, and the MiniLM tokenizer (same
    vocabulary)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    BertModel(BertConfig()).save_pretrained(folder)  # bert-base-uncased's sizes
    AutoTokenizer.from_pretrained(stand_ins.minilm_model_dir()).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def colab_env(tmp_path_factory):
    """The Hub's IMDb (a small one from the archive) and a BERT-base-shaped
    bert-base-uncased, in the Hugging Face caches; chapter 5's Hub models beside."""
    tmp = tmp_path_factory.mktemp("colab")
    rows = stand_ins.imdb_rows_from_tarball(ARCHIVE, per_label=PER_LABEL)
    stand_ins.write_imdb_dataset_cache(tmp / "hf", rows)
    model = bert_base_shaped(tmp / "bert-base-shaped")
    stand_ins.write_model_snapshot(tmp / "hf", "bert-base-uncased", model)
    # tiny random stand-ins for the Hub models of chapter 5's online-only sections
    # (translation, speech, a SQuAD reader, GPT-2), so that those code paths run too
    write_application_stand_ins(tmp / "hf")
    return reader_env(tmp)


def execute(chapter: Path, env: dict, tmp: Path) -> list[dict]:
    """Run the chapter top to bottom in a fresh kernel, with REPORT appended; return
    its executed cells."""
    nb = json.loads(chapter.read_text())
    report = {"cell_type": "code", "id": "reader-path-report", "metadata": {}}
    nb["cells"].append(
        {**report, "source": REPORT, "outputs": [], "execution_count": None}
    )
    out = tmp / chapter.name
    out.write_text(json.dumps(nb))
    cmd = [sys.executable, "-m", "jupyter", "execute", "--inplace", "--timeout=900"]
    done = subprocess.run(
        [*cmd, str(out)], env=env, cwd=tmp, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text())["cells"]


def printed(cells: list[dict]) -> str:
    return "\n".join(
        "".join(o.get("text", "")) for c in cells for o in c.get("outputs", [])
    )


def prints_imdb_line(chapter: Path) -> bool:
    """Whether the chapter's code loads IMDb with its one-line report on."""
    calls = re.findall(r"load_imdb\(([^)]*)\)", chapter.read_text())
    return any("verbose=False" not in arguments for arguments in calls)


@needs_archive
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem[:2])
def test_as_in_colab_on_a_gpu_through_the_hub_in_the_full_profile(
    chapter, colab_env, tmp_path
):
    cells = execute(chapter, colab_env, tmp_path)
    text = printed(cells)
    report = json.loads(text.split("READER PATH ", 1)[1].splitlines()[0])
    # the full profile, with its whole splits, as setup_chapter resolved it
    assert report["profile"] == "full" and report["sizes"] == [None, None]
    # bert-base-uncased by its Hub id, from the Hub's cache, BERT-base-shaped: not the
    # packaged MiniLM standing in for it
    assert report["model"] == ["bert-base-uncased"] * 3
    assert report["shape"] == [12, 768] and "stands in" not in text
    # IMDb from the Hub's stanfordnlp/imdb: whole splits of the stand-in
    hub = "the Hugging Face Hub's stanfordnlp/imdb"
    assert report["imdb"] == [hub, 2 * PER_LABEL, 2 * PER_LABEL]
    assert "Stanford's archive" not in text
    if prints_imdb_line(chapter):
        said = re.findall(r"^IMDb: .*$", text, re.M)
        assert said and all(f"reviews from {hub}" in line for line in said), said
        assert all(re.search(r"(all|of the) 48 train and", line) for line in said)
    if chapter.name.startswith("05_"):  # each Hub application ran, on its stand-in
        assert "skipped" not in text
    assert "Warning" not in text and "Traceback" not in text
    assert not [o for c in cells for o in c.get("outputs", []) if o.get("ename")]
