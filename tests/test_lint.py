"""Every code line fits the web page's code column: at most 88 characters (ruff's E501).

The chapters' code cells are what readers see on the rendered pages, so they are checked
with utils/, scripts/ and tests/; pyproject.toml's ``[tool.ruff]`` holds the same limit
for editors and ``ruff check`` run by hand. Code in the chapters' Markdown (exercise
solutions, examples) is held to the same 88 columns, and its Python must parse.
"""

import ast
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PATHS = ["chapters", "utils", "scripts", "tests"]


@pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None,
    reason="ruff is not installed (pip install -r requirements.txt)",
)
def test_no_code_line_is_longer_than_88_characters():
    command = [sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "E501"]
    command += ["--line-length", "88", *PATHS]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, (
        "lines longer than 88 characters:\n" + result.stdout + result.stderr
    )


# --- code in Markdown: exercise solutions and examples in the chapters' prose ---------

FENCE = re.compile(
    r"^(?P<fence>`{3,}|~{3,})(?P<lang>[\w+-]*)[^\n]*\n(?P<code>.*?)^(?P=fence)\s*$",
    re.M | re.S,
)


def markdown_sources():
    """(where, Markdown text) for every Markdown cell of the chapters and book pages,
    and every Markdown page of the book."""
    for notebook in sorted(
        [*ROOT.glob("chapters/*.ipynb"), *ROOT.glob("book/*.ipynb")]
    ):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        for number, cell in enumerate(cells):
            if cell["cell_type"] == "markdown":
                yield (
                    f"{notebook.relative_to(ROOT)} cell {number}",
                    "".join(cell["source"]),
                )
    for page in sorted(ROOT.glob("book/*.md")):
        yield str(page.relative_to(ROOT)), page.read_text(encoding="utf-8")


def fenced_blocks():
    return [
        (where, found["lang"], found["code"])
        for where, text in markdown_sources()
        for found in FENCE.finditer(text)
    ]


def test_the_markdown_fence_pattern_finds_indented_admonition_code():
    text = ":::{admonition} Solution\n```python\nx = 1\n```\n:::\n"
    assert [(f["lang"], f["code"]) for f in FENCE.finditer(text)] == [
        ("python", "x = 1\n")
    ]
    assert fenced_blocks(), "the chapters' exercise solutions hold code"


def test_no_line_of_code_in_markdown_is_longer_than_88_characters():
    long = [
        f"{where}: {len(line)} characters: {line[:60]}..."
        for where, _, code in fenced_blocks()
        for line in code.splitlines()
        if len(line) > 88
    ]
    assert not long, "\n".join(long)


def test_python_in_markdown_parses():
    broken = []
    for where, lang, code in fenced_blocks():
        if lang in ("python", "py", "python3", "ipython3"):
            try:
                ast.parse(code)
            except SyntaxError as error:
                broken.append(f"{where}: {error}")
    assert not broken, "\n".join(broken)
