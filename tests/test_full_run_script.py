"""scripts/finetune_imdb.py runs end to end at smoke size and records what a full run must record."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "finetune_imdb.py"
FIELDS = {"accuracy", "f1", "train_seconds", "train_samples_per_second", "peak_memory_gb", "gpu", "device",
          "versions", "date", "commit", "model", "profile", "train_size", "test_size", "runs", "baselines"}


@pytest.mark.skipif(not os.environ.get("IMDB_PATH") and os.environ.get("HF_DATASETS_OFFLINE") == "1",
                    reason="no IMDb data: set IMDB_PATH")
def test_script_runs_at_smoke_size(tmp_path):
    env = {**os.environ, "BOOK_PROFILE": "smoke"}
    cmd = [sys.executable, str(SCRIPT), "--profile", "smoke", "--train-size", "200", "--test-size", "200",
           "--output-dir", str(tmp_path)]
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    [path] = tmp_path.glob("finetune_imdb_smoke_*.json")
    record = json.loads(path.read_text())
    assert FIELDS <= set(record), FIELDS - set(record)
    assert record["train_size"] == 200 and record["test_size"] == 200 and record["profile"] == "smoke"
    assert [r["truncation"] for r in record["runs"]] == ["head", "head+tail"]
    for run in record["runs"]:
        assert 0.0 <= run["accuracy"] <= 1.0 and 0.0 <= run["f1"] <= 1.0
        assert run["train_seconds"] > 0 and run["train_samples_per_second"] > 0 and run["peak_memory_gb"] > 0
    assert {"torch", "transformers", "datasets"} <= set(record["versions"])
    assert len(record["baselines"]) == 2
    assert all(0.5 <= b["accuracy"] <= 1.0 for b in record["baselines"].values())
