"""The out-of-memory advice is code that works when pasted: given to ``setup_chapter``
in a chapter's setup cell, it changes the batch that the cells below it then use (issue
#19, item 6). Chapter 4's cells read their sizes from ``setup``, so that this holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from utils import get_profile, setup_chapter
from utils.hardware import OutOfMemory, explain_oom

ROOT = Path(__file__).resolve().parent.parent
CHAPTER_4 = ROOT / "chapters" / "04_fine_tuning_imdb.ipynb"
SETUP_CELL = 'from utils import setup_chapter\n\nsetup = setup_chapter("04")\n'
ADVISED = re.compile(
    r"the argument profile=(?P<code>.+?)(?: \((?P<imports>from utils import \w+)\))?, "
    r"run it, and run the cells below it again"
)


def advice_for(profile) -> str:
    """The line a chapter shows when training ``profile`` runs out of GPU memory."""
    with pytest.raises(OutOfMemory) as caught:
        with explain_oom(
            profile.per_device_batch_size,
            profile.max_length,
            profile.gradient_accumulation_steps,
            profile=profile,
        ):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
    return str(caught.value)


def paste_into_setup_cell(cell: str, advice: str, namespace: dict) -> dict:
    """Do what the advice says to the setup cell's source, and run it."""
    advised = ADVISED.search(advice)
    assert advised, advice
    call = re.search(r"setup_chapter\((.*)\)", cell)
    edited = cell.replace(
        call[0], f"setup_chapter({call[1]}, profile={advised['code']})"
    )
    if advised["imports"]:
        edited = f"{advised['imports']}\n{edited}"
    exec(edited, namespace)
    return namespace


@pytest.fixture
def imdb(tiny_tarball, monkeypatch):
    monkeypatch.setenv("IMDB_PATH", str(tiny_tarball))


def test_the_advice_splits_the_batch_and_keeps_what_the_model_learns_from(imdb):
    # as on a GPU that fitted batches of 32 as 2 steps of 16, then ran out of memory
    profile = get_profile("full").replace(gradient_accumulation_steps=2)
    advice = advice_for(profile)
    assert advice.startswith(
        "CUDA ran out of memory at batch size 16 x 512 tokens. Run each batch of 32 "
        "as 4 steps of 8"
    )
    ran = paste_into_setup_cell(SETUP_CELL, advice, {})
    assert ran["setup"].profile.per_device_batch_size == 8
    assert ran["setup"].profile.gradient_accumulation_steps == 4
    assert ran["setup"].profile.batch_size == 32
    assert ran["setup"].profile.name == "full"


def test_sizes_already_changed_stay_changed(imdb):
    profile = get_profile("full").replace(max_length=256, gradient_accumulation_steps=2)
    ran = paste_into_setup_cell(SETUP_CELL, advice_for(profile), {})
    assert ran["setup"].profile.max_length == 256
    assert ran["setup"].profile.per_device_batch_size == 8


def test_at_one_review_a_step_the_advice_halves_max_length(imdb):
    profile = get_profile("full").replace(gradient_accumulation_steps=32)
    advice = advice_for(profile)
    assert "one review a step" in advice
    ran = paste_into_setup_cell(SETUP_CELL, advice, {})
    assert ran["setup"].profile.max_length == 256
    assert ran["setup"].profile.per_device_batch_size == 1


def test_without_the_profile_the_advice_builds_on_the_chapters_setup(imdb):
    before = setup_chapter(profile=get_profile("smoke").replace(batch_size=32))
    with pytest.raises(OutOfMemory) as caught:
        with explain_oom(8, 128, accumulation=4):
            raise torch.OutOfMemoryError("CUDA out of memory.")
    ran = paste_into_setup_cell(SETUP_CELL, str(caught.value), {"setup": before})
    assert ran["setup"].profile.per_device_batch_size == 4
    assert ran["setup"].profile.batch_size == 32


def chapter_code() -> list[str]:
    notebook = json.loads(CHAPTER_4.read_text())
    return [
        "".join(cell["source"])
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
    ]


def test_chapter_4s_cells_read_their_sizes_from_setup(imdb):
    cells = chapter_code()
    setup_cell = next(c for c in cells if "setup_chapter(" in c)
    assert 'setup = setup_chapter("04")' in setup_cell
    # A cell may name setup.profile for short, but only for itself, so that a cell run
    # again after the setup cell uses the setup now in force, whatever ran between.
    alias = re.compile(r"^(\w+) = setup\.profile\b(?!\.)", re.M)
    for cell in cells:
        for name in {m[1] for c in cells for m in alias.finditer(c)}:
            if re.search(rf"(?<![\w.]){name}\.\w", cell):
                assert re.search(rf"^{name} = setup\.profile\b", cell, re.M), cell
    assert not any("get_profile(" in c or "Profile(" in c for c in cells)
    profile = get_profile("full").replace(gradient_accumulation_steps=2)
    ran = paste_into_setup_cell(setup_cell, advice_for(profile), {})
    assert ran["setup"].profile.per_device_batch_size == 8
