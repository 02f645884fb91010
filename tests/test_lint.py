"""Every code line fits the web page's code column: at most 88 characters (ruff's E501).

The chapters' code cells are what readers see on the rendered pages, so they are checked
with utils/, scripts/ and tests/; pyproject.toml's ``[tool.ruff]`` holds the same limit
for editors and ``ruff check`` run by hand.
"""

import importlib.util
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
