"""The published platform: only what the alliance and each movement made public, every link
inside the site, nothing fetched from anywhere, and what changed in a statement word by word.
(A real browser opens it in `test_site_browser.py`.)"""

from __future__ import annotations

import asyncio
import copy
import re
import sqlite3
from contextlib import closing
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.contract import CommandError
from bot.store import Store
from commands.record import export_alliance, site_files
from tests.unit.fakes import START_MS
from tests.unit.test_alliance_commands import ADA, COMMONS, World
from tests.unit.test_record import a_year_of_work, record_world

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def world(tmp_path: Path, store: Store) -> World:
    return record_world(tmp_path, store)


async def published(world: World) -> dict[str, Any]:
    await a_year_of_work(world)
    store = world.services.store
    (alliance_id,) = [row[0] for row in await store.fetch_all("SELECT id FROM alliances")]
    return await export_alliance(store, alliance_id)


def html(files: dict[str, bytes]) -> dict[str, str]:
    return {name: data.decode() for name, data in files.items() if name.endswith(".html")}


async def test_the_site_shows_the_platform_and_how_statements_changed(world: World) -> None:
    document = await published(world)
    files = site_files(document, published_at=START_MS, tz=BERLIN)
    assert set(files) == {
        "index.html",
        "decisions.html",
        "style.css",
        "movements/climate-camp.html",
        "movements/tenants-union.html",
    }
    pages = html(files)
    index = pages["index.html"]
    assert "<h1>Earth Alliance</h1>" in index
    assert "Respect for nature" in index
    assert "Published 1 December 2026" in index
    assert "Formerly in the alliance: Farmers." in index
    camp = pages["movements/climate-camp.html"]
    assert "<li>We act without violence.</li>" in camp
    # The rewording of item 1, word by word, readable without colour.
    assert '<del><span class="mark">[−</span>commons.<span class="mark">]</span></del>' in camp
    assert (
        '<ins><span class="mark">[+</span>commons together.<span class="mark">]</span></ins>'
        in (camp)
    )
    decisions = pages["decisions.html"]
    assert "Proposal 1" in decisions
    assert "What was decided: <q>Not now: ask again</q>" in decisions
    assert "Tenants Union does not endorse objective 1" in decisions


async def test_only_what_was_made_public_appears(world: World) -> None:
    document = await published(world)
    private = copy.deepcopy(document)
    private["alliance"]["settings"]["public"] = False
    with pytest.raises(CommandError) as refused:
        site_files(private, published_at=START_MS, tz=BERLIN)
    assert refused.value.words.key == "record.not_public"

    # A movement that keeps its statement off the page appears by name only.
    hidden = copy.deepcopy(document)
    camp = next(m for m in hidden["movements"] if m["slug"] == "climate-camp")
    camp["public"] = False
    every = "".join(html(site_files(hidden, published_at=START_MS, tz=BERLIN)).values())
    assert "Climate Camp" in every
    assert "violence" not in every
    assert "commons together" not in every

    # Reasons for blocking only where the movement allowed it.
    reasons = copy.deepcopy(document)
    stance = reasons["objectives"][0]["stances"][0]
    stance["block_reasons"] = ["Nature is not ours to respect, it is ours to defend"]
    tenants = next(m for m in reasons["movements"] if m["slug"] == "tenants-union")
    for allowed in (False, True):
        tenants["public_reasons"] = allowed
        page = html(site_files(reasons, published_at=START_MS, tz=BERLIN))["decisions.html"]
        assert ("ours to defend" in page) is allowed


async def test_every_link_stays_inside_the_site_and_nothing_is_fetched(world: World) -> None:
    files = site_files(await published(world), published_at=START_MS, tz=BERLIN)
    for name, page in html(files).items():
        assert "<script" not in page
        assert "http" not in page  # no external request, no link out
        assert not re.search(r"@\w+:hs", page), name  # no person's Matrix id
        assert '<html lang="en">' in page
        assert page.count("<h1>") == 1
        for target in re.findall(r'(?:href|src)="([^"]+)"', page):
            path = target.split("#")[0]
            if not path:
                continue
            resolved = PurePosixPath(name).parent / path
            parts: list[str] = []
            for part in resolved.parts:
                if part == "..":
                    parts.pop()
                elif part != ".":
                    parts.append(part)
            assert "/".join(parts) in files, (name, target)


async def run(*argv: str) -> int:
    """`multilogue ...` as an operator types it (in a thread: it runs its own event loop)."""
    return await asyncio.to_thread(main, list(argv))


async def test_the_command_line_publishes_only_a_public_alliance(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await a_year_of_work(world)
    data = tmp_path / "data"
    data.mkdir()
    with (
        closing(sqlite3.connect(tmp_path / "db.sqlite")) as live,
        closing(sqlite3.connect(data / "multilogue.db")) as copy_,
    ):
        live.backup(copy_)
    env = tmp_path / "bot.env"
    env.write_text(
        "MATRIX_HOMESERVER=https://example.org\nMATRIX_USER_ID=@bot:example.org\n"
        f"MATRIX_PASSWORD=pw\nMULTILOGUE_DATA_DIR={data}\n"
    )
    out = tmp_path / "site"
    assert await run("publish", "--out", str(out), "--env-file", str(env)) == 0
    assert f"open {out / 'index.html'}" in capsys.readouterr().out
    assert (out / "movements" / "climate-camp.html").exists()

    await world.say(COMMONS, ADA, "alliance set public no")
    with (
        closing(sqlite3.connect(tmp_path / "db.sqlite")) as live,
        closing(sqlite3.connect(data / "multilogue.db")) as copy_,
    ):
        live.backup(copy_)
    assert await run("publish", "--out", str(tmp_path / "again"), "--env-file", str(env)) == 1
    said = capsys.readouterr().err
    assert "Earth Alliance is not published" in said
    assert "!alliance set public yes" in said
    assert not (tmp_path / "again").exists()
