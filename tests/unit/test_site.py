"""The published platform (`multilogue publish`): only what the alliance and each movement made
public, every link inside the site, nothing fetched from anywhere, and what changed in a
statement word by word. (A real browser opens it in `test_site_browser.py`.)"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.contract import CommandError
from bot.ids import RoomID
from bot.store import Store
from commands.council.proposals import reconcile
from commands.record import export_alliance, site_files
from tests.unit.fakes import START_MS
from tests.unit.test_alliance_commands import ADA, BEA, CAL, CAMP, COMMONS, EVE, TENANTS, World
from tests.unit.test_record import a_year_of_work, record_world

BERLIN = ZoneInfo("Europe/Berlin")
DAY_MS = 24 * 3600 * 1000
PUBLISHED = datetime.fromtimestamp(START_MS / 1000 + 90 * 24 * 3600, UTC)  # 1 March 2027
TENANTS_WORDS = ("Our tenants strike that month", "Only after the strike")


@pytest.fixture
def world(tmp_path: Path, store: Store) -> World:
    return record_world(tmp_path, store)


async def a_public_platform(world: World) -> None:
    """`a_year_of_work` (the alliance is public; Tenants Union keeps its statement off the
    page; Climate Camp publishes its members' reasons), then what a public page shows most:
    Climate Camp endorses the objective it words in its statement, and a proposal is blocked
    by both movements with their reasons, amended, and passed in a second round. Tenants Union
    would publish its reasons, but keeps its words off the page with its statement."""
    await a_year_of_work(world)

    async def says(room: RoomID, who: str, text: str, template: str) -> None:
        said, message = await world.say(room, who, text)
        assert said == template, message.body

    world.clock += 40 * DAY_MS
    await says(CAMP, BEA, "endorse 1", "objective_endorse_opened")
    await world.decide(CAMP, BEA, len(world.polls_in(CAMP)), {BEA: "agree"})
    world.clock += 20 * DAY_MS
    await says(CAMP, BEA, f"spokes add {EVE}", "council_spoke_added")
    await says(TENANTS, CAL, f"spokes add {CAL}", "council_spoke_added")
    for room, moderator in ((CAMP, BEA), (TENANTS, CAL)):
        await says(room, moderator, "rules set position spokes", "council_position_by_set")
    await says(TENANTS, CAL, "rules set reasons public", "record_reasons_set")
    await says(COMMONS, ADA, "proposal We hold one climate day in May", "council_opened")
    await reconcile(world.services)
    await says(
        COMMONS, EVE, "position 2 block In May our members sit exams", "council_position_given"
    )
    await says(COMMONS, CAL, f"position 2 block {TENANTS_WORDS[0]}", "council_position_given")
    await reconcile(world.services)
    world.clock += 7 * DAY_MS
    await says(COMMONS, ADA, "proposal amend 2 We hold one climate day in June", "council_amended")
    await reconcile(world.services)
    await says(COMMONS, EVE, "position 2 agree", "council_position_given")
    await says(
        COMMONS, CAL, f"position 2 reservations {TENANTS_WORDS[1]}", "council_position_given"
    )
    await reconcile(world.services)


async def the_document(world: World) -> dict[str, Any]:
    store = world.services.store
    (alliance_id,) = [row[0] for row in await store.fetch_all("SELECT id FROM alliances")]
    return await export_alliance(store, alliance_id)


async def published(world: World) -> dict[str, Any]:
    await a_public_platform(world)
    return await the_document(world)


def pages_of(document: dict[str, Any]) -> dict[str, str]:
    files = site_files(document, published_at=PUBLISHED, tz=BERLIN)
    return {name: data.decode() for name, data in files.items() if name.endswith(".html")}


def text_of(page: str) -> str:
    """What a reader sees of a page: its words without the markup, spaces made plain."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


async def test_the_site_shows_the_platform_and_how_statements_changed(world: World) -> None:
    document = await published(world)
    files = site_files(document, published_at=PUBLISHED, tz=BERLIN)
    assert set(files) == {
        "index.html",
        "decisions.html",
        "style.css",
        "movements/climate-camp.html",
        "movements/tenants-union.html",
    }
    pages = pages_of(document)
    for page in pages.values():
        assert "Published on 1 March 2027" in text_of(page)
    index = text_of(pages["index.html"])
    assert "Earth Alliance" in index
    # The objective, who endorses it, and in whose words (the item Climate Camp linked to it).
    assert "Respect for nature" in index
    assert "endorsed by 1 of 2 movements: Climate Camp , in its own words: We act without" in index
    assert "Formerly in the alliance: Farmers." in index
    assert 'href="movements/climate-camp.html#item-1"' in pages["index.html"]

    camp = pages["movements/climate-camp.html"]
    assert '<li id="item-1" value="1">We act without violence.</li>' in camp
    # The rewording of item 1, word by word, readable without colour: what was taken out and
    # what was put in, each marked in words too.
    assert '<del><span class="mark">[−</span>commons.<span class="mark">]</span></del>' in camp
    assert (
        '<ins><span class="mark">[+</span>commons together.<span class="mark">]</span></ins>'
        in (camp)
    )
    assert "Version 2, 1 December 2026 Item 1 reworded: We defend the [− commons. ]" in (
        text_of(camp)
    )

    decisions = text_of(pages["decisions.html"])
    assert "Agreements We hold one climate day in June Agreed on 6 February 2027." in decisions
    assert "Round 1 We hold one climate day in May" in decisions
    assert "did not pass (30 January 2027)" in decisions
    assert "[− May ] [+ June ]" in decisions  # what the amendment changed
    assert "Climate Camp Blocks Why: In May our members sit exams" in decisions
    assert "Climate Camp Agrees" in decisions
    assert "Tenants Union Agrees, with reservations" in decisions
    assert "What was decided: Not now: ask again" in decisions
    assert "Tenants Union does not endorse objective 1 (0 agreed," in decisions
    assert "Climate Camp endorses objective 1 (1 agreed" in decisions
    assert "Climate Camp reworded item 1 of its statement" in decisions


async def test_nothing_is_published_unless_the_alliance_said_so(world: World) -> None:
    document = await published(world)
    document["alliance"]["settings"]["public"] = False
    with pytest.raises(CommandError) as refused:
        site_files(document, published_at=PUBLISHED, tz=BERLIN)
    assert refused.value.words.key == "record.not_public"


async def test_a_movement_that_keeps_its_statement_off_the_page_appears_by_name_only(
    world: World,
) -> None:
    document = await published(world)
    tenants = next(m for m in document["movements"] if m["slug"] == "tenants-union")
    assert tenants["public"] is False
    assert tenants["public_reasons"] is True  # it would publish its reasons: still not shown
    every = " ".join(text_of(page) for page in pages_of(document).values())
    assert "Tenants Union" in every
    for words in TENANTS_WORDS:
        assert words not in every

    # Climate Camp too: its statement, its history and its words for the objective go.
    camp = next(m for m in document["movements"] if m["slug"] == "climate-camp")
    camp["public"] = False
    pages = pages_of(document)
    every = " ".join(text_of(page) for page in pages.values())
    assert "Climate Camp" in every
    for words in ("violence", "commons together", "In May our members sit exams"):
        assert words not in every
    assert "Climate Camp keeps its core statement within the alliance" in text_of(
        pages["movements/climate-camp.html"]
    )
    assert "endorsed by 1 of 2 movements: Climate Camp" in text_of(pages["index.html"])


async def test_reasons_for_blocking_appear_only_where_the_movement_allowed_it(
    world: World,
) -> None:
    document = await published(world)
    camp = next(m for m in document["movements"] if m["slug"] == "climate-camp")
    tenants = next(m for m in document["movements"] if m["slug"] == "tenants-union")
    tenants["public"] = None  # its statement on the page as the alliance decides
    (stance,) = [
        s for s in document["objectives"][0]["stances"] if s["movement"] == "tenants-union"
    ]
    stance["block_reasons"] = ["Nature is not ours to respect, it is ours to defend"]
    for allowed in (False, True):
        camp["public_reasons"] = tenants["public_reasons"] = allowed
        page = text_of(pages_of(document)["decisions.html"])
        assert ("Why: In May our members sit exams" in page) is allowed  # a proposal
        assert ("Why: Our tenants strike that month" in page) is allowed
        assert ("Why: Nature is not ours to respect" in page) is allowed  # an endorsement
        assert "Only after the strike" not in page  # reservations are not blocks


async def test_every_link_stays_inside_the_site_and_nothing_is_fetched(world: World) -> None:
    files = site_files(await published(world), published_at=PUBLISHED, tz=BERLIN)
    pages = {name: data.decode() for name, data in files.items() if name.endswith(".html")}
    ids = {name: set(re.findall(r' id="([^"]+)"', page)) for name, page in pages.items()}
    for name, page in pages.items():
        assert "<script" not in page
        assert "http" not in page  # no external request, no link out
        assert not re.search(r"@\w+:hs", page), name  # no person's Matrix id
        assert '<html lang="en">' in page
        assert '<meta name="viewport"' in page
        assert page.count("<h1>") == 1
        for tag in ("<header>", "<nav ", "<main ", "<footer>"):
            assert tag in page, (name, tag)
        assert "<th>" not in page  # every header cell says what it heads (scope)
        for target in re.findall(r'(?:href|src)="([^"]+)"', page):
            path, _, fragment = target.partition("#")
            resolved = PurePosixPath(name).parent / path if path else PurePosixPath(name)
            parts: list[str] = []
            for part in resolved.parts:
                if part == "..":
                    parts.pop()
                elif part != ".":
                    parts.append(part)
            linked = "/".join(parts)
            assert linked in files, (name, target)
            assert not fragment or fragment in ids[linked], (name, target)
    assert "http" not in files["style.css"].decode()
    assert "@import" not in files["style.css"].decode()
    assert "@media print" in files["style.css"].decode()


async def run(*argv: str) -> int:
    """`multilogue ...` as an operator types it (in a thread: it runs its own event loop)."""
    return await asyncio.to_thread(main, list(argv))


def operators_copy(tmp_path: Path) -> Path:
    """The bot's database as the operator's data folder holds it; its env file."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    with (
        closing(sqlite3.connect(tmp_path / "db.sqlite")) as live,
        closing(sqlite3.connect(data / "multilogue.db")) as copy_,
    ):
        live.backup(copy_)
    env = tmp_path / "bot.env"
    env.write_text(
        "MATRIX_HOMESERVER=https://example.org\nMATRIX_USER_ID=@bot:example.org\n"
        f"MATRIX_PASSWORD=pw\nMULTILOGUE_DATA_DIR={data}\nMULTILOGUE_TIMEZONE=Europe/Berlin\n"
    )
    return env


async def test_the_command_line_publishes_only_a_public_alliance(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await a_public_platform(world)
    env = operators_copy(tmp_path)
    out = tmp_path / "www" / "earth"
    out.mkdir(parents=True)
    (out / "movements").mkdir()
    (out / "movements" / "gone.html").write_text("a page of a movement that left")
    (out / "about-us.txt").write_text("the host's own file")
    assert await run("publish", "--out", str(out), "--env-file", str(env)) == 0
    said = capsys.readouterr().out
    assert f"open {out / 'index.html'}" in said
    assert (out / "movements" / "climate-camp.html").exists()
    assert not (out / "movements" / "gone.html").exists()  # the previous publish's page
    assert (out / "about-us.txt").exists()  # not ours: left alone
    assert "Respect for nature" in (out / "index.html").read_text()
    assert [p.name for p in out.rglob(".*")] == []  # no file half-written

    # By its name or short name; an unknown one, or a folder that cannot be written, is said.
    args = ("--env-file", str(env))
    assert await run("publish", "--alliance", "Earth Alliance", "--out", str(out), *args) == 0
    capsys.readouterr()
    assert await run("publish", "--alliance", "Moon Alliance", "--out", str(out), *args) == 1
    assert capsys.readouterr().err == "multilogue: cannot publish: There is no such alliance.\n"
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    assert await run("publish", "--out", str(blocked / "site"), *args) == 1
    said = capsys.readouterr().err
    assert said.startswith(f"multilogue: cannot write {blocked / 'site'} (")
    assert said.count("\n") == 1

    await world.say(COMMONS, ADA, "alliance set public no")
    operators_copy(tmp_path)
    assert await run("publish", "--out", str(tmp_path / "again"), *args) == 1
    assert capsys.readouterr().err == (
        "multilogue: cannot publish: Earth Alliance is not published. A moderator of its "
        "commons allows a public page with !alliance set public yes.\n"
    )
    assert not (tmp_path / "again").exists()
