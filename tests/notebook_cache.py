"""Jupyter Book's execution cache, filled so that the site is built without executing
a chapter.

Two sources, one rule: the cache holds an execution of a notebook's code, keyed by the
hash of its code cells, and ``jupyter-book build`` (``execute_notebooks: cache``) uses
it instead of executing the notebook.

- **The test run** (this module is a pytest plugin, loaded by pyproject.toml): nbval
  executes every chapter cell by cell; for each chapter that ran without error, its
  outputs become the chapter's cache entry (``_build/.jupyter_cache``). A chapter that
  failed, or that changed since, gets none from here.
- **The stored outputs** (``python -m tests.notebook_cache [BOOK_DIR]``, which ``make
  build`` runs first): every notebook of the table of contents that has no entry from
  a test run for its current code gets its own stored outputs as its entry. A notebook
  whose stored outputs hold an error, or that has code cells never executed, stops the
  build with its name and the command that stores fresh outputs.

The cache is only ever a shortcut, never a way around a check: the tests fail on a
chapter that raises, and the build refuses stored outputs that show an error.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
JUPYTER_CACHE = ROOT / "_build" / ".jupyter_cache"
DISPLAY_ID = "_book_display_id"
# what made a cache entry (the record's data): an execution by the test run wins over
# stored outputs; stored outputs replace stored outputs (they may have been re-made)
FROM_TESTS, FROM_STORED = "test run", "stored outputs"

_runs: dict[Path, dict] = defaultdict(
    lambda: {"outputs": {}, "failed": False, "seconds": 0.0}
)


def _keep_display_updates():
    """nbval drops ``update_display_data`` (Trainer's notebook progress bar updates its
    table that way), so a cached page would show the bar at 0%. Pass updates on as
    displays tagged with their display id; ``_collapse_displays`` keeps the last state
    of each."""
    try:
        from nbval.kernel import RunningKernel
    except ImportError:
        return
    original = RunningKernel.get_message
    if getattr(original, "_book_patched", False):
        return

    def get_message(self, stream, timeout=None):
        msg = original(self, stream, timeout)
        if stream == "iopub" and msg["msg_type"] in (
            "display_data",
            "update_display_data",
        ):
            display_id = msg["content"].get("transient", {}).get("display_id")
            if display_id:
                msg["content"].setdefault("metadata", {})[DISPLAY_ID] = display_id
            msg["msg_type"] = "display_data"
        return msg

    get_message._book_patched = True
    RunningKernel.get_message = get_message


_keep_display_updates()


def _collapse_displays(outputs: list) -> list:
    """One output per display id, at the place of its first display, with its last
    content."""
    collapsed, position = [], {}
    for out in outputs:
        out = nbformat.from_dict(dict(out))
        display_id = out.get("metadata", {}).pop(DISPLAY_ID, None)
        if display_id is None:
            collapsed.append(out)
        elif display_id in position:
            collapsed[position[display_id]] = out
        else:
            position[display_id] = len(collapsed)
            collapsed.append(out)
    for out in collapsed:
        if out.output_type == "execute_result":
            out.setdefault("metadata", {})
    return collapsed


def _notebook_path(item) -> Path | None:
    if item.__class__.__name__ != "IPyNbCell":
        return None
    return Path(str(item.parent.path)).resolve()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    start = time.perf_counter()
    yield
    path = _notebook_path(item)
    if path is not None:
        _runs[path]["seconds"] += time.perf_counter() - start


def pytest_runtest_makereport(item, call):
    path = _notebook_path(item)
    if path is None:
        return
    if call.excinfo is not None and not call.excinfo.errisinstance(
        pytest.skip.Exception
    ):
        # a failure in any phase keeps the chapter out of the cache
        _runs[path]["failed"] = True
    if call.when == "call":
        _runs[path]["outputs"][item.cell_num] = (
            getattr(item, "test_outputs", None) or []
        )


def _executed_notebook(path: Path, outputs: dict) -> nbformat.NotebookNode | None:
    nb = nbformat.read(path, as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    if len(outputs) != len(code_cells):
        return (
            None  # some cells were not run (a -k selection, a crash): nothing to cache
        )
    for count, (cell, cell_num) in enumerate(zip(code_cells, sorted(outputs)), start=1):
        cell.outputs = _collapse_displays(outputs[cell_num])
        cell.execution_count = count
        for out in cell.outputs:
            if out.output_type == "execute_result":
                out.execution_count = count
    return nb


def pytest_sessionfinish(session, exitstatus):
    try:
        import jupyter_cache  # noqa: F401
    except ImportError:
        return
    for path, run in _runs.items():
        if run["failed"] or ROOT not in path.parents:
            continue
        nb = _executed_notebook(path, run["outputs"])
        if nb is not None:
            keep_test_run(JUPYTER_CACHE, path, nb, run["seconds"])


def keep_test_run(cache_path: Path, path: Path, nb, seconds: float) -> None:
    """Keep ``nb``, executed by the test run, as the entry of ``path``'s code."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    data = {"source": FROM_TESTS, "execution_seconds": seconds}
    get_cache(str(cache_path)).cache_notebook_bundle(
        CacheBundleIn(nb, str(path), data=data), check_validity=False, overwrite=True
    )


def pytest_terminal_summary(terminalreporter):
    if not _runs:
        return
    terminalreporter.section("chapter execution times")
    for path, run in sorted(_runs.items()):
        status = "FAILED" if run["failed"] else "ok"
        terminalreporter.write_line(
            f"{path.relative_to(ROOT)}: {run['seconds']:.1f} s ({status})"
        )


# --- the stored outputs, for `make build` ---------------------------------------------


def toc_notebooks(book: Path) -> list[Path]:
    """The notebooks that the table of contents lists, in its order."""

    def files(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("root", "file"):
                    yield value
                else:
                    yield from files(value)
        elif isinstance(node, list):
            for value in node:
                yield from files(value)

    toc = yaml.safe_load((book / "_toc.yml").read_text(encoding="utf-8"))
    found = (book / f"{name}.ipynb" for name in dict.fromkeys(files(toc)))
    return [path for path in found if path.is_file()]


def stored_output_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Why a notebook's stored outputs cannot stand for an execution of it: cells
    that were never executed, and errors."""
    problems, never = [], []
    for number, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        errors = [out for out in cell.outputs if out.output_type == "error"]
        if errors:
            problems.append(f"cell {number} stored an error ({errors[0].ename})")
        elif cell.get("execution_count") is None:
            never.append(number)
    if never:
        listed = ", ".join(map(str, never[:5])) + (", ..." if len(never) > 5 else "")
        cells = (
            "1 code cell was" if len(never) == 1 else f"{len(never)} code cells were"
        )
        problems.append(f"{cells} never executed (cell {listed})")
    return problems


def cache_stored_outputs(book: Path) -> tuple[dict[str, list[Path]], list[str]]:
    """Give every notebook of ``book``'s table of contents an entry in its execution
    cache, from its stored outputs, unless the test run left one for the same code.
    Returns the notebooks by source of their entry, and the problems found (a
    notebook with problems gets no entry)."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(book / "_build" / ".jupyter_cache"))
    used: dict[str, list[Path]] = {FROM_TESTS: [], FROM_STORED: []}
    problems = []
    for path in toc_notebooks(book):
        nb = nbformat.read(path, as_version=4)
        try:
            record = cache.match_cache_notebook(nb)
        except KeyError:
            record = None
        if record is not None and record.data.get("source") == FROM_TESTS:
            used[FROM_TESTS].append(path)
            continue
        found = stored_output_problems(nb)
        if found:
            name = path.relative_to(book)
            problems.append(
                f"{name}: {'; '.join(found)}. Run `make chapter NB={name}` to store "
                "fresh outputs, or `make test`."
            )
            continue
        cache.cache_notebook_bundle(
            CacheBundleIn(nb, str(path), data={"source": FROM_STORED}),
            check_validity=False,
            overwrite=True,
        )
        used[FROM_STORED].append(path)
    return used, problems


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    book = Path(argv[0] if argv else ".").resolve()
    used, problems = cache_stored_outputs(book)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(
        f"Pages from stored outputs: {len(used[FROM_STORED])}; from the executions of "
        f"the last `make test`: {len(used[FROM_TESTS])}. Nothing is executed."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
