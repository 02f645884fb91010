"""The book's cache: one folder for what the chapters compute once and reuse (IMDb
parsed from its archive, chapter 4's classifier, chapter 3's tiny language models).

Every entry is written whole or not at all: ``writing(folder)`` hands out a temporary
folder beside the entry and renames it into place only when the block finishes, so a run
stopped half-way leaves nothing that a later run would trust. A folder without the
completion mark (left by an older version, or damaged) is rebuilt, with one line saying
so.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

# written last into every finished entry
COMPLETE = ".complete"


def cache_dir() -> Path:
    """``BOOK_CACHE``, else ``~/.cache/pretrained-lm-book``."""
    return Path(
        os.environ.get("BOOK_CACHE", Path.home() / ".cache" / "pretrained-lm-book")
    )


def recipe_folder(kind: str, profile_name: str, recipe: dict) -> Path:
    """The cache folder of what was made with ``recipe`` (a JSON-able dict): one folder
    per recipe, named by the profile and a hash of the recipe."""
    key = json.dumps(recipe, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_dir() / kind / f"{profile_name}-{digest}"


def is_complete(folder: Path) -> bool:
    return (Path(folder) / COMPLETE).is_file()


def usable(folder: Path, what: str) -> bool:
    """True when ``folder`` holds a finished entry. A folder that is there but
    unfinished (a run stopped while writing it) is removed, with one line saying that
    ``what`` is made again."""
    folder = Path(folder)
    if is_complete(folder):
        return True
    if folder.exists():
        print(
            f"The saved {what} was incomplete (a run stopped while writing it): "
            "making it again."
        )
        shutil.rmtree(folder, ignore_errors=True)
    return False


@contextlib.contextmanager
def writing(folder: Path) -> Iterator[Path]:
    """``with writing(entry) as tmp:`` write everything into ``tmp``; on success it
    becomes ``entry`` (replacing an unfinished one), on an error it is removed."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir()
    try:
        yield tmp
        (tmp / COMPLETE).write_text("")
        if folder.exists():  # unfinished, or finished by a concurrent run meanwhile
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
