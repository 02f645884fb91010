"""scripts/run_chapters.py: the one command that times chapters in a profile (the GPU
check of utils/budget.py's estimates) runs a chapter and records it with its provenance.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "run_chapters.py"


@pytest.mark.skipif(
    not os.environ.get("IMDB_PATH"), reason="no IMDb data: set IMDB_PATH"
)
def test_it_runs_a_chapter_and_records_time_setup_and_commit(tmp_path):
    cmd = [
        sys.executable,
        str(SCRIPT),
        "02",
        "--profile",
        "smoke",
        "--output-dir",
        str(tmp_path),
        "--allow-dirty",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    [path] = tmp_path.glob("chapters_smoke_*.json")
    record = json.loads(path.read_text())
    [run] = record["runs"]
    assert run["ok"] and run["chapter"] == "02_transformer" and run["seconds"] > 0
    assert "profile smoke" in run["setup"][0]
    assert record["commit"] and {"torch", "transformers"} <= set(record["versions"])
    assert (path.with_suffix("") / "02_transformer.ipynb").exists()


def test_an_unknown_chapter_is_named():
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "09",
            "--allow-dirty",
            "--output-dir",
            "/nonexistent",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "No chapter 09" in done.stderr
