"""The built site as a reader meets it, in headless Chromium: on a phone (390 px) the
navigation buttons open their panels and no page scrolls sideways; on a laptop
(1280 px) results tables and display formulas fit the column. Run after ``make build``
(``make site-check`` does, in ``.ci/run``).

Formulas are typeset by MathJax, which the pages load from a CDN; offline, a local copy
(``npm install mathjax@3``, done here once, into the user's cache) stands in for it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.site.browser import LAPTOP, PHONE, Browser, chromium

# the site `make build` made, or another build of it (BOOK_SITE=path/to/html)
SITE = Path(
    os.environ.get("BOOK_SITE")
    or Path(__file__).resolve().parents[2] / "_build" / "html"
)
PAGES = sorted(
    p
    for p in SITE.rglob("*.html")
    if not p.name.startswith((".", "genindex", "search"))
    and not {"_static", "_sources", "_images"} & set(p.relative_to(SITE).parts)
)
CHAPTERS = [p for p in PAGES if p.parent.name == "chapters"]
pytestmark = [
    pytest.mark.skipif(not CHAPTERS, reason="no built site: run `make build` first"),
    pytest.mark.skipif(
        chromium() is None,
        reason="no chromium: `apt-get install chromium` (.ci/run installs it)",
    ),
]
MATHJAX_CDN = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
MATHJAX_HOME = Path.home() / ".cache" / "pretrained-lm-book"
MATHJAX = MATHJAX_HOME / "node_modules" / "mathjax" / "es5" / "tex-mml-chtml.js"


def name(page: Path) -> str:
    return str(page.relative_to(SITE))


def local_mathjax() -> Path | None:
    """MathJax 3 here, installed from npm on first use; None where that fails."""
    if not MATHJAX.exists() and shutil.which("npm"):
        MATHJAX_HOME.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-save", "--no-audit", "--no-fund", "mathjax@3"],
            cwd=MATHJAX_HOME,
            capture_output=True,
            timeout=600,
        )
    return MATHJAX if MATHJAX.exists() else None


@pytest.fixture(scope="module")
def browser():
    with Browser() as chromium_browser:
        yield chromium_browser


@pytest.fixture(scope="module")
def offline_copy(tmp_path_factory):
    """A page as the browser should open it: beside the original (its relative links
    still resolve), with MathJax from the local copy when the page loads it."""
    mathjax = local_mathjax()
    made = []

    def copy(page: Path) -> Path:
        text = page.read_text(encoding="utf-8")
        if mathjax is not None:
            text = text.replace(MATHJAX_CDN, mathjax.as_uri())
        probe = page.with_name(f".probe-{page.name}")
        probe.write_text(text, encoding="utf-8")
        made.append(probe)
        return probe

    copy.typesets = mathjax is not None
    yield copy
    for probe in made:
        probe.unlink(missing_ok=True)


# --- on a phone -----------------------------------------------------------------

OPEN = "document.querySelector({dialog!r})?.open === true"
SHOWN_LINKS = """[...document.querySelectorAll({dialog!r} + ' a')]
  .filter(a => a.getBoundingClientRect().width > 0).map(a => a.textContent.trim())"""


@pytest.mark.parametrize("page", CHAPTERS[:1] + CHAPTERS[-1:], ids=name)
def test_the_navigation_buttons_open_their_panels_on_a_phone(page, browser):
    """A tap on the site-contents button shows every chapter; a tap on the
    page-contents button shows the page's sections; each closes again."""
    tab = browser.open(page, PHONE)
    try:
        for button, dialog, expected in (
            (".primary-toggle", "#pst-primary-sidebar-modal", len(CHAPTERS)),
            (".secondary-toggle", "#pst-secondary-sidebar-modal", 3),
        ):
            tab.tap(button)
            assert tab.wait_for(OPEN.format(dialog=dialog)), f"{button}: no panel"
            links = tab.evaluate(SHOWN_LINKS.format(dialog=dialog))
            assert len(links) >= expected, f"{button}: {links}"
            tab.press("Escape")
            assert tab.wait_for("!" + OPEN.format(dialog=dialog)), f"{button} stays"
    finally:
        tab.close()


# the elements that stick out of the window, unless a box of theirs scrolls or clips
STICKING_OUT = """(() => {
  const width = document.documentElement.clientWidth;
  const contained = e => {
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      if (["auto", "scroll", "hidden", "clip"].includes(getComputedStyle(a).overflowX))
        return true;
    }
    return false;
  };
  const out = [...document.body.querySelectorAll("*")].filter(e => {
    const box = e.getBoundingClientRect();
    return box.width > 0 && box.right > width + 1 && !contained(e);
  });
  return {
    scroll: document.documentElement.scrollWidth,
    width: width,
    out: out.slice(0, 5).map(e => `${e.tagName.toLowerCase()}.${e.className}: ` +
      `${Math.round(e.getBoundingClientRect().right)} px ` +
      `"${e.textContent.trim().slice(0, 60)}"`),
  };
})()"""


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_no_page_scrolls_sideways_on_a_phone(page, browser, offline_copy):
    tab = browser.open(offline_copy(page), PHONE)
    try:
        found = tab.evaluate(STICKING_OUT)
    finally:
        tab.close()
    assert found["scroll"] <= found["width"] + 1, json.dumps(found, indent=1)


# --- on a laptop ----------------------------------------------------------------

# each table and display formula against the width of the column it sits in
CUT = """(() => {
  const column = document.querySelector("main article, .bd-article");
  const style = getComputedStyle(column);
  const width = column.clientWidth - parseFloat(style.paddingLeft)
    - parseFloat(style.paddingRight);
  const wide = sel => [...column.querySelectorAll(sel)]
    .map(e => [e, e.scrollWidth])
    .filter(([e, w]) => w > width + 1 || e.scrollWidth > e.clientWidth + 1)
    .map(([e, w]) => `${w} px: "${e.textContent.trim().replace(/\\s+/g, " ")
      .slice(0, 70)}"`);
  return {
    width: width,
    tables: wide("table"),
    formulas: wide("div.math mjx-container, div.math-wrapper, mjx-container[display]"),
    typeset: document.querySelectorAll("mjx-container").length,
  };
})()"""


@pytest.mark.parametrize("page", CHAPTERS, ids=name)
def test_tables_and_formulas_fit_the_column_on_a_laptop(page, browser, offline_copy):
    tab = browser.open(offline_copy(page), LAPTOP)
    try:
        found = tab.evaluate(CUT)
    finally:
        tab.close()
    assert not found["tables"], f"tables wider than {found['width']} px: {found}"
    if not offline_copy.typesets:
        pytest.skip("no MathJax here (`npm install mathjax@3`): formulas not measured")
    assert not found["formulas"], f"formulas wider than {found['width']} px: {found}"
