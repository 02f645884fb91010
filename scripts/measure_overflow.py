#!/usr/bin/env python
"""Count the code and output blocks of the built site that scroll sideways, as a reader
sees.

    python scripts/measure_overflow.py                 # _build/html, at 1280 px
    python scripts/measure_overflow.py --width 390     # a phone

Headless Chromium (Debian's ``chromium``) opens each page with a small script appended
that, once the page has laid out, counts the blocks whose content is wider than the
block (``scrollWidth > clientWidth``) and writes the counts into the page;
``--dump-dom`` returns it. Prints one line per page and a total, and writes JSON with
``--json``.
Exit status 1 when any block overflows, so that ``tests/site`` can use it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROBE = """
<script>
window.addEventListener("load", () => setTimeout(() => {
  const pick = sel => [...document.querySelectorAll(sel)];
  const code = pick("div.cell_input div.highlight pre");
  const outs = pick("div.cell_output pre, div.cell_output div.output table");
  const over = els => els.filter(e => e.scrollWidth > e.clientWidth + 1);
  const result = document.createElement("pre");
  result.id = "overflow-result";
  result.textContent = JSON.stringify({
    code: code.length, code_over: over(code).length,
    outputs: outs.length, outputs_over: over(outs).length,
    widest: Math.max(0, ...over(code.concat(outs)).map(e => e.scrollWidth)),
  });
  document.body.appendChild(result);
}, 300));
</script>
"""
RESULT = re.compile(r'<pre id="overflow-result"[^>]*>(.*?)</pre>', re.S)


def browser() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def measure(page: Path, width: int, chromium: str) -> dict:
    """The counts for one page, laid out ``width`` px wide."""
    # in the page's folder, so that its relative CSS paths still resolve
    probe = page.with_name(f".overflow-probe-{page.name}")
    probe.write_text(
        page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
        encoding="utf-8",
    )
    try:
        done = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--window-size={width},1000",
                "--virtual-time-budget=10000",
                "--dump-dom",
                probe.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        probe.unlink()
    found = RESULT.search(done.stdout)
    if not found:
        raise RuntimeError(f"{page}: no result from chromium: {done.stderr[-500:]}")
    return json.loads(found.group(1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", default=str(REPO / "_build" / "html"))
    parser.add_argument("--width", type=int, default=1280, help="window width in px")
    parser.add_argument("--json", help="also write the counts to this file")
    cli = parser.parse_args(argv)
    chromium = browser()
    if chromium is None:
        raise SystemExit("No chromium on PATH: `apt-get install chromium` (Debian).")
    pages = sorted(Path(cli.site).glob("chapters/*.html")) + sorted(
        Path(cli.site).glob("book/*.html")
    )
    if not pages:
        raise SystemExit(f"No pages under {cli.site}: run `make build` first.")
    counts = {
        p.relative_to(cli.site).as_posix(): measure(p, cli.width, chromium)
        for p in pages
    }
    for name, c in counts.items():
        print(
            f"{name}: code {c['code_over']}/{c['code']} and outputs "
            f"{c['outputs_over']}/{c['outputs']} overflow at {cli.width} px"
        )
    total = {
        k: sum(c[k] for c in counts.values())
        for k in ("code", "code_over", "outputs", "outputs_over")
    }
    print(
        f"all pages: code {total['code_over']}/{total['code']}, "
        f"outputs {total['outputs_over']}/{total['outputs']} overflow"
    )
    if cli.json:
        Path(cli.json).write_text(
            json.dumps({"width": cli.width, "pages": counts, "total": total}, indent=2)
            + "\n"
        )
    return 1 if total["code_over"] or total["outputs_over"] else 0


if __name__ == "__main__":
    sys.exit(main())
