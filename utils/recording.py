"""Recorded runs: where they go, what they say about their making, how they are read.

The three command-line runs (``scripts/finetune_imdb.py``,
``scripts/benchmark_recipes.py``, ``scripts/run_chapters.py``) write one JSON file each,
named
``<kind>_<profile>_<UTC time>.json``, into ``RESULTS`` (``utils/results/``, so that the
installed package carries them to Colab) or ``--output-dir``. Every record names the
commit that made it and refuses to be made from a tree with uncommitted changes unless
told ``--allow-dirty`` (then it says ``"dirty": true``). Chapters read them back with
``recorded_runs``::

    from utils.recording import recorded_runs
    newest = recorded_runs("full", kind="finetune")[:1]
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# the recorded runs, shipped with the package (pyproject.toml's package-data)
RESULTS = Path(__file__).resolve().parent / "results"


def add_recording_options(parser, what: str) -> None:
    """``--output-dir`` (where ``what`` goes) and ``--allow-dirty`` (record from a tree
    with uncommitted changes, marked dirty) on an ``argparse`` parser."""
    parser.add_argument(
        "--output-dir",
        default=str(RESULTS),
        help=f"where to write {what} (default: utils/results/)",
    )
    parser.add_argument(
        "--allow-dirty",
        action="store_true",
        help="record even with uncommitted changes (marked dirty)",
    )


# A tree exported with ``git archive`` (as ``scripts/gpu_check.sh --prepare`` sends
# one to the GPU machine) has no .git; this file in it names the commit it holds.
EXPORTED_COMMIT = ".commit"


def git_commit(repo: Path = REPO) -> dict:
    """The commit the code comes from, and whether tracked files differ from it.

    Outside a git checkout: the commit named by an exported tree's ``.commit`` file
    (clean by construction), else ``None`` for both, as in an installed package."""

    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()

    exported = Path(repo) / EXPORTED_COMMIT
    if not (Path(repo) / ".git").exists() and exported.is_file():
        return {"commit": exported.read_text().strip(), "dirty": False}
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
    """The versions of Python and of the libraries a result depends on."""
    import datasets, evaluate, sklearn, torch, transformers  # noqa: E401

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "datasets": datasets.__version__,
        "evaluate": evaluate.__version__,
        "scikit-learn": sklearn.__version__,
    }


def cpu_name(cpuinfo: str = "/proc/cpuinfo") -> str | None:
    """The CPU's model name from ``/proc/cpuinfo`` (None where there is none)."""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return None


def hardware() -> dict:
    """Where a run ran: the device in words, the GPU (None without one), the CPU, its
    cores and the threads torch uses."""
    import torch

    from utils.environment import describe_device
    from utils.hardware import pick_device

    device = pick_device()
    return {
        "device": describe_device(device),
        "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
    }


def provenance_fields(
    script: str, profile: str, argv, started: datetime, provenance: dict
) -> dict:
    """The fields every record starts with: the script, profile, arguments, date, the
    commit and whether the tree was dirty (``provenance``: ``git_commit()`` when the
    run started), and the library versions."""
    return {
        "script": script,
        "profile": profile,
        "argv": portable_argv(argv),
        "date": started.isoformat(timespec="seconds"),
        **provenance,
        "versions": versions(),
    }


def portable_argv(argv) -> list[str]:
    """The arguments as a record keeps them: a path inside the repository relative to
    it, any other absolute path by its name alone, so that no machine's folders are
    written into a committed record."""
    kept = []
    for arg in map(str, argv):
        if os.path.isabs(arg):
            path = Path(arg).resolve()
            inside = path.is_relative_to(REPO)
            arg = str(path.relative_to(REPO)) if inside else path.name
        kept.append(arg)
    return kept


def record_path(out_dir, kind: str, profile: str, started: datetime) -> Path:
    """``<out_dir>/<kind>_<profile>_<UTC time>.json``, e.g.
    ``benchmark_imdb_smoke_20261207T101500Z.json``."""
    return Path(out_dir) / f"{kind}_{profile}_{started.strftime('%Y%m%dT%H%M%SZ')}.json"


def write_record(record: dict, path: Path) -> Path:
    """Write ``record`` as indented JSON to ``path``, whole or not at all (a temporary
    file renamed into place), and say where."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, path)
    print(f"wrote {path.name} to {path.parent}")
    return path


def recorded_runs(profile: str = "full", folder=None, kind: str = "finetune") -> list:
    """The records of ``kind`` for ``profile`` in ``folder`` (default: ``RESULTS``),
    newest first; empty where there are none.

    ``kind`` is ``finetune`` (``scripts/finetune_imdb.py``), ``baselines`` (its
    ``--baselines-only``) or ``benchmark`` (``scripts/benchmark_recipes.py``)."""
    folder = Path(folder) if folder else RESULTS
    runs = [
        json.loads(p.read_text())
        for p in sorted(folder.glob(f"{kind}_imdb_{profile}_*.json"))
    ]
    return sorted(
        (r for r in runs if r.get("profile") == profile),
        key=lambda r: r["date"],
        reverse=True,
    )
