"""Every chapter's first code cell, in one place: in Colab it installs this book's utils
at the chapter's own version (``v`` + pyproject.toml's version: the tag that the Colab
badge and ``_config.yml``'s ``repository.branch`` name too), and stops the notebook with
one line when that install fails; anywhere else it does nothing.

    python scripts/colab_cell.py           # print the cell
    python scripts/colab_cell.py --check   # name the notebooks where it differs
    python scripts/colab_cell.py --write   # set it in the chapters and book/setup.ipynb

``--write`` replaces the source of each notebook's first code cell and keeps the cell's
id, tags and other metadata (tests/test_chapters.py checks that every chapter's first
code cell is this one).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "https://github.com/pretrained-lm-book/pretrained-lm-book"
VERSION = re.search(
    r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M
)[1]
TAG = f"v{VERSION}"
SOURCE = f"git+{REPOSITORY}@{TAG}"

TEMPLATE = """\
# Setup: in Colab, install this book's utils at this chapter's version; else nothing.
import sys

BOOK = "{source}"
if "google.colab" in sys.modules:
    %pip install -q "pretrained-lm-book @ {{BOOK}}"
    import importlib.util

    importlib.invalidate_caches()  # so that the import system sees what pip put
    if globals().get("_exit_code") or not importlib.util.find_spec("utils"):

        class InstallFailed(Exception):  # shown as its message alone
            def _render_traceback_(self):
                return [str(self)]

        raise InstallFailed(
            f"Installing the book's utils from {{BOOK}} failed (pip says why, above):"
            " check the connection, then Runtime > Restart session, and run all again."
        )"""


def first_cell(source: str = SOURCE) -> str:
    """The cell, installing from ``source`` (a pip requirement's URL; tests install a
    locally built wheel, ``file:///.../pretrained_lm_book-....whl``)."""
    return TEMPLATE.format(source=source)


FIRST_CELL = first_cell()


def notebooks() -> list[Path]:
    return [
        *sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")),
        ROOT / "book/setup.ipynb",
    ]


def first_code_cell(nb: dict) -> dict:
    return next(cell for cell in nb["cells"] if cell["cell_type"] == "code")


def set_first_cell(nb: dict, source: str = SOURCE) -> dict:
    """``nb`` (a notebook's JSON) with its first code cell set to the canonical one; the
    cell's id and metadata stay."""
    cell = first_code_cell(nb)
    text = first_cell(source)
    cell["source"] = text.splitlines(keepends=True)
    return nb


def cell_text(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--check", action="store_true", help="list notebooks that differ"
    )
    action.add_argument("--write", action="store_true", help="set the cell everywhere")
    args = parser.parse_args(argv)
    if not (args.check or args.write):
        print(FIRST_CELL)
        return 0
    differ = []
    for path in notebooks():
        nb = json.loads(path.read_text(encoding="utf-8"))
        if cell_text(first_code_cell(nb)) == FIRST_CELL:
            continue
        differ.append(path.relative_to(ROOT))
        if args.write:
            text = json.dumps(set_first_cell(nb), indent=1, ensure_ascii=False)
            path.write_text(text + "\n", encoding="utf-8")
    verb = "set in" if args.write else "differs in"
    for name in differ:
        print(f"first code cell {verb} {name}")
    return 1 if differ and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
