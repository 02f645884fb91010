"""scripts/finetune_imdb.py runs end to end at smoke size, honours BOOK_MODEL, and
records results only with the commit that made them."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "finetune_imdb.py"
FIELDS = {
    "accuracy",
    "f1",
    "train_seconds",
    "train_samples_per_second",
    "peak_memory_gb",
    "gpu",
    "device",
    "versions",
    "date",
    "commit",
    "dirty",
    "model",
    "profile",
    "train_size",
    "test_size",
    "runs",
    "baselines",
    "profile_changed",
}


def load_script():
    spec = importlib.util.spec_from_file_location("finetune_imdb", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_dirty_tree_is_refused_unless_allowed():
    script = load_script()
    with pytest.raises(SystemExit, match="uncommitted changes.*--allow-dirty"):
        script.check_provenance({"commit": "abc", "dirty": True}, allow_dirty=False)
    with pytest.raises(SystemExit, match="not a git checkout"):
        script.check_provenance({"commit": None, "dirty": None}, allow_dirty=False)
    script.check_provenance({"commit": "abc", "dirty": True}, allow_dirty=True)
    script.check_provenance({"commit": "abc", "dirty": False}, allow_dirty=False)


def test_the_recorded_commit_is_the_checkouts():
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    assert load_script().git_commit()["commit"] == head


@pytest.mark.skipif(
    not os.environ.get("IMDB_PATH"), reason="no IMDb data: set IMDB_PATH"
)
def test_script_runs_at_smoke_size_with_book_model(tmp_path):
    from utils.models import packaged_stand_in

    model = packaged_stand_in()
    env = {**os.environ, "BOOK_MODEL": str(model)}
    cmd = [
        sys.executable,
        str(SCRIPT),
        "--profile",
        "smoke",
        "--train-size",
        "200",
        "--test-size",
        "200",
        "--output-dir",
        str(tmp_path),
        "--allow-dirty",
    ]
    done = subprocess.run(
        cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [path] = tmp_path.glob("finetune_imdb_smoke_*.json")
    record = json.loads(path.read_text())
    assert FIELDS <= set(record), FIELDS - set(record)
    assert record["train_size"] == 200 and record["test_size"] == 200
    assert record["profile"] == "smoke" and record["model"] == model.name
    assert {"model", "train_size", "test_size"} <= set(record["profile_changed"])
    assert [r["truncation"] for r in record["runs"]] == ["head", "head+tail"]
    for run in record["runs"]:
        assert 0.0 <= run["accuracy"] <= 1.0 and 0.0 <= run["f1"] <= 1.0
        assert run["train_seconds"] > 0 and run["peak_memory_gb"] > 0
    assert {"torch", "transformers", "datasets"} <= set(record["versions"])
    assert all(0.5 <= b["accuracy"] <= 1.0 for b in record["baselines"].values())
