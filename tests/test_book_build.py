"""`jupyter-book build` as the README runs it must fail when a chapter's cell raises.

Jupyter Book 1.x exits 0 when a notebook fails to execute unless warnings are errors
(jupyter-book#1320). The Makefile's `build` target passes `-W --keep-going`; these tests
build a copy of the book's configuration around one tiny notebook, once with a raising
cell and once without, through that same target.
"""

import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent


def make_book(tmp_path: Path, code: str) -> Path:
    book = tmp_path / "book"
    (book / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    shutil.copy(ROOT / "book" / "references.bib", book / "book" / "references.bib")
    shutil.copytree(
        ROOT / "book" / "_ext", book / "book" / "_ext"
    )  # the bib label style
    shutil.copytree(ROOT / "_static", book / "_static")
    (book / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: chapter\n"
    )
    (book / "intro.md").write_text("# Intro\n\nA book of one chapter.\n")
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Chapter"),
            nbformat.v4.new_code_cell(code),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, book / "chapter.ipynb")
    return book


def build(book: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-s", "-C", str(ROOT), "build", f"BOOK_DIR={book}"],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize("code, fails", [("1 / 0", True), ("print(1 + 1)", False)])
def test_a_raising_cell_fails_the_build(tmp_path, code, fails):
    result = build(make_book(tmp_path, code))
    log = result.stdout + result.stderr
    if fails:
        assert result.returncode != 0, log[-3000:]
        assert "ZeroDivisionError" in log or "Executing notebook failed" in log, log[
            -3000:
        ]
    else:
        assert result.returncode == 0, log[-3000:]
        assert (tmp_path / "book" / "_build" / "html" / "chapter.html").exists()
