#!/usr/bin/env python
"""Chapter 4's recipe as one command: fine-tune the profile's model on IMDb and record
the run.

    # full profile: all 25,000 / 25,000 reviews
    python scripts/finetune_imdb.py
    python scripts/finetune_imdb.py --profile smoke --train-size 200 --test-size 200 \\
        --output-dir /tmp/run

Writes ``<output-dir>/finetune_imdb_<profile>_<UTC time>.json``: accuracy, F1, training
time, samples/s, peak memory, device, library versions, date and git commit, for each
truncation (head-only, head+tail) and for the traditional baselines on the same split.
Chapter 4 shows the newest full-profile file in ``results/`` next to its own smoke run.
Commit only files of real runs, made from a clean checkout: the script refuses to record
from a tree with uncommitted changes (``--allow-dirty`` records anyway, marked
``"dirty": true``).

The same script runs, unchanged, on several processes: ``Trainer`` trains data-parallel
(DDP: NCCL between GPUs, gloo between CPU processes) when ``torchrun`` starts it.

    torchrun --nproc_per_node 4 scripts/finetune_imdb.py      # 4 GPUs of one machine
    # two machines with 8 GPUs each: run this on both, with --node_rank 0 on the first
    torchrun --nnodes 2 --nproc_per_node 8 --node_rank 0 \\
        --rdzv_backend c10d --rdzv_endpoint FIRST_HOST:29500 scripts/finetune_imdb.py

Each process takes an equal share of the profile's batch (``batch_size`` stays the batch
the model learns from, so the learning rate still fits it) and of every epoch's reviews.
Rank 0 alone prints and writes the JSON; ``--record-seen DIR`` makes every rank write
the training reviews it saw (tests/test_full_run_script.py checks the split).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `import utils` without installing the package


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--profile",
        default="full",
        help="run profile (utils/profiles.py); default: full",
    )
    parser.add_argument(
        "--train-size",
        type=int,
        help="training reviews (default: the profile's; 0 = all)",
    )
    parser.add_argument(
        "--test-size", type=int, help="test reviews (default: the profile's; 0 = all)"
    )
    parser.add_argument("--epochs", type=float, help="override the profile's epochs")
    parser.add_argument(
        "--learning-rate", type=float, help="override the profile's learning rate"
    )
    parser.add_argument(
        "--truncation",
        choices=["head", "head+tail", "both"],
        default="both",
        help="which truncation(s) to fine-tune with; default: both, to compare them",
    )
    parser.add_argument(
        "--skip-baselines",
        action="store_true",
        help="do not fit the TF-IDF and NBSVM baselines",
    )
    parser.add_argument(
        "--baselines-only",
        action="store_true",
        help="fit only the baselines (CPU, about a minute on the full data); "
        "writes baselines_imdb_*.json",
    )
    parser.add_argument(
        "--model",
        help="a Hub id or local folder instead of the profile's "
        "model (default: BOOK_MODEL, else the profile's)",
    )
    parser.add_argument(
        "--record-seen",
        metavar="DIR",
        help="every process writes the training reviews it saw to "
        "DIR/seen_<truncation>_rank<N>.json (to check how the data was split)",
    )
    add_recording_options(parser, "the JSON")
    return parser.parse_args(argv)


def add_recording_options(parser, what: str) -> None:
    """Where a recorded run goes, and whether a tree with uncommitted changes may
    record (``check_provenance``); shared with ``scripts/run_chapters.py``."""
    parser.add_argument(
        "--output-dir",
        default=str(REPO / "results"),
        help=f"where to write {what} (default: results/)",
    )
    parser.add_argument(
        "--allow-dirty",
        action="store_true",
        help="record even with uncommitted changes (marked dirty)",
    )


def git_commit() -> dict:
    """The commit the code comes from, and whether tracked files differ from it."""

    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        status = git("status", "--porcelain", "--untracked-files=no")
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(status)}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def check_provenance(provenance: dict, allow_dirty: bool) -> None:
    """A recorded result must name the clean commit that produced it."""
    if provenance["dirty"] is False or allow_dirty:
        return
    why = (
        "tracked files have uncommitted changes"
        if provenance["dirty"]
        else "this is not a git checkout"
    )
    raise SystemExit(
        f"Refusing to record a run: {why}, so no commit would describe the "
        "code that made it. Commit first, or pass --allow-dirty."
    )


def versions() -> dict:
    import datasets, evaluate, sklearn, torch, transformers  # noqa: E401

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "datasets": datasets.__version__,
        "evaluate": evaluate.__version__,
        "scikit-learn": sklearn.__version__,
    }


def peak_memory_gb(device) -> tuple[float, str]:
    import torch

    if device.type == "cuda":
        return (
            torch.cuda.max_memory_allocated() / 2**30,
            "torch.cuda.max_memory_allocated",
        )
    return resource.getrusage(
        resource.RUSAGE_SELF
    ).ru_maxrss / 2**20, "process max RSS"  # Linux: KiB


class SeenRecorder:
    """A collator that notes which training reviews (their ``example`` column) it
    batched, and hands the rest of each batch to ``collate``."""

    def __init__(self, collate):
        self.collate, self.seen = collate, []

    def __call__(self, features):
        if "example" in features[0]:
            self.seen += [f.pop("example") for f in features]
        return self.collate(features)


def fine_tune(setup, data, tokenizer, truncation: str, state, record_seen=None) -> dict:
    """Tokenize, fine-tune, evaluate: one run of the chapter's recipe, on this process's
    share of the data when ``state`` (accelerate's) has several processes."""
    import torch
    from utils import finetune as ft
    from utils.models import load_classifier

    profile = setup.profile
    with state.main_process_first():  # rank 0 fills the datasets cache, then the rest
        tokenized = ft.tokenize_imdb(
            data, tokenizer, profile.max_length, truncation, profile.head_tokens
        )
    if record_seen:  # number the training reviews, to note which ones each rank saw
        tokenized["train"] = tokenized["train"].add_column(
            "example", list(range(len(tokenized["train"])))
        )
    if setup.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with (
        tempfile.TemporaryDirectory() as output_dir
    ):  # checkpoints and logs never land in the repository
        args = ft.training_arguments(
            profile,
            output_dir,
            setup.precision_args,
            setup.seed,
            processes=state.num_processes,
            disable_tqdm=True,
            eval_strategy="no",
            logging_steps=100,
            # keep the example column for SeenRecorder, which takes it out again
            remove_unused_columns=not record_seen,
        )
        trainer = ft.make_trainer(load_classifier(setup), args, tokenized, tokenizer)
        if record_seen:
            trainer.data_collator = recorder = SeenRecorder(trainer.data_collator)
        train = ft.train(trainer, profile).metrics
        start = time.perf_counter()
        scores = trainer.evaluate()
        eval_s = time.perf_counter() - start
    memory, memory_kind = peak_memory_gb(setup.device)
    if record_seen:
        folder = Path(record_seen)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"seen_{truncation}_rank{state.process_index}.json").write_text(
            json.dumps(
                {
                    "rank": state.process_index,
                    "processes": state.num_processes,
                    "optimizer_steps": trainer.state.global_step,
                    "examples": recorder.seen,
                }
            )
        )
    return {
        "truncation": truncation,
        "accuracy": scores["eval_accuracy"],
        "f1": scores["eval_f1"],
        "precision": scores["eval_precision"],
        "recall": scores["eval_recall"],
        "eval_loss": scores["eval_loss"],  # averaged over all processes' reviews
        "optimizer_steps": trainer.state.global_step,
        "train_seconds": train["train_runtime"],
        "train_samples_per_second": train["train_samples_per_second"],
        "eval_seconds": eval_s,
        "eval_samples_per_second": len(tokenized["test"]) / eval_s,
        "peak_memory_gb": round(memory, 3),
        "peak_memory_kind": memory_kind,
        "loss_history": [
            (h["step"], h["loss"]) for h in trainer.state.log_history if "loss" in h
        ],
    }


def processes():
    """accelerate's view of the processes ``torchrun`` started (one without it); it
    joins their process group: gloo where there is no GPU."""
    from accelerate import PartialState
    from utils.hardware import pick_device

    return PartialState(cpu=pick_device().type != "cuda")


def main(argv=None) -> Path | None:
    cli = parse_args(argv)
    provenance = git_commit()
    check_provenance(provenance, cli.allow_dirty)
    state = processes()
    if state.is_main_process:
        return fine_tune_and_record(cli, provenance, state, argv)
    # rank 0 speaks for all: the others print nothing
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        return fine_tune_and_record(cli, provenance, state, argv)


def fine_tune_and_record(cli, provenance: dict, state, argv=None) -> Path | None:
    """The run on this process; rank 0 writes the record and returns its path."""
    import torch
    from utils import finetune as ft
    from utils import setup_chapter
    from utils.baselines import run_baselines
    from utils.environment import describe_device, seed_everything
    from utils.imdb import load_imdb
    from utils.models import load_tokenizer, resolve_model

    started = datetime.now(timezone.utc)
    changes = {
        k: v
        for k, v in {
            "epochs": cli.epochs,
            "learning_rate": cli.learning_rate,
            "model": cli.model,
        }.items()
        if v is not None
    }
    for field, value in (("train_size", cli.train_size), ("test_size", cli.test_size)):
        if value is not None:
            changes[field] = value or None  # 0 means the whole split
    # setup_chapter applies BOOK_MODEL and BOOK_PROFILE_OVERRIDES; the options come last
    setup = setup_chapter(profile=cli.profile)
    if changes:
        profile = setup.profile.replace(**changes)
        model = resolve_model(profile.model) if "model" in changes else setup.model
        setup = dataclasses.replace(setup, profile=profile, model=model)
    profile = setup.profile
    with state.main_process_first():  # rank 0 reads the archive into the cache first
        data = load_imdb(setup)
    tokenizer = load_tokenizer(setup)

    record = {
        "script": "scripts/finetune_imdb.py",
        "profile": profile.name,
        "argv": sys.argv[1:] if argv is None else argv,
        "date": started.isoformat(timespec="seconds"),
        **provenance,
        "model": setup.model.label,
        "precision": setup.precision,
        "device": describe_device(setup.device),
        "gpu": torch.cuda.get_device_name() if setup.device.type == "cuda" else None,
        "versions": versions(),
        "train_size": len(data["train"]),
        "test_size": len(data["test"]),
        "hyperparameters": {
            k: getattr(profile, k)
            for k in (
                "max_length",
                "head_tokens",
                "epochs",
                "batch_size",
                "eval_batch_size",
                "learning_rate",
                "warmup_steps",
                "gradient_accumulation_steps",
            )
        },
        "processes": state.num_processes,
        "per_device_batch_size": ft.per_process_batch(profile, state.num_processes),
        "profile_changed": list(profile.changed),
    }
    if cli.baselines_only and cli.skip_baselines:
        raise SystemExit(
            "--baselines-only and --skip-baselines together leave nothing to run"
        )
    if not cli.skip_baselines and state.is_main_process:  # the CPU's job: rank 0's
        record["baselines"] = run_baselines(
            list(data["train"]["text"]),
            list(data["train"]["label"]),
            list(data["test"]["text"]),
            list(data["test"]["label"]),
        )
        for name, result in record["baselines"].items():
            print(
                f"{name}: accuracy {result['accuracy']:.4f}, "
                f"fit {result['fit_seconds']:.1f} s"
            )
    truncations = (
        []
        if cli.baselines_only
        else ["head", "head+tail"]
        if cli.truncation == "both"
        else [cli.truncation]
    )
    record["runs"] = []
    for truncation in truncations:
        seed_everything(setup.seed)  # each truncation starts from the same random head
        run = fine_tune(setup, data, tokenizer, truncation, state, cli.record_seen)
        record["runs"].append(run)
        print(
            f"{truncation}: accuracy {run['accuracy']:.4f}, F1 {run['f1']:.4f}, "
            f"train {run['train_seconds']:.1f} s "
            f"({run['train_samples_per_second']:.1f} samples/s), "
            f"peak memory {run['peak_memory_gb']:.2f} GB"
        )
    if record["runs"]:
        # the headline numbers are the profile's recipe, not the better of the two (that
        # would pick on the test set)
        main_run = next(
            (r for r in record["runs"] if r["truncation"] == profile.truncation),
            record["runs"][0],
        )
        record.update(
            {
                k: main_run[k]
                for k in (
                    "accuracy",
                    "f1",
                    "train_seconds",
                    "train_samples_per_second",
                    "peak_memory_gb",
                    "truncation",
                )
            }
        )
    record["wall_seconds"] = (datetime.now(timezone.utc) - started).total_seconds()
    if not state.is_main_process:
        return None

    out_dir = Path(cli.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kind = "baselines" if cli.baselines_only else "finetune"
    path = (
        out_dir
        / f"{kind}_imdb_{profile.name}_{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    )
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path.name} to {cli.output_dir}")
    return path


if __name__ == "__main__":
    main()
