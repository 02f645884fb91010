"""scripts/gpu_check.sh, the one command for the GPU check, run in its dry mode on the
CPU (the same parts, at tiny sizes): every part's exit status is recorded with the
hardware and the date whether or not it passed, the records land where they should and
in $OUT, and the command fails when a part did."""

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "gpu_check.sh"


@pytest.mark.skipif(
    not os.environ.get("IMDB_PATH"), reason="no IMDb data: set IMDB_PATH"
)
def test_a_failing_part_is_recorded_and_the_others_still_run(tmp_path):
    env = {
        **os.environ,
        "GPU_CHECK_RESULTS": str(tmp_path / "results"),
        "GPU_CHECK_WORK": str(tmp_path / "work"),
        "OUT": str(tmp_path / "out"),
        # chapter 99 does not exist: the chapters part fails
        "GPU_CHECK_CHAPTERS": "04 99",
    }
    done = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    [summary] = (tmp_path / "results").glob("gpu_check_smoke_*.json")
    record = json.loads(summary.read_text())
    parts = {p["part"]: p for p in record["parts"]}
    assert list(parts) == ["preflight", "chapters", "benchmark"]
    assert parts["preflight"]["exit_status"] == 0
    assert parts["chapters"]["exit_status"] == 1 and not parts["chapters"]["ok"]
    assert any("No chapter 99" in line for line in parts["chapters"]["last_lines"])
    assert parts["benchmark"]["exit_status"] == 0, parts["benchmark"]["last_lines"]
    assert record["ok"] is False and record["dry_run"] is True
    assert {"date", "commit", "versions", "device", "cpu", "threads"} <= set(record)
    [benchmark] = (tmp_path / "results").glob("benchmark_imdb_smoke_*.json")
    assert json.loads(benchmark.read_text())["repeats"] == 1
    # what the lent machine hands back: the records and the logs
    back = {p.name for p in (tmp_path / "out").iterdir()}
    assert {summary.name, benchmark.name, "gpu_check_logs.tar.gz"} <= back
    with tarfile.open(tmp_path / "out" / "gpu_check_logs.tar.gz") as logs:
        names = {Path(n).name for n in logs.getnames()}
    assert {"preflight.log", "chapters.log", "benchmark.log"} <= names
    assert "chapters: exit 1" in done.stdout and "benchmark: exit 0" in done.stdout


def test_an_unknown_option_is_refused():
    done = subprocess.run(
        ["bash", str(SCRIPT), "--fast"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "usage" in done.stderr
