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
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `import utils` without installing the package

from utils.recording import (  # noqa: E402
    add_recording_options,
    check_provenance,
    git_commit,
    hardware,
    provenance_fields,
    write_record,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapter numbers, e.g. 02 04 (all)")
    parser.add_argument("--profile", default="full", help="run profile (default: full)")
    parser.add_argument(
        "--timeout",
        type=int,
        default=3600,
        help="seconds a cell may run before the chapter counts as failed "
        "(default: 3600)",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        help="seconds for all chapters together: a chapter still running then is "
        "stopped, the ones after it are not started, and the record says so",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="execute nothing: check that each chapter reads as a notebook and record "
        "that (to test the command itself)",
    )
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


def run(chapter: Path, out_dir: Path, env: dict, timeout: int, seconds_left=None):
    """Execute a copy of ``chapter``; whether it ran through, the seconds it took and
    its first printed lines. ``seconds_left``: stop it after that long."""
    executed = out_dir / chapter.name
    executed.write_text(chapter.read_text())
    command = [sys.executable, "-m", "jupyter", "execute", "--inplace"]
    command += [f"--timeout={timeout}", str(executed)]
    start = time.perf_counter()
    # a session of its own, so that at the deadline the kernel goes with it
    process = subprocess.Popen(
        command,
        env=env,
        cwd=out_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=seconds_left)
        returncode = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        _, stderr = process.communicate()
        returncode = None
        stderr = f"stopped at the deadline after {seconds_left:.0f} s\n{stderr}"
    seconds = time.perf_counter() - start
    cells = json.loads(executed.read_text())["cells"]
    printed = ["".join(o.get("text", "")) for c in cells for o in c.get("outputs", [])]
    return {
        "chapter": chapter.stem,
        "ok": returncode == 0,
        "returncode": returncode,
        "seconds": round(seconds, 1),
        "setup": "".join(printed[:2]).strip().splitlines()[:3],
        "error": None if returncode == 0 else stderr[-2000:],
    }


def dry_run(chapter: Path) -> dict:
    """What ``run`` records, without executing: the notebook read and its cells
    counted."""
    cells = json.loads(chapter.read_text())["cells"]
    code = sum(c["cell_type"] == "code" for c in cells)
    return {
        "chapter": chapter.stem,
        "ok": True,
        "returncode": 0,
        "seconds": 0.0,
        "setup": [f"dry run: {code} code cells, not executed"],
        "error": None,
    }


def main(argv=None) -> Path:
    cli = parse_args(argv)
    chapters = chosen(cli.chapters)
    provenance = git_commit()
    check_provenance(provenance, cli.allow_dirty)
    started = datetime.now(timezone.utc)
    out_dir = Path(cli.output_dir) / f"chapters_{cli.profile}_{started:%Y%m%dT%H%M%SZ}"
    out_dir.mkdir(parents=True)
    # the chapters import this checkout's utils, whatever else is installed
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "BOOK_PROFILE": cli.profile, "PYTHONPATH": path}
    runs, clock = [], time.perf_counter()
    for chapter in chapters:
        left = (
            None
            if cli.deadline is None
            else cli.deadline - (time.perf_counter() - clock)
        )
        if left is not None and left <= 0:
            runs.append(
                {
                    "chapter": chapter.stem,
                    "ok": False,
                    "returncode": None,
                    "seconds": 0.0,
                    "setup": [],
                    "error": "not started: the deadline had passed",
                }
            )
        elif cli.dry_run:
            runs.append(dry_run(chapter))
        else:
            runs.append(run(chapter, out_dir, env, cli.timeout, left))
        print(
            f"{chapter.stem}: {'ok' if runs[-1]['ok'] else 'FAILED'}, "
            f"{runs[-1]['seconds']:.0f} s"
        )
    record = {
        **provenance_fields(
            "scripts/run_chapters.py",
            cli.profile,
            sys.argv[1:] if argv is None else argv,
            started,
            provenance,
        ),
        **hardware(),
        "dry_run": cli.dry_run,
        "deadline_seconds": cli.deadline,
        "runs": runs,
    }
    path = write_record(record, out_dir.with_suffix(".json"))
    print(f"the executed notebooks are in {out_dir}")
    if not all(r["ok"] for r in runs):
        raise SystemExit("a chapter failed: see 'error' in the JSON")
    return path


if __name__ == "__main__":
    main()
