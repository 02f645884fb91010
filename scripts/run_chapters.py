#!/usr/bin/env python
"""Run chapters top to bottom in one profile and record how long each took, and where.

    python scripts/run_chapters.py --profile full          # every chapter, on a GPU
    python scripts/run_chapters.py --profile smoke 02 --output-dir /tmp/run

Writes ``<output-dir>/chapters_<profile>_<UTC time>.json`` (seconds per chapter, each
chapter's setup lines, the GPU, library versions, date and git commit) and the executed
notebooks beside it. This is the one command for the GPU check of the full profile's
time budget (``utils/budget.py`` estimates it); like ``scripts/finetune_imdb.py`` it
refuses to record from a tree with uncommitted changes unless told ``--allow-dirty``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from finetune_imdb import (  # noqa: E402
    add_recording_options,
    check_provenance,
    git_commit,
    versions,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapter numbers, e.g. 02 04 (all)")
    parser.add_argument("--profile", default="full", help="run profile (default: full)")
    add_recording_options(parser, "the JSON and the executed notebooks")
    return parser.parse_args(argv)


def chosen(numbers: list[str]) -> list[Path]:
    found = sorted((REPO / "chapters").glob("[0-9][0-9]_*.ipynb"))
    picked = [p for p in found if not numbers or p.name[:2] in numbers]
    missing = set(numbers) - {p.name[:2] for p in picked}
    if missing:
        raise SystemExit(
            f"No chapter {', '.join(sorted(missing))}; there are "
            f"{', '.join(p.name[:2] for p in found)}."
        )
    return picked


def run(chapter: Path, out_dir: Path, env: dict) -> dict:
    """Execute a copy of ``chapter``; the seconds it took and its first printed
    lines."""
    executed = out_dir / chapter.name
    executed.write_text(chapter.read_text())
    start = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "execute",
            "--inplace",
            "--timeout=3600",
            str(executed),
        ],
        env=env,
        cwd=out_dir,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    cells = json.loads(executed.read_text())["cells"]
    printed = ["".join(o.get("text", "")) for c in cells for o in c.get("outputs", [])]
    return {
        "chapter": chapter.stem,
        "ok": done.returncode == 0,
        "seconds": round(seconds, 1),
        "setup": "".join(printed[:2]).strip().splitlines()[:3],
        "error": None if done.returncode == 0 else done.stderr[-2000:],
    }


def gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else None


def main(argv=None) -> Path:
    cli = parse_args(argv)
    chapters = chosen(cli.chapters)
    provenance = git_commit()
    check_provenance(provenance, cli.allow_dirty)
    started = datetime.now(timezone.utc)
    out_dir = Path(cli.output_dir) / f"chapters_{cli.profile}_{started:%Y%m%dT%H%M%SZ}"
    out_dir.mkdir(parents=True)
    env = {**os.environ, "BOOK_PROFILE": cli.profile}
    runs = []
    for chapter in chapters:
        runs.append(run(chapter, out_dir, env))
        print(
            f"{chapter.stem}: {'ok' if runs[-1]['ok'] else 'FAILED'}, "
            f"{runs[-1]['seconds']:.0f} s"
        )
    record = {
        "script": "scripts/run_chapters.py",
        "profile": cli.profile,
        "date": started.isoformat(timespec="seconds"),
        **provenance,
        "gpu": gpu_name(),
        "versions": versions(),
        "runs": runs,
    }
    path = out_dir.with_suffix(".json")
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path.name} and the executed notebooks to {cli.output_dir}")
    if not all(r["ok"] for r in runs):
        raise SystemExit("a chapter failed: see 'error' in the JSON")
    return path


if __name__ == "__main__":
    main()
