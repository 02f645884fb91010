"""The built site shows readers no build debris: run after ``make build`` (``.ci/run``
does).

Each kind of debris that once reached a page has a check here, so that it cannot come
back: nbval markers, machine-facing words, raw ``<br />`` from reviews, progress widgets
outside training, and the workplace word "seed" for the article.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

# the site `make build` made, or another build of it (BOOK_SITE=path/to/html)
REPO = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("BOOK_SITE") or REPO / "_build" / "html")
CHAPTERS = sorted((SITE / "chapters").glob("*.html"))
pytestmark = pytest.mark.skipif(
    not CHAPTERS, reason="no built site: run `make build` first"
)

# words a reader should never meet in a chapter: build variables, paths, dev words
MACHINE_WORDS = re.compile(
    r"IMDB_PATH|HF_HUB_OFFLINE|offline copy|hub: offline|site-packages|/root/|/tmp/|"
    r"/work/|NBVAL|seed article|[Tt]he seed's|object at 0x|"
    r"&lt;Figure size"
)


def page_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_every_chapter_was_built():
    names = {p.stem for p in CHAPTERS}
    sources = {p.stem for p in (REPO / "chapters").glob("[0-9][0-9]_*.ipynb")}
    assert sources <= names, sources - names


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem[:2])
def test_no_machine_words_or_markers(page):
    found = MACHINE_WORDS.findall(page_text(page))
    assert not found, f"{page.name}: {sorted(set(found))}"


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem[:2])
def test_reviews_are_shown_clean(page):
    # a printed review shows the tag in one piece; prose naming it in `code` does not
    raw = re.search(r"&lt;br\s*/?&gt;", page_text(page))
    assert not raw, f"{page.name} prints raw <br /> from a review"


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem[:2])
def test_progress_widgets_only_where_a_model_trains(page):
    widgets = page_text(page).count("<progress")
    allowed = 1 if page.stem.startswith("04") else 0  # chapter 4's Trainer run
    assert widgets <= allowed, f"{page.name}: {widgets} progress widgets"


def test_no_code_or_output_scrolls_sideways_at_1280_px(tmp_path):
    """What a reader on a laptop sees: every code cell and output fits the column."""
    import shutil
    import subprocess
    import sys

    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        pytest.skip("no chromium: `apt-get install chromium` (.ci/run installs it)")
    script = REPO / "scripts" / "measure_overflow.py"
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            "--site",
            str(SITE),
            "--width",
            "1280",
            "--json",
            str(tmp_path / "overflow.json"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


def test_the_references_show_no_latex():
    """Labels such as [Popović, 2015], not [Popovi\\'c, 2015]."""
    page = page_text(SITE / "book" / "references.html")
    labels = re.findall(r'"fn-bracket">\[</span>(.*?)<span class="fn-bracket">', page)
    assert len(labels) > 10, "no bibliography labels found"
    raw = [label for label in labels if re.search(r"[\\{}]", label)]
    assert not raw, raw


# what #21 found on chapter pages and a reader cannot act on: run-profile names, caches,
# commits, environment variables, module paths
READER_UNFRIENDLY = re.compile(
    r"\bsmoke\b|\bfull profile\b|\bprofile (?:smoke|full)\b|"
    # the book's cache, not a model's (attention or KV cache) or functools.cache in code
    r"(?<!KV\s)(?<!attention\s)(?<!\.)(?<!\.\s)(?<!\.\s\s)\bcached?\b|"
    r"\bfrom the cache\b|\buncommitted\b|\bcommit [0-9a-f]{7,40}\b|\bBOOK_[A-Z_]+|"
    r"\bIMDB_PATH\b|\bHF_[A-Z_]+|utils/[a-z_]+\.py",
    re.IGNORECASE,
)


def reader_text(path: Path) -> str:
    """A chapter page's prose and outputs: its code cells' input left out."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page_text(path), "html.parser")
    article = soup.select_one("article") or soup
    for code in article.select("div.cell_input, div.highlight"):
        if not code.find_parent("div", class_="cell_output"):
            code.decompose()
    return article.get_text(" ")


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem[:2])
def test_chapter_pages_speak_to_readers(page):
    found = READER_UNFRIENDLY.findall(reader_text(page))
    assert not found, f"{page.name}: {sorted(set(found))}"
