"""scripts/finetune_imdb.py runs end to end at smoke size, honours BOOK_MODEL, records
results only with the commit that made them, and runs unchanged on two processes
(torchrun, gloo on the CPU) with the same outcome as on one."""

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


# Two processes train on the same reviews as one, with the same batch: 64 reviews of at
# most 64 tokens in 8 steps of 8 (4 per process). LengthGroupedSampler sorts the same
# chunks of 16 reviews either way (at most 50 batches, and a quarter of the data: 2 x 8
# = 4 x 4), so each step's two halves together are the one-process run's batch. Without
# dropout (each process would draw its own masks) and in fp32, the two runs then differ
# only by the order of floating-point sums. Measured: final evaluation losses 6e-8
# apart; a one-process run with batches of 16 (4 steps) ends 4.5e-4 away, one with two
# epochs 2.7e-3.
SPLIT_RUN = ["--train-size", "64", "--test-size", "32", "--truncation", "head+tail"]
SPLIT_SIZES = "max_length=64; batch_size=8; warmup_steps=1"
LOSS_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def model_without_dropout(tmp_path_factory):
    from transformers import AutoModel, AutoTokenizer

    from utils.models import packaged_stand_in

    source, folder = packaged_stand_in(), tmp_path_factory.mktemp("no-dropout")
    no_dropout = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    AutoModel.from_pretrained(source, **no_dropout).save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return folder


def run_script(launcher: list[str], out: Path, env: dict) -> dict:
    cmd = [*launcher, str(SCRIPT), "--profile", "smoke", *SPLIT_RUN]
    cmd += ["--skip-baselines", "--allow-dirty", "--output-dir", str(out)]
    cmd += ["--record-seen", str(out / "seen")]
    done = subprocess.run(
        cmd, env=env, cwd=out.parent, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # rank 0 alone prints the result and writes the record
    assert done.stdout.count("head+tail: accuracy") == 1, done.stdout
    [path] = out.glob("finetune_imdb_smoke_*.json")
    seen = sorted((out / "seen").glob("seen_head+tail_rank*.json"))
    return {
        "record": json.loads(path.read_text()),
        "seen": [json.loads(p.read_text()) for p in seen],
    }


@pytest.mark.skipif(
    not os.environ.get("IMDB_PATH"), reason="no IMDb data: set IMDB_PATH"
)
def test_two_processes_split_the_reviews_and_end_where_one_does(
    tmp_path, model_without_dropout
):
    env = {
        **os.environ,
        "BOOK_PROFILE_OVERRIDES": SPLIT_SIZES,
        "BOOK_MODEL": str(model_without_dropout),
        "BOOK_PRECISION": "fp32",
    }
    one = run_script([sys.executable], tmp_path / "one", env)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    two = run_script([*torchrun, "--nproc_per_node", "2"], tmp_path / "two", env)

    assert [s["rank"] for s in two["seen"]] == [0, 1]
    assert two["record"]["processes"] == 2
    assert two["record"]["per_device_batch_size"] == 4
    # both ranks trained, every step, on half of the reviews each
    for rank in two["seen"]:
        assert rank["optimizer_steps"] == 64 // 8
        assert len(rank["examples"]) == 64 // 2
    # ... and no review was seen twice in the epoch: together they saw each one once
    first, second = (rank["examples"] for rank in two["seen"])
    assert sorted(first + second) == list(range(64))
    # each step, the two halves are the batch the single process took
    alone = one["seen"][0]["examples"]
    assert sorted(alone) == list(range(64))
    for step in range(64 // 8):
        half = slice(4 * step, 4 * step + 4)
        assert set(first[half]) | set(second[half]) == set(
            alone[8 * step : 8 * step + 8]
        )

    [a], [b] = one["record"]["runs"], two["record"]["runs"]
    assert a["optimizer_steps"] == b["optimizer_steps"] == 64 // 8
    assert abs(a["eval_loss"] - b["eval_loss"]) < LOSS_TOLERANCE, (a, b)
