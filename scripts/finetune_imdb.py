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
Chapter 4 shows the newest recorded run (``utils/results/``) next to its own.
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
import hashlib
import json
import os
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from transformers import TrainerCallback

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `import utils` without installing the package

from utils.recording import (  # noqa: E402
    add_recording_options,
    check_provenance,
    git_commit,
    hardware,
    provenance_fields,
    record_path,
    write_record,
)


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
        "--max-length", type=int, help="override the profile's tokens per review"
    )
    parser.add_argument(
        "--head-tokens",
        type=int,
        help="override the profile's tokens kept from a long review's start",
    )
    parser.add_argument(
        "--run-dir",
        default=str(REPO / "runs"),
        help="where checkpoints go while training (default: runs/); a run "
        "started again with the same settings goes on from its last checkpoint",
    )
    parser.add_argument(
        "--save-steps",
        type=int,
        default=100,
        help="optimizer steps between checkpoints (default: 100)",
    )
    parser.add_argument(
        "--stop-after-steps",
        type=int,
        metavar="N",
        help="end the process once the checkpoint at step N is saved, as an "
        "interruption there would (to split a long run over sessions); run again "
        "with the same settings to go on",
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


class TrainingClock(TrainerCallback):
    """A ``TrainerCallback`` that keeps the training seconds of every run segment in
    ``<run folder>/clock.json`` at each checkpoint, so that a resumed run reports the
    time of all its segments, not only of the last."""

    def __init__(self, folder: Path):
        self.path = folder / "clock.json"
        self.saved = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.before = 0.0
        self.start = time.perf_counter()

    def resume_at(self, step: int) -> None:
        """Count the seconds that the segments before ``step``'s checkpoint took."""
        self.before = self.saved.get(str(step), 0.0)
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return self.before + time.perf_counter() - self.start

    def on_save(self, args, state, control, **kwargs):
        self.saved[str(state.global_step)] = self.seconds()
        if state.is_world_process_zero:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.saved))
            tmp.replace(self.path)


class StopAfter(TrainerCallback):
    """Ends the process right after the checkpoint of step ``steps`` is written, as an
    interruption there would: nothing after it runs (one process only)."""

    def __init__(self, steps: int):
        self.steps = steps

    def on_save(self, args, state, control, **kwargs):
        if state.global_step >= self.steps:
            print(
                f"stopped after the checkpoint of step {state.global_step}: run again "
                "with the same settings to go on",
                flush=True,
            )
            os._exit(0)


def run_folder(root: str, key: dict) -> Path:
    """One folder per run setting (profile, sizes, truncation, commit, ...): a run
    started again with the same settings finds its checkpoints there."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return Path(root) / f"finetune_imdb-{digest}"


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest checkpoint that Trainer finished writing (its ``trainer_state.json``
    is written last); half-written ones, from a run stopped while saving, are removed
    and said."""
    import shutil

    def step(path: Path) -> int:
        return int(path.name.rpartition("-")[2])

    checkpoints = sorted(folder.glob("checkpoint-*"), key=step, reverse=True)
    for path in checkpoints:
        if (path / "trainer_state.json").exists():
            return str(path)
        print(f"{path.name} is incomplete (the run stopped while saving it): removed.")
        shutil.rmtree(path)
    return None


def fine_tune(
    setup,
    data,
    tokenizer,
    truncation: str,
    state,
    record_seen=None,
    folder: Path | None = None,
    save_steps: int = 100,
    stop_after: int | None = None,
) -> dict:
    """Tokenize, fine-tune, evaluate: one run of the chapter's recipe, on this process's
    share of the data when ``state`` (accelerate's) has several processes.

    With a ``folder``, a checkpoint is saved every ``save_steps`` optimizer steps, and a
    run that finds one there goes on from the newest (the same settings, stopped
    before the end). Without, nothing is saved.
    """
    import shutil

    import numpy as np
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
    with contextlib.ExitStack() as stack:
        if folder is None:  # checkpoints and logs never land in the repository
            output_dir = stack.enter_context(tempfile.TemporaryDirectory())
            saving = {"save_strategy": "no"}
        else:
            output_dir = str(folder / truncation.replace("+", "_"))
            Path(output_dir).mkdir(parents=True, exist_ok=True)
            saving = {
                "save_strategy": "steps",
                "save_steps": save_steps,
                "save_total_limit": 1,
            }
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
            **saving,
        )
        trainer = ft.make_trainer(
            load_classifier(setup),
            args,
            tokenized,
            tokenizer,
            pad_to_multiple_of=setup.recipe.pad_to_multiple_of,
        )
        clock = TrainingClock(Path(output_dir))
        trainer.add_callback(clock)
        if stop_after and folder is not None:
            trainer.add_callback(StopAfter(stop_after))  # after the clock has saved
        resume = last_complete_checkpoint(Path(output_dir)) if folder else None
        if resume:
            resumed_at = int(resume.rpartition("-")[2])
            clock.resume_at(resumed_at)
            print(f"going on from {Path(resume).name} (step {resumed_at})")
        if record_seen:
            trainer.data_collator = recorder = SeenRecorder(trainer.data_collator)
        train = ft.train(trainer, profile, resume_from_checkpoint=resume).metrics
        train_seconds = clock.seconds()
        start = time.perf_counter()
        # in the test split's order, so that each review's answer can be paired with
        # another classifier's on the same review
        prediction = ft.predict_in_order(trainer, tokenized["test"])
        eval_s = time.perf_counter() - start
        scores = {k.removeprefix("test_"): v for k, v in prediction.metrics.items()}
        correct = prediction.predictions.argmax(-1) == prediction.label_ids
        if folder is not None and state.is_main_process:
            shutil.rmtree(output_dir)  # the run is over: its checkpoints go
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
        "accuracy": scores["accuracy"],
        "f1": scores["f1"],
        "precision": scores["precision"],
        "recall": scores["recall"],
        "eval_loss": scores["loss"],  # averaged over all processes' reviews
        "optimizer_steps": trainer.state.global_step,
        "resumed_from_step": resumed_at if resume else None,
        "train_seconds": train_seconds,
        # the reviews of every epoch over the seconds of every segment
        "train_samples_per_second": (
            len(tokenized["train"]) * profile.epochs / train_seconds
            if resume
            else train["train_samples_per_second"]
        ),
        "eval_seconds": eval_s,
        "eval_samples_per_second": len(tokenized["test"]) / eval_s,
        "peak_memory_gb": round(memory, 3),
        "peak_memory_kind": memory_kind,
        "loss_history": [
            (h["step"], h["loss"]) for h in trainer.state.log_history if "loss" in h
        ],
        # 1 where the test review (in the test split's order) was classified right
        "correct": "".join("1" if c else "0" for c in np.asarray(correct)),
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
    from utils import finetune as ft
    from utils import setup_chapter
    from utils.baselines import run_baselines
    from utils.environment import seed_everything
    from utils.imdb import load_imdb
    from utils.models import load_tokenizer, resolve_model

    started = datetime.now(timezone.utc)
    changes = {
        k: v
        for k, v in {
            "epochs": cli.epochs,
            "learning_rate": cli.learning_rate,
            "max_length": cli.max_length,
            "head_tokens": cli.head_tokens,
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
        **provenance_fields(
            "scripts/finetune_imdb.py",
            profile.name,
            sys.argv[1:] if argv is None else argv,
            started,
            provenance,
        ),
        "model": setup.model.label,
        "precision": setup.precision,
        **hardware(),
        "train_size": len(data["train"]),
        "test_size": len(data["test"]),
        # the test reviews' order, which the per-review ``correct`` strings follow
        "test_order_sha256": hashlib.sha256(
            "\n".join(data["test"]["text"]).encode()
        ).hexdigest(),
        "recipe": setup.recipe.describe(),
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
    # the settings that make a run; a run started again with all of them the same
    # goes on from its checkpoints
    key = {
        k: record[k]
        for k in ("profile", "commit", "model", "precision", "train_size", "test_size")
    }
    key.update(record["hyperparameters"], processes=state.num_processes)
    folder = run_folder(cli.run_dir, key)
    for truncation in truncations:
        seed_everything(setup.seed)  # each truncation starts from the same random head
        run = fine_tune(
            setup,
            data,
            tokenizer,
            truncation,
            state,
            cli.record_seen,
            folder,
            cli.save_steps,
            cli.stop_after_steps,
        )
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

    kind = "baselines_imdb" if cli.baselines_only else "finetune_imdb"
    return write_record(
        record, record_path(cli.output_dir, kind, profile.name, started)
    )


if __name__ == "__main__":
    main()
