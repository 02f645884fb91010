"""`make build` (the second half of `make book`) builds the site from the notebooks'
stored outputs, or from the test run's execution of the same code, and executes nothing.

Each test builds a copy of the book's configuration around tiny notebooks through the
Makefile's own target. Stored outputs that show an error, or code cells never executed,
stop the build with the notebook's name and the fix, before Jupyter Book runs; an
environment kept inside the project folder (``.venv``, whose packages ship Markdown
templates that Sphinx cannot read) is left out of the build.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests import notebook_cache

ROOT = Path(__file__).resolve().parent.parent
# a Markdown file of the kind packages ship (huggingface_hub's dataset card template):
# Sphinx fails on its front matter if it reads it
TEMPLATE = "---\n{{ card_data }}\n---\n\n# Dataset Card for {{ pretty_name }}\n"


def notebook(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Chapter")])
    for count, (code, outputs) in enumerate(cells, start=1):
        cell = nbformat.v4.new_code_cell(code, execution_count=count)
        cell.outputs = outputs
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def printed(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def make_book(tmp_path: Path, chapters: dict[str, nbformat.NotebookNode]) -> Path:
    book = tmp_path / "book"
    (book / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    shutil.copy(ROOT / "book" / "references.bib", book / "book" / "references.bib")
    shutil.copytree(ROOT / "book" / "_ext", book / "book" / "_ext")  # bib label style
    shutil.copytree(ROOT / "_static", book / "_static")
    entries = "".join(f"  - file: {name}\n" for name in chapters)
    (book / "_toc.yml").write_text(
        f"format: jb-book\nroot: intro\nchapters:\n{entries}"
    )
    (book / "intro.md").write_text("# Intro\n\nA book of tiny chapters.\n")
    for name, nb in chapters.items():
        nbformat.write(nb, book / f"{name}.ipynb")
    return book


def build(book: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-s", "-C", str(ROOT), "build", f"BOOK_DIR={book}"]
        + [f"PY={sys.executable}"],
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_site_shows_stored_outputs_or_the_test_runs_and_executes_nothing(
    tmp_path,
):
    # what the page shows could not come from executing the code: it was not executed
    stored = notebook(("print(1 + 1)", [printed("stored: 2\n")]))
    tested = notebook(("print(2 + 2)", [printed("stored: 4\n")]))
    book = make_book(tmp_path, {"stored": stored, "tested": tested})
    executed = notebook(("print(2 + 2)", [printed("test run: 4\n")]))
    cache = book / "_build" / ".jupyter_cache"
    notebook_cache.keep_test_run(cache, book / "tested.ipynb", executed, 1.0)
    # an environment inside the project, as `python3 -m venv .venv` makes it
    template = book / ".venv" / "lib" / "huggingface_hub" / "templates"
    template.mkdir(parents=True)
    (template / "datasetcard_template.md").write_text(TEMPLATE)

    result = build(book)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    html = book / "_build" / "html"
    assert "stored: 2" in (html / "stored.html").read_text()
    tested_page = (html / "tested.html").read_text()
    assert "test run: 4" in tested_page and "stored: 4" not in tested_page
    said = (
        "Pages from stored outputs: 1; from the executions of the last `make test`: 1"
    )
    assert said in log
    assert "Executing notebook" not in log and "Executed notebook" not in log
    assert not (html / ".venv").exists()
    assert log.rstrip().endswith(f"file://{html}/index.html in a browser.")


def error_output():
    return nbformat.v4.new_output(
        "error", ename="ZeroDivisionError", evalue="division by zero", traceback=[]
    )


@pytest.mark.parametrize(
    "cells, says",
    [
        (
            [("x = 1", []), ("1 / 0", [error_output()])],
            "chapter.ipynb: cell 2 stored an error (ZeroDivisionError)",
        ),
        ([("x = 1", []), ("print(x)", [])], "chapter.ipynb: 2 code cells were never"),
    ],
    ids=["stored-error", "never-executed"],
)
def test_outputs_that_are_no_execution_stop_the_build_naming_the_fix(
    tmp_path, cells, says
):
    nb = notebook(*cells)
    if "never" in says:
        for cell in nb.cells[1:]:
            cell.execution_count = None
    result = build(make_book(tmp_path, {"chapter": nb}))
    assert result.returncode != 0
    assert says in result.stderr
    assert "Run `make chapter NB=chapter.ipynb` to store fresh outputs" in result.stderr
    assert "Running Jupyter-Book" not in result.stdout, "stopped before the build"
