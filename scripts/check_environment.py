"""Whether this Python can run the book as it is: exit 0 when every requirement of
``requirements.txt`` is installed in a version it allows and ``import utils`` finds
this checkout's ``utils``; otherwise say what is missing and exit 1.

The Makefile asks it which environment to use (``make setup``): the active virtual
environment, else the project's own ``.venv``, else a Python that already has
everything (it is then used as it is, nothing installed into it).

    python3 scripts/check_environment.py [--quiet]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OLDEST = (3, 10)


def requirements(path: Path) -> list[str]:
    """The requirement lines (comments, options and ``-e .`` left out)."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #")[0].strip()
        if line and not line.startswith(("#", "-")):
            lines.append(line)
    return lines


def missing_requirements(lines: list[str]) -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        from packaging.requirements import Requirement
    except ImportError:  # a bare environment: nothing of the book is there either
        return ["packaging (and so the book's requirements)"]
    missing = []
    for line in lines:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            found = version(requirement.name)
        except PackageNotFoundError:
            missing.append(f"{requirement.name} (not installed)")
            continue
        if not requirement.specifier.contains(found, prereleases=True):
            missing.append(
                f"{requirement.name} {found} (wanted {requirement.specifier})"
            )
    return missing


def utils_of_this_checkout() -> str:
    """'' when ``import utils``, from outside the checkout as a chapter's kernel runs,
    finds this checkout's package; else where it finds it."""
    code = "import utils, os; print(os.path.dirname(os.path.abspath(utils.__file__)))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=os.path.expanduser("~") if Path.home().is_dir() else "/",
        capture_output=True,
        text=True,
    )
    found = done.stdout.strip()
    if done.returncode != 0:
        return "not installed"
    return "" if Path(found).resolve() == (ROOT / "utils").resolve() else found


def main() -> int:
    quiet = "--quiet" in sys.argv[1:]
    say = (lambda *args: None) if quiet else print
    if sys.version_info < OLDEST:
        say(
            f"{sys.executable} is Python {sys.version.split()[0]}; the book needs 3.10+"
        )
        return 1
    problems = missing_requirements(requirements(ROOT / "requirements.txt"))
    if not problems:
        where = utils_of_this_checkout()
        if where:
            problems.append(f"this checkout's utils (import utils finds: {where})")
    if problems:
        say(f"{sys.executable} lacks: {'; '.join(problems)}")
        return 1
    say(f"{sys.executable} has everything the book needs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
