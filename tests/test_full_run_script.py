"""scripts/finetune_imdb.py runs end to end at a small size, honours BOOK_MODEL,
records results only with the commit that made them (utils.recording), goes on from
its last complete checkpoint after an interruption and ends where an uninterrupted run
does, and runs unchanged on two processes (torchrun, gloo on the CPU) with the same
outcome as on one."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils import recording

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


def test_a_dirty_tree_is_refused_unless_allowed():
    with pytest.raises(SystemExit, match="uncommitted changes.*--allow-dirty"):
        recording.check_provenance({"commit": "abc", "dirty": True}, allow_dirty=False)
    with pytest.raises(SystemExit, match="not a git checkout"):
        recording.check_provenance({"commit": None, "dirty": None}, allow_dirty=False)
    recording.check_provenance({"commit": "abc", "dirty": True}, allow_dirty=True)
    recording.check_provenance({"commit": "abc", "dirty": False}, allow_dirty=False)


def test_the_recorded_commit_is_the_checkouts():
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    assert recording.git_commit()["commit"] == head


def test_a_tree_exported_with_git_archive_names_its_commit_as_clean(tmp_path):
    (tmp_path / ".commit").write_text("0123abcd\n")
    assert recording.git_commit(tmp_path) == {"commit": "0123abcd", "dirty": False}
    assert recording.git_commit(tmp_path / "nothing") == {
        "commit": None,
        "dirty": None,
    }


@pytest.mark.skipif(
    not os.environ.get("IMDB_PATH"), reason="no IMDb data: set IMDB_PATH"
)
def test_script_runs_at_a_small_size_with_book_model(tmp_path):
    from utils.imdb import load_imdb
    from utils.models import packaged_stand_in

    model = packaged_stand_in()
    env = {
        **os.environ,
        "BOOK_MODEL": str(model),
        "BOOK_PROFILE_OVERRIDES": "max_length=64",
    }
    cmd = [sys.executable, str(SCRIPT), "--profile", "smoke"]
    cmd += ["--train-size", "96", "--test-size", "64", "--output-dir", str(tmp_path)]
    done = subprocess.run(
        [*cmd, "--allow-dirty"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [path] = tmp_path.glob("finetune_imdb_smoke_*.json")
    record = json.loads(path.read_text())
    assert FIELDS <= set(record), FIELDS - set(record)
    assert record["train_size"] == 96 and record["test_size"] == 64
    assert record["profile"] == "smoke" and record["model"] == model.name
    assert {"model", "train_size", "test_size"} <= set(record["profile_changed"])
    assert record["hyperparameters"]["max_length"] == 64
    assert [r["truncation"] for r in record["runs"]] == ["head", "head+tail"]
    # the test reviews, in the order the per-review answers follow
    from utils import setup_chapter

    setup = setup_chapter(profile="smoke")
    setup.profile = setup.profile.replace(train_size=96, test_size=64)
    texts = load_imdb(setup, verbose=False)["test"]["text"]
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    assert record["test_order_sha256"] == digest
    for run in record["runs"]:
        # accuracy is the share of the test reviews answered right, review by review
        assert len(run["correct"]) == 64
        assert run["accuracy"] == pytest.approx(run["correct"].count("1") / 64)
        assert run["optimizer_steps"] == 96 // 32  # one epoch of batches of 32
        assert run["train_seconds"] > 0 and run["peak_memory_gb"] > 0
    for name, baseline in record["baselines"].items():
        assert len(baseline["correct"]) == 64, name
        assert baseline["accuracy"] == pytest.approx(
            baseline["correct"].count("1") / 64
        )
    assert {"torch", "transformers", "datasets"} <= set(record["versions"])
    assert record["cpu"] and record["threads"] >= 1 and record["gpu"] is None


# Two processes train on the same reviews as one, with the same batch: 64 reviews of at
# most 64 tokens in 8 steps of 8 (4 per process). LengthGroupedSampler sorts the same
# chunks of 16 reviews either way (at most 50 batches, and a quarter of the data: 2 x 8
# = 4 x 4), so each step's two halves together are the one-process run's batch. Without
# dropout (each process would draw its own masks) and in fp32, the two runs then differ
# only by the order of floating-point sums. Measured: final evaluation losses 6e-8
# apart; a one-process run with batches of 16 (4 steps) ends 4.5e-4 away, one with two
# epochs 2.7e-3.
SPLIT_RUN = ["--train-size", "64", "--test-size", "32", "--truncation", "head+tail"]
# (gradient_accumulation_steps=1: each process takes its 4 reviews in one step)
SPLIT_SIZES = (
    "max_length=64; batch_size=8; warmup_steps=1; gradient_accumulation_steps=1"
)
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


# A run stopped right after a checkpoint (--stop-after-steps ends the process there, as
# an interruption would) and started again with the same settings goes on from that
# checkpoint, skips a half-written one after it, and ends where a run that was never
# stopped ends: 64 reviews of at most 64 tokens, 8 steps of 8, a checkpoint every 2.
RESUME_RUN = ["--train-size", "64", "--test-size", "32", "--truncation", "head+tail"]
RESUME_RUN += ["--skip-baselines", "--allow-dirty", "--save-steps", "2"]


def resumable_run(out: Path, env: dict, *extra: str):
    cmd = [sys.executable, str(SCRIPT), "--profile", "smoke", *RESUME_RUN]
    cmd += ["--output-dir", str(out), "--run-dir", str(out.parent / "runs"), *extra]
    return subprocess.run(
        cmd, env=env, cwd=out.parent, capture_output=True, text=True, timeout=300
    )


@pytest.mark.skipif(
    not os.environ.get("IMDB_PATH"), reason="no IMDb data: set IMDB_PATH"
)
def test_a_stopped_run_goes_on_from_its_last_complete_checkpoint(
    tmp_path, model_without_dropout
):
    env = {
        **os.environ,
        "BOOK_PROFILE_OVERRIDES": SPLIT_SIZES,
        "BOOK_MODEL": str(model_without_dropout),
        "BOOK_PRECISION": "fp32",
    }
    whole = resumable_run(tmp_path / "whole", env)
    assert whole.returncode == 0, whole.stderr[-3000:]
    [record] = (tmp_path / "whole").glob("finetune_imdb_smoke_*.json")
    unstopped = json.loads(record.read_text())["runs"][0]

    stopped = resumable_run(tmp_path / "again", env, "--stop-after-steps", "4")
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    assert "stopped after the checkpoint of step 4" in stopped.stdout
    assert not list((tmp_path / "again").glob("*.json"))  # nothing recorded yet
    [folder] = (tmp_path / "runs").glob("finetune_imdb-*/head_tail")
    assert (folder / "checkpoint-4" / "trainer_state.json").exists()
    # a run killed while writing its next checkpoint leaves it half-written
    (folder / "checkpoint-6").mkdir()
    (folder / "checkpoint-6" / "config.json").write_text("{}")

    resumed = resumable_run(tmp_path / "again", env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "checkpoint-6 is incomplete" in resumed.stdout
    assert "going on from checkpoint-4 (step 4)" in resumed.stdout
    [record] = (tmp_path / "again").glob("finetune_imdb_smoke_*.json")
    run = json.loads(record.read_text())["runs"][0]
    assert run["resumed_from_step"] == 4 and unstopped["resumed_from_step"] is None
    assert run["optimizer_steps"] == unstopped["optimizer_steps"] == 8
    assert run["correct"] == unstopped["correct"]
    assert abs(run["eval_loss"] - unstopped["eval_loss"]) < LOSS_TOLERANCE
    assert not folder.exists()  # the finished run's checkpoints are gone
