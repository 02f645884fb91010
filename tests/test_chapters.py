"""Every chapter follows the pattern of CONTRIBUTING.md, and the table of contents lists
them all."""

import json
import re
from pathlib import Path

import pytest
import yaml

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

    def test_setup_cell_installs_utils_at_the_chapters_version_in_colab_only(
        self, path
    ):
        setup = cells(path)[1]
        text = source(setup)
        assert setup["cell_type"] == "code" and "hide-input" in setup["metadata"].get(
            "tags", []
        )
        assert 'if "google.colab" in sys.modules:\n    %pip install' in text
        assert f'"git+{REPO_URL}@{TAG}"' in text, (
            "install utils from the chapter's own tag"
        )

    def test_nbval_markers_are_tags_not_comments_on_the_page(self, path):
        for cell in cells(path):
            assert "NBVAL" not in source(cell), "use the nbval-check-output tag instead"

    def test_no_output_is_checked_where_the_profile_changes_it(self, path):
        for cell in cells(path):
            if "nbval-check-output" in cell["metadata"].get("tags", []):
                assert "profile" not in source(cell), (
                    "a checked output may not depend on it"
                )

    def test_setup_chapter_is_called_once_early(self, path):
        code = [source(c) for c in cells(path) if c["cell_type"] == "code"]
        assert "setup_chapter(" in code[1] + code[2 if len(code) > 2 else 1]
        assert sum("setup_chapter(" in c for c in code) == 1

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

    def test_no_hand_written_results_in_the_code(self, path):
        # a chapter prints what it computed; it never overwrites a result with a literal
        for cell in cells(path):
            assert "NBVAL_SKIP" not in source(cell), "cells may not be skipped"


def test_requirements_keep_jupyter_book_below_2():
    text = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^jupyter-book>=1\.0\.4\.post1,<2$", text, re.M)


def test_the_build_executes_chapters_and_stops_on_errors():
    assert CONFIG["execute"]["execute_notebooks"] in ("cache", "force")
    assert CONFIG["execute"]["allow_errors"] is False
    assert "-W" in (ROOT / "Makefile").read_text()


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
