"""scripts/run_chapters.py: the one command that times chapters in a profile (the GPU
check of utils/budget.py's estimates) runs a chapter and records it with its provenance
and hardware, stops at a deadline and says so, and (for tests of the GPU check) can
record without executing."""

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
    # the chapter's first printed line: the reader's line from setup_chapter
    assert run["setup"][0].startswith("The outputs below come from a ")
    assert record["profile"] == "smoke"
    assert record["commit"] and {"torch", "transformers"} <= set(record["versions"])
    assert record["cpu"] and record["threads"] >= 1 and record["gpu"] is None
    assert (path.with_suffix("") / "02_transformer.ipynb").exists()


def record_of(args: list[str], tmp_path) -> tuple[subprocess.CompletedProcess, dict]:
    cmd = [sys.executable, str(SCRIPT), *args, "--output-dir", str(tmp_path)]
    done = subprocess.run(
        [*cmd, "--allow-dirty"], capture_output=True, text=True, timeout=300
    )
    [path] = tmp_path.glob("chapters_*.json")
    return done, json.loads(path.read_text())


def test_a_chapter_still_running_at_the_deadline_is_stopped_and_the_rest_not_started(
    tmp_path,
):
    done, record = record_of(
        ["02", "03", "--profile", "smoke", "--deadline", "3"], tmp_path
    )
    assert done.returncode != 0 and "a chapter failed" in done.stderr
    first, second = record["runs"]
    assert not first["ok"] and first["returncode"] is None
    assert "stopped at the deadline" in first["error"] and first["seconds"] < 60
    assert not second["ok"] and "not started" in second["error"]
    assert record["deadline_seconds"] == 3


def test_a_dry_run_reads_the_chapters_and_executes_nothing(tmp_path):
    done, record = record_of(["04", "07", "--dry-run", "--profile", "full"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert record["dry_run"] and record["profile"] == "full"
    assert [r["chapter"][:2] for r in record["runs"]] == ["04", "07"]
    assert all(r["ok"] and "not executed" in r["setup"][0] for r in record["runs"])


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
