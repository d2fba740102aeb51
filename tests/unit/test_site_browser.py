"""The published platform in a real browser: headless Chromium (Debian's `chromium`) opens the
site from its folder (`file://`), follows every link from the index, and at a phone's and a
desktop's width checks that the objectives and a statement's changes are visible and that
nothing is wider than the screen. A screenshot of every page at both widths is saved for a
person to look at (the folder is printed; `MULTILOGUE_SCREENSHOTS` chooses it).

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
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from bot.store import Store
from commands.record import export_alliance, site_files
from tests.unit.fakes import START_MS
from tests.unit.test_record import a_year_of_work, record_world

ROOT = Path(__file__).resolve().parents[2]
WIDTHS = {"phone": (390, 844, True), "desktop": (1280, 900, False)}
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def save(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def browser_binary() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


class Page:
    """One browser tab, spoken to over the DevTools protocol."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        await self.socket.send_json({"id": number, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self.socket.receive_json(), timeout=30)
            if message.get("id") == number:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    async def open(self, url: str) -> None:
        self.events.clear()
        await self.call("Page.navigate", url=url)
        for _ in range(200):
            if any(e.get("method") == "Page.loadEventFired" for e in self.events):
                return
            await self.call("Runtime.evaluate", expression="1")  # collects events meanwhile
            await asyncio.sleep(0.05)
        raise AssertionError(f"{url} did not finish loading")

    async def value(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")


@contextlib.asynccontextmanager
async def chromium(binary: str, profile: Path) -> AsyncIterator[Page]:
    process = await asyncio.create_subprocess_exec(
        binary,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        endpoint = None
        while endpoint is None:
            line = await asyncio.wait_for(process.stderr.readline(), timeout=60)
            if not line:
                raise AssertionError("Chromium stopped before it listened for DevTools")
            found = re.search(rb"DevTools listening on (ws://\S+)", line)
            endpoint = found[1].decode() if found else None
        port = re.search(r":(\d+)/", endpoint)
        assert port is not None
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port[1]}/json/list") as response:
                targets = await response.json()
            page = next(t for t in targets if t.get("type") == "page")
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as socket:
                tab = Page(socket)
                await tab.call("Page.enable")
                yield tab
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()


CHECKS = """JSON.stringify({
  main: !!document.querySelector('main h1'),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  objectives: [...document.querySelectorAll('.objective')].filter(e => {
    const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.display !== 'none' && s.visibility !== 'hidden';
  }).length,
  changes: [...document.querySelectorAll('.diff ins, .diff del')].filter(e => {
    const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0;
  }).length,
  overflow: document.documentElement.scrollWidth - window.innerWidth,
})"""


async def test_the_site_reads_in_a_real_browser_on_a_phone_and_a_desktop(
    tmp_path: Path, store: Store
) -> None:
    binary = browser_binary()
    if binary is None:
        pytest.skip("no Chromium on PATH: install it (apt-get install chromium) to run this test")
    world = record_world(tmp_path, store)
    await a_year_of_work(world)
    (alliance_id,) = [row[0] for row in await store.fetch_all("SELECT id FROM alliances")]
    document = await export_alliance(store, alliance_id)
    files = site_files(document, published_at=START_MS, tz=ZoneInfo("Europe/Berlin"))
    site = tmp_path / "site"
    for name, data in files.items():
        save(site / name, data)
    shots = Path(os.environ.get("MULTILOGUE_SCREENSHOTS") or ROOT / ".screenshots" / "site")
    print(f"screenshots of the published site: {shots}")

    index = (site / "index.html").as_uri()
    async with chromium(binary, tmp_path / "profile") as page:
        for width_name, (width, height, mobile) in WIDTHS.items():
            await page.call(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=mobile,
            )
            seen: set[str] = set()
            waiting = [index]
            found: dict[str, dict[str, Any]] = {}
            while waiting:
                url = waiting.pop(0)
                if url in seen:
                    continue
                seen.add(url)
                await page.open(url)
                checks = json.loads(await page.value(CHECKS))
                assert checks["main"], f"{url} did not open as a page of the site"
                assert checks["overflow"] <= 1, f"{url} is wider than a {width_name}'s screen"
                found[url] = checks
                for link in checks["links"]:
                    target = urldefrag(link).url
                    assert target.startswith(site.as_uri()), f"{url} links out: {link}"
                    waiting.append(target)
                metrics = await page.call("Page.getLayoutMetrics")
                size = metrics["cssContentSize"]
                shot = await page.call(
                    "Page.captureScreenshot",
                    format="png",
                    captureBeyondViewport=True,
                    clip={"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1},
                )
                name = url.removeprefix(site.as_uri() + "/").replace("/", "-")
                save(shots / f"{width_name}-{name}.png", base64.b64decode(shot["data"]))
            pages = {urldefrag(u).url.removeprefix(site.as_uri() + "/") for u in found}
            assert pages == {n for n in files if n.endswith(".html")}  # every page reached
            assert found[index]["objectives"] >= 1
            camp = (site / "movements" / "climate-camp.html").as_uri()
            assert found[camp]["changes"] >= 2  # what was taken out and what was put in
