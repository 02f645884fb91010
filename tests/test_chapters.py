"""Every chapter follows the pattern of CONTRIBUTING.md, and the table of contents lists
them all."""

import json
import re
from pathlib import Path

import pytest
import yaml

from scripts import colab_cell

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"]
VERSION = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M)[
    1
]
# chapters, launch buttons and the installed utils all come from this tag
TAG = f"v{VERSION}"
REPO = REPO_URL.removeprefix("https://github.com/")
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
# What must never reach a rendered page from a stored output
LEAKS = re.compile(
    r"site-packages|/root/|/work/|/home/\w+/"
    r"|<Figure size|Line2D at 0x|Warning:|Traceback"
)
# Words for the machinery, not for a reader, in a chapter's Markdown or outputs: the
# run profiles' names (explained once, on the setup page), the book's cache (the
# attention or KV cache of a model, and CPU caches, are the reader's business), the
# variables, module paths, commit hashes.
MACHINE_WORDS = {
    "a profile's name": re.compile(
        r"\bsmoke\b|\bfull\b(?=[`'\"]? profile)|\bprofile[`'\" ]+full\b|`full`", re.I
    ),
    "the book's cache": re.compile(
        r"\bcached\b|(?<!KV )(?<!KV-)(?<!key-value )(?<!attention )\bcache\b", re.I
    ),
    "a variable's name": re.compile(r"\bBOOK_[A-Z_]+|\bIMDB_PATH\b|\bHF_[A-Z_]+"),
    "a module path": re.compile(r"\butils/[\w/]+\.py\b"),
    # hex with a letter and a digit, not a float's mantissa such as 1.52587890625e-05
    "a commit hash": re.compile(
        r"(?<![.\w])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}(?![-+\w])"
    ),
}
# A convention a chapter does not meet yet is listed with the check's name; the check is
# expected to fail there (xfail, not strict) until the chapter is done: remove it then.
PENDING: dict[str, set[str]] = {
    "prose_builders": {"08"},  # five visible cells that display Markdown tables
}


def pending(check: str, path: Path, request) -> None:
    """Mark ``check`` as expected to fail for ``path`` while PENDING lists it there (it
    still runs: an XPASS says the chapter meets it now)."""
    if path.stem[:2] in PENDING.get(check, ()):
        reason = f"chapter {path.stem[:2]} does not meet this yet ({check})"
        request.applymarker(pytest.mark.xfail(strict=False, reason=reason))


def toc_files():
    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                yield node["file"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"], *walk(toc)]


def cells(path):
    return json.loads(path.read_text())["cells"]


def source(cell):
    return "".join(cell["source"])


def page_texts(cell) -> list[str]:
    """What a page shows of a cell in words: its Markdown, or its outputs' text."""
    texts = [" ".join(source(cell).split())] if cell["cell_type"] == "markdown" else []
    for out in cell.get("outputs", []):
        for value in (out.get("text", ""), *out.get("data", {}).values()):
            if isinstance(value, list):
                value = "".join(value)
            if isinstance(value, str) and not value.startswith("iVBOR"):  # not a PNG
                texts.append(" ".join(value.split()))  # one space between words
    return texts


def test_there_are_chapters_and_the_toc_lists_exactly_them():
    assert CHAPTERS, "no chapters found"
    listed = {f for f in toc_files() if f.startswith("chapters/")}
    assert listed == {f"chapters/{p.stem}" for p in CHAPTERS}


def test_every_toc_entry_exists():
    for entry in toc_files():
        assert any((ROOT / f"{entry}{ext}").exists() for ext in (".md", ".ipynb")), (
            entry
        )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
class TestChapterPattern:
    def test_title_then_colab_badge_for_this_file_at_this_version(self, path):
        first = source(cells(path)[0])
        assert first.startswith("# ") and not re.match(r"# \d", first), (
            "title first, unnumbered"
        )
        badge = f"https://colab.research.google.com/github/{REPO}/blob/{TAG}/chapters/{path.name}"
        assert badge in first, f"the Colab badge must point at {badge}"

    def test_the_first_code_cell_is_the_canonical_colab_install_cell(self, path):
        setup = next(c for c in cells(path) if c["cell_type"] == "code")
        assert "hide-input" in setup["metadata"].get("tags", [])
        assert source(setup) == colab_cell.FIRST_CELL, (
            "run `python scripts/colab_cell.py --write`"
        )

    def test_nbval_markers_are_tags_not_comments_on_the_page(self, path):
        # NBVAL_SKIP included: every cell is executed
        for cell in cells(path):
            assert "NBVAL" not in source(cell), "use the nbval-check-output tag instead"

    def test_no_output_is_checked_where_the_profile_changes_it(self, path):
        for cell in cells(path):
            if "nbval-check-output" in cell["metadata"].get("tags", []):
                assert "profile" not in source(cell), (
                    "a checked output may not depend on it"
                )

    def test_setup_chapter_is_called_once_early_with_the_chapters_number(self, path):
        code = [source(c) for c in cells(path) if c["cell_type"] == "code"]
        assert sum("setup_chapter(" in c for c in code) == 1
        (setup_cell,) = [c for c in code if "setup_chapter(" in c]
        assert code.index(setup_cell) in (1, 2), "the cell after the install cell"
        call = f'setup = setup_chapter("{path.stem[:2]}")'
        assert re.search(rf"^{re.escape(call)}$", setup_cell, re.M), call

    def test_no_budget_line_cell(self, path):
        # the chapter's top line is printed by setup_chapter("0N")
        for i, cell in enumerate(cells(path)):
            assert "budget_line" not in source(cell), f"cell {i} calls budget_line"

    def test_no_visible_code_cell_builds_prose(self, path, request):
        # prose lives in Markdown, its numbers glued from cells whose input is removed
        pending("prose_builders", path, request)
        for i, cell in enumerate(cells(path)):
            tags = set(cell["metadata"].get("tags", []))
            if cell["cell_type"] != "code" or tags & {"remove-input", "remove-cell"}:
                continue
            markdown = any(
                "text/markdown" in out.get("data", {})
                for out in cell.get("outputs", [])
            )
            lines = len(source(cell).splitlines())
            assert not (markdown and lines > 25), (
                f"cell {i}: {lines} visible lines that print Markdown"
            )

    def test_markdown_and_outputs_speak_to_readers(self, path):
        found = []
        for i, cell in enumerate(cells(path)):
            for text in page_texts(cell):
                for what, pattern in MACHINE_WORDS.items():
                    for match in pattern.finditer(text):
                        context = text[max(0, match.start() - 30) : match.end() + 30]
                        found.append(f"cell {i}, {what}: ...{context!r}...")
        assert not found, "\n".join(found)

    def test_ends_with_summary_and_exercises_with_hidden_solutions(self, path):
        markdown = "\n".join(
            source(c) for c in cells(path) if c["cell_type"] == "markdown"
        )
        assert "## Summary" in markdown and "## Exercises" in markdown
        assert markdown.index("## Summary") < markdown.index("## Exercises")
        assert re.search(r":class: dropdown", markdown), (
            "exercises need hidden solutions"
        )

    def test_stored_outputs_are_clean(self, path):
        for i, cell in enumerate(cells(path)):
            for out in cell.get("outputs", []):
                assert out["output_type"] != "error", f"cell {i} stores an error"
                text = (
                    out.get("text", "")
                    if isinstance(out.get("text"), str)
                    else "".join(out.get("text", []))
                )
                data = out.get("data", {})
                # a page shows text/plain only when there is nothing richer (a PNG,
                # HTML) beside it
                shown = (
                    [data.get("text/plain", "")]
                    if set(data) <= {"text/plain"}
                    else [
                        v
                        for k, v in data.items()
                        if k in ("text/html", "text/markdown")
                    ]
                )
                text += json.dumps(shown)
                assert not LEAKS.search(text), (
                    f"cell {i} output leaks: {LEAKS.search(text).group()}"
                )

    def test_no_paths_are_baked_in(self, path):
        for cell in cells(path):
            assert not re.search(r"\.\./shared|/work/|aclImdb_v1", source(cell)), (
                "use IMDB_PATH, not a path"
            )


def test_requirements_keep_jupyter_book_below_2():
    text = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^jupyter-book>=1\.0\.4\.post1,<2$", text, re.M)


def test_the_build_uses_the_execution_cache_and_stops_on_errors():
    # `make build` fills the cache from the stored outputs or the test run
    # (tests/test_book_build.py builds through it)
    assert CONFIG["execute"]["execute_notebooks"] == "cache"
    assert CONFIG["execute"]["allow_errors"] is False
    assert "BUILD_FLAGS = -W" in (ROOT / "Makefile").read_text()


def test_environments_and_build_folders_are_left_out_of_the_build():
    assert {".venv", "venv", "_build", ".git", "data", "runs"} <= set(
        CONFIG["exclude_patterns"]
    )
    assert CONFIG["only_build_toc_files"] is True


def test_colab_launch_buttons_are_on_and_open_the_tagged_version():
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert CONFIG["repository"]["branch"] == TAG


def test_every_figure_is_numbered_with_a_caption_and_a_unique_name():
    """A cell that draws a figure carries myst-nb's figure metadata (a caption and a
    ``fig-`` name for {numref}), so the page numbers and captions it."""
    names = []
    for path in CHAPTERS:
        for i, cell in enumerate(cells(path)):
            if cell["cell_type"] != "code" or not any(
                "image/png" in out.get("data", {}) for out in cell.get("outputs", [])
            ):
                continue
            figure = cell["metadata"].get("mystnb", {}).get("figure", {})
            where = f"{path.name}, cell {i} ({source(cell)[:40]!r})"
            assert figure.get("caption", "").strip(), f"{where}: no caption"
            assert str(figure.get("name", "")).startswith("fig-"), f"{where}: no name"
            names.append(figure["name"])
    assert len(names) == len(set(names)), "figure names must be unique across the book"
