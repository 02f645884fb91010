"""A pytest plugin (loaded by pyproject.toml) that lets CI execute each chapter only
once.

nbval executes every chapter cell by cell. The outputs it collects are written, for each
chapter that ran without error, into Jupyter Book's execution cache
(``_build/.jupyter_cache``), keyed by the hash of the chapter's code: ``jupyter-book
build`` then reuses them instead of executing the chapter again. A chapter that failed,
or changed since, is not cached, so the build executes it itself and fails on the same
error. The cache is only ever a shortcut, never a way around a check.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
JUPYTER_CACHE = ROOT / "_build" / ".jupyter_cache"
DISPLAY_ID = "_book_display_id"

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
        from jupyter_cache import get_cache
        from jupyter_cache.base import CacheBundleIn
    except ImportError:
        return
    for path, run in _runs.items():
        if run["failed"] or ROOT not in path.parents:
            continue
        nb = _executed_notebook(path, run["outputs"])
        if nb is not None:
            get_cache(str(JUPYTER_CACHE)).cache_notebook_bundle(
                CacheBundleIn(nb, str(path)), check_validity=False, overwrite=True
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
