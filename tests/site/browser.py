"""Headless Chromium, driven through its DevTools protocol, for the site checks.

Debian's ``chromium`` and ``aiohttp`` (already installed with ``datasets``) are all it
needs: no browser download, no driver. A page is opened at a width (390 px as a phone,
with touch, or 1280 px as a laptop); ``evaluate`` runs JavaScript in it, ``tap`` taps
an element as a finger does, ``screenshot`` saves what a reader sees.

    with Browser() as browser:
        page = browser.open(SITE / "index.html", width=390)
        page.tap(".article-header-buttons .primary-toggle")
        page.evaluate("document.querySelector('#pst-primary-sidebar-modal').open")
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

PHONE, LAPTOP = 390, 1280


def chromium() -> str | None:
    """The Chromium binary, if one is installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(RuntimeError):
    pass


class Page:
    """One tab, laid out at a width."""

    def __init__(self, browser: "Browser", session: str):
        self.browser, self.session = browser, session

    def send(self, method: str, **params):
        return self.browser.send(method, params, self.session)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression (awaited if it is a promise)."""
        answer = self.send(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression[:80]}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, expression: str, seconds: float = 5.0) -> bool:
        """Whether ``expression`` became true within ``seconds``."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.evaluate(f"!!({expression})"):
                return True
            time.sleep(0.1)
        return False

    def tap(self, selector: str) -> None:
        """A finger's tap at the middle of the first visible element that matches."""
        box = self.evaluate(
            f"""(() => {{
              const visible = [...document.querySelectorAll({json.dumps(selector)})]
                .filter(e => e.getClientRects().length && e.offsetParent !== null);
              if (!visible.length) return null;
              visible[0].scrollIntoView({{block: "center"}});
              const r = visible[0].getBoundingClientRect();
              return [r.left + r.width / 2, r.top + r.height / 2];
            }})()"""
        )
        if box is None:
            raise BrowserError(f"nothing visible matches {selector!r}")
        # a finger down and up: Chromium's touch emulation makes the click of it
        point = {"x": box[0], "y": box[1]}
        self.send("Input.dispatchTouchEvent", type="touchStart", touchPoints=[point])
        self.send("Input.dispatchTouchEvent", type="touchEnd", touchPoints=[])

    def press(self, key: str) -> None:
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", type=kind, key=key, code=key)

    def screenshot(self, path: Path, full_page: bool = False) -> Path:
        answer = self.send(
            "Page.captureScreenshot", format="png", captureBeyondViewport=full_page
        )
        path.write_bytes(base64.b64decode(answer["data"]))
        return path

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})


class Browser:
    """A headless Chromium process and one DevTools connection to it."""

    def __init__(self, binary: str | None = None):
        self.binary = binary or chromium()
        if self.binary is None:
            raise BrowserError("no chromium: `apt-get install chromium`")
        self.ids = itertools.count(1)
        self.loop = asyncio.new_event_loop()

    def __enter__(self) -> "Browser":
        self.profile = tempfile.TemporaryDirectory()
        self.process = subprocess.Popen(
            [
                self.binary,
                "--headless=new",
                "--no-sandbox",  # CI runs as root
                "--disable-gpu",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile.name}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = None
        for line in self.process.stderr:
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                url = found[1]
                break
        if url is None:
            raise BrowserError(f"{self.binary} did not start")
        self.loop.run_until_complete(self._connect(url))
        return self

    async def _connect(self, url: str) -> None:
        import aiohttp

        self.http = aiohttp.ClientSession()
        self.socket = await self.http.ws_connect(url, max_msg_size=0)

    def __exit__(self, *exc) -> None:
        self.loop.run_until_complete(self._disconnect())
        self.loop.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.profile.cleanup()

    async def _disconnect(self) -> None:
        await self.socket.close()
        await self.http.close()

    def send(self, method: str, params: dict | None = None, session: str | None = None):
        return self.loop.run_until_complete(self._send(method, params or {}, session))

    async def _send(self, method: str, params: dict, session: str | None):
        message = {"id": next(self.ids), "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self.socket.send_str(json.dumps(message))
        while True:
            answer = json.loads((await self.socket.receive(timeout=60)).data)
            if answer.get("id") == message["id"]:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer["result"]

    def open(self, path: Path | str, width: int, height: int | None = None) -> Page:
        """``path`` (a file or a URL) loaded in a new tab ``width`` px wide: a phone
        (touch, mobile layout) at 390, a laptop otherwise."""
        phone = width < 600
        height = height or (844 if phone else 800)
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send(
            "Target.attachToTarget", {"targetId": target, "flatten": True}
        )["sessionId"]
        page = Page(self, session)
        page.target = target
        page.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=2 if phone else 1,
            mobile=phone,
        )
        if phone:
            page.send("Emulation.setTouchEmulationEnabled", enabled=True)
        page.send("Page.enable")
        url = path if isinstance(path, str) else Path(path).resolve().as_uri()
        page.send("Page.navigate", url=url)
        if not page.wait_for("document.readyState === 'complete'", seconds=30):
            raise BrowserError(f"{url} did not load")
        # MathJax and web fonts lay the page out again after the load event
        if page.evaluate("!!document.querySelector('script[src*=mathjax]')"):
            started = page.wait_for("window.MathJax?.startup?.promise", seconds=10)
            if started:
                page.evaluate("MathJax.startup.promise.then(() => true)")
        page.evaluate("document.fonts.ready.then(() => true)")
        return page
