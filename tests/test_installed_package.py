"""A chapter runs from the installed package alone, as in Colab, and a failed install
stops a chapter at its first cell with one line.

The wheel is built from this checkout (not an editable install). A chapter, copied into
an empty folder, is executed with its first code cell taking the Colab branch: the
canonical cell (``scripts/colab_cell.py``) installs the wheel with ``%pip`` into a
fresh target folder, in a kernel that has ``google.colab`` imported and does not see
this checkout. Whatever the chapter reads must then come with the package.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scripts import colab_cell

ROOT = Path(__file__).resolve().parent.parent
# a short chapter that reads IMDb, loads the model and trains a probe
CHAPTER = ROOT / "chapters" / "01_pretrained_language_models.ipynb"

# As in a Colab runtime: google.colab is imported, and this checkout is not importable
# (its editable install is hidden: a finder on sys.meta_path, or a path entry).
SITECUSTOMIZE = """\
import importlib.machinery
import sys
import types

# a module with a spec, as a real import leaves it (libraries call find_spec on it)
colab = types.ModuleType("google.colab")
colab.__spec__ = importlib.machinery.ModuleSpec("google.colab", None)
sys.modules["google.colab"] = colab
sys.meta_path[:] = [
    f for f in sys.meta_path if "pretrained_lm_book" not in getattr(f, "__module__", "")
]
sys.path[:] = [p for p in sys.path if p.rstrip("/") != {root!r}]
"""

# nbclient, keeping the outputs of a run that stops at an error
RUN = """\
import sys

import nbclient
import nbformat
from nbclient.exceptions import CellExecutionError

path, folder = sys.argv[1:]
nb = nbformat.read(path, as_version=4)
client = nbclient.NotebookClient(
    nb, timeout=900, resources={"metadata": {"path": folder}}
)
try:
    client.execute()
except CellExecutionError:
    pass
nbformat.write(nb, path)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The package's wheel, built from a copy of the checkout's package files (the
    build leaves build/ and egg-info folders where it runs)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(
        ROOT / "utils", source / "utils", ignore=shutil.ignore_patterns("__pycache__")
    )
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps"]
    if importlib.util.find_spec("setuptools"):  # else pip fetches it to build
        command.append("--no-build-isolation")
    command += ["-w", str(tmp / "dist"), str(source)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    (built,) = (tmp / "dist").glob("pretrained_lm_book-*.whl")
    return built


def committed_package_files() -> list[str]:
    """utils/'s files as committed (what a clone, and so a pip install from the tag,
    has)."""
    done = subprocess.run(
        ["git", "ls-files", "utils"], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0 or not done.stdout.strip():
        pytest.skip("not a git checkout")
    return done.stdout.split()


def test_the_wheel_holds_every_committed_file_of_utils(wheel):
    # the question set (chapter 5), the recorded runs (chapter 4), the metric modules
    packed = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in committed_package_files() if name not in packed]
    assert not missing, f"not in the wheel (pyproject.toml's package-data): {missing}"
    assert any(name.startswith("utils/data/") for name in packed)
    assert any(name.startswith("utils/results/") for name in packed)


def colab_kernel_env(tmp: Path, target: Path) -> dict:
    """A kernel environment as in Colab, whose ``%pip install`` puts the package into
    ``target`` (already on the path) from local files only."""
    custom = tmp / "colab"
    custom.mkdir()
    root = str(ROOT).rstrip("/")
    (custom / "sitecustomize.py").write_text(SITECUSTOMIZE.format(root=root))
    target.mkdir()
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(custom), str(target)]),
        "PIP_TARGET": str(target),
        "PIP_NO_DEPS": "1",
        "PIP_NO_INDEX": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


def run(nb: dict, folder: Path, env: dict) -> list[dict]:
    """Execute ``nb`` in ``folder`` (top to bottom, up to the first error); return its
    cells."""
    path = folder / "chapter.ipynb"
    path.write_text(json.dumps(nb))
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(path), str(folder)],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(path.read_text())["cells"]


def errors(cells: list[dict]) -> list[dict]:
    return [
        o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"
    ]


def test_a_chapter_runs_from_the_installed_package_alone(wheel, tmp_path):
    target, folder = tmp_path / "site-packages", tmp_path / "empty"
    env = colab_kernel_env(tmp_path, target)
    folder.mkdir()
    nb = colab_cell.set_first_cell(json.loads(CHAPTER.read_text()), wheel.as_uri())
    report = "import json, utils\nprint('UTILS FROM', json.dumps(utils.__file__))"
    nb["cells"].append(
        {
            "cell_type": "code",
            "id": "installed-package-report",
            "metadata": {},
            "source": report,
            "outputs": [],
            "execution_count": None,
        }
    )
    cells = run(nb, folder, env)
    assert not errors(cells), errors(cells)[0]
    text = "".join(
        "".join(o.get("text", "")) for c in cells for o in c.get("outputs", [])
    )
    where = Path(json.loads(text.split("UTILS FROM ", 1)[1].splitlines()[0]))
    assert where.parent == target / "utils", "utils came from the installed wheel"
    assert list(target.glob("pretrained_lm_book-*.dist-info"))
    assert "Traceback" not in text and "Warning" not in text


def test_a_failed_install_stops_the_notebook_at_the_first_cell_with_one_line(
    tmp_path,
):
    target, folder = tmp_path / "site-packages", tmp_path / "empty"
    env = colab_kernel_env(tmp_path, target)
    folder.mkdir()
    missing = "file:///nowhere/pretrained_lm_book-0.0.0-py3-none-any.whl"
    code = [colab_cell.first_cell(missing), "from utils import setup_chapter\n"]
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "id": f"cell-{i}",
                "metadata": {},
                "source": source,
                "outputs": [],
                "execution_count": None,
            }
            for i, source in enumerate(code)
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    first, second = run(nb, folder, env)
    (error,) = errors([first])
    assert error["ename"] == "InstallFailed"
    assert error["traceback"] == [error["evalue"]], "one line, no traceback"
    assert error["evalue"].startswith(f"Installing the book's utils from {missing}")
    assert error["evalue"].endswith("Runtime > Restart session, and run all again.")
    assert second["execution_count"] is None and not second["outputs"], "it stopped"
