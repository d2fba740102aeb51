"""The published platform in a real browser: headless Chromium (Debian's `chromium`) opens the
site from its folder (`file://`), follows every link from the index, and at a phone's and a
desktop's width checks that the objectives, the words movements endorse them in and a
statement's changes are visible, and that nothing is wider than the phone's screen. A
screenshot of every page at both widths is saved for a person to look at (the folder is
printed: `<repo>/.screenshots/site/` unless `MULTILOGUE_SCREENSHOTS` names another).

Chromium is driven over the DevTools protocol with aiohttp's websocket client: no browser
package from PyPI. Without a Chromium on PATH the test says so and skips
(`apt-get install chromium`; `.ci/run` installs it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag

import aiohttp
import pytest

from bot.store import Store
from commands.record import site_files
from tests.unit.test_record import record_world
from tests.unit.test_site import BERLIN, PUBLISHED, published

ROOT = Path(__file__).resolve().parents[2]
WIDTHS = {"phone": (390, 844, True), "desktop": (1280, 900, False)}
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WAIT_S = 30  # the longest any one step of the browser may take


def browser_binary() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def screenshots_folder() -> Path:
    return Path(os.environ.get("MULTILOGUE_SCREENSHOTS") or ROOT / ".screenshots" / "site")


class Tab:
    """One browser tab, spoken to over the DevTools protocol."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def _receive(self) -> dict[str, Any]:
        message: dict[str, Any] = await asyncio.wait_for(self.socket.receive_json(), WAIT_S)
        return message

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        await self.socket.send_json({"id": number, "method": method, "params": params})
        while True:
            message = await self._receive()
            if message.get("id") != number:
                self.events.append(message)  # an event that came meanwhile
                continue
            if "error" in message:
                raise AssertionError(f"{method}: {message['error']}")
            result: dict[str, Any] = message.get("result", {})
            return result

    async def event(self, method: str) -> dict[str, Any]:
        """The first event `method` since the events were last cleared (waiting for it)."""
        while True:
            for seen in self.events:
                if seen.get("method") == method:
                    return seen
            self.events.append(await self._receive())

    async def open(self, url: str) -> None:
        self.events.clear()
        navigated = await self.call("Page.navigate", url=url)
        assert "errorText" not in navigated, f"{url}: {navigated['errorText']}"
        await self.event("Page.loadEventFired")

    async def value(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    async def screenshot(self, width: int) -> bytes:
        """The whole page, top to bottom, at `width`."""
        height = (await self.call("Page.getLayoutMetrics"))["cssContentSize"]["height"]
        shot = await self.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        )
        return base64.b64decode(shot["data"])


async def _devtools_port(profile: Path, log: Path, process: asyncio.subprocess.Process) -> int:
    """The port Chromium chose (`--remote-debugging-port=0` writes it to DevToolsActivePort
    in its profile), waiting a bounded time for it."""

    def written(path: Path) -> str:
        return path.read_text(errors="replace") if path.exists() else ""

    for _ in range(WAIT_S * 10):
        if lines := (await asyncio.to_thread(written, profile / "DevToolsActivePort")).split():
            return int(lines[0])
        if process.returncode is not None:
            break
        await asyncio.sleep(0.1)
    said = (await asyncio.to_thread(written, log))[-2000:]
    raise AssertionError(f"Chromium did not open its DevTools port; it said:\n{said}")


async def _stop(process: asyncio.subprocess.Process) -> None:
    """End the browser and every process it started (its own process group), waiting a
    bounded time before killing it."""
    if process.returncode is not None:
        return
    for sent in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sent)
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
            return
        except TimeoutError:
            continue


@contextlib.asynccontextmanager
async def chromium(binary: str, folder: Path) -> AsyncIterator[Tab]:
    profile, log = folder / "profile", folder / "chromium.log"
    with log.open("wb") as said:  # a file, not a pipe: a chatty browser never blocks on it
        process = await asyncio.create_subprocess_exec(
            binary,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=said,
            stderr=said,
            start_new_session=True,  # its own process group, to end all of it
        )
    try:
        port = await _devtools_port(profile, log, process)
        timeout = aiohttp.ClientTimeout(total=WAIT_S)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            page = next(t for t in targets if t.get("type") == "page")
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as socket:
                tab = Tab(socket)
                await tab.call("Page.enable")
                yield tab
    finally:
        await _stop(process)


# What the test asks of each page, evaluated in it. An element is seen when it takes room on
# the screen and is neither hidden nor undisplayed (its own style or an ancestor's).
CHECKS = """(() => {
  const seen = e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && e.checkVisibility({visibilityProperty: true});
  };
  const count = selector => [...document.querySelectorAll(selector)].filter(seen).length;
  const wide = [...document.body.querySelectorAll('*')]
    .filter(e => seen(e) && e.getBoundingClientRect().right > window.innerWidth + 1)
    .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
  return JSON.stringify({
    heading: count('main h1'),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    objectives: count('ol.objectives > li.objective'),
    endorsing: count('.endorsing q'),
    added: count('.diff ins'),
    removed: count('.diff del'),
    marks: [...document.querySelectorAll('.diff .mark')].filter(seen).map(e => e.textContent),
    wide: wide,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
  });
})()"""

PRINTED = """JSON.stringify({
  nav: getComputedStyle(document.querySelector('nav')).display,
  main: document.querySelector('main').getBoundingClientRect().height > 0,
})"""


async def test_the_site_reads_in_a_real_browser_on_a_phone_and_a_desktop(
    tmp_path: Path, store: Store
) -> None:
    binary = browser_binary()
    if binary is None:
        pytest.skip(
            "no Chromium on PATH (chromium, chromium-browser or google-chrome): install it "
            "with `apt-get install chromium` to run this test"
        )
    files = site_files(
        await published(record_world(tmp_path, store)), published_at=PUBLISHED, tz=BERLIN
    )
    site = tmp_path / "site"
    for name, data in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(data)
    shots = screenshots_folder()
    shots.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots of the published site: {shots}")

    home = site.as_uri() + "/"
    index, camp = home + "index.html", home + "movements/climate-camp.html"
    async with chromium(binary, tmp_path) as tab:
        for width_name, (width, height, mobile) in WIDTHS.items():
            await tab.call(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=mobile,
            )
            found: dict[str, dict[str, Any]] = {}
            waiting = [index]
            while waiting:
                url = waiting.pop(0)
                if url in found:
                    continue
                await tab.open(url)
                checks = json.loads(await tab.value(CHECKS))
                found[url] = checks
                assert checks["heading"] == 1, f"{url} did not open as a page of the site"
                if mobile:
                    assert checks["wide"] == [], f"wider than a phone's screen on {url}"
                    assert checks["overflow"] <= 1, f"{url} scrolls sideways on a phone"
                for link in checks["links"]:
                    target = urldefrag(link).url
                    assert target.startswith(home), f"{url} links out of the site: {link}"
                    waiting.append(target)
                page_name = url.removeprefix(home).replace("/", "-").removesuffix(".html")
                (shots / f"{width_name}-{page_name}.png").write_bytes(await tab.screenshot(width))
            reached = {url.removeprefix(home) for url in found}
            assert reached == {name for name in files if name.endswith(".html")}
            assert found[index]["objectives"] >= 1
            assert found[index]["endorsing"] >= 1  # a movement's own words for an objective
            # What a rewording took out and put in, and the marks that say so without colour.
            assert found[camp]["removed"] >= 1
            assert found[camp]["added"] >= 1
            assert {"[+", "[−", "]"} <= set(found[camp]["marks"])

        await tab.call("Emulation.setEmulatedMedia", media="print")
        await tab.open(camp)
        printed = json.loads(await tab.value(PRINTED))
        assert printed == {"nav": "none", "main": True}  # a printout without the menu
