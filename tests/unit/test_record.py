"""The record as one document: what `!record export` posts matches the published schema, holds
the record and nothing private beyond it, and imported into another bot exports the same again."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.cli import main
from bot.contract import CommandError
from bot.ids import RoomID
from bot.store import Store
from commands.council.proposals import reconcile
from commands.record import export_alliance, import_alliance
from tests.unit.fakes import FakeServices, in_thread, make_config, room_state
from tests.unit.test_alliance_commands import (
    ADA,
    BEA,
    CAL,
    CAMP,
    COMMONS,
    DEE,
    EVE,
    FARMERS,
    TENANTS,
    World,
    make_alliance,
)

SCHEMA = json.loads((Path(__file__).parents[2] / "commands" / "record" / "schema.json").read_text())


def record_world(tmp_path: Path, store: Store) -> World:
    """An alliance's commons and three movement rooms, as `a_year_of_work` needs them."""
    rooms = [
        room_state(COMMONS, ADA, members=[EVE], name="Commons"),
        room_state(CAMP, BEA, members=[EVE], name="Camp room"),
        room_state(TENANTS, CAL, name="Tenants room"),
        room_state(FARMERS, DEE, name="Farmers room"),
    ]
    return World(FakeServices(make_config(tmp_path), store, rooms, forbid={"leave"}))


@pytest.fixture
def world(tmp_path: Path, store: Store) -> World:
    return record_world(tmp_path, store)


async def a_year_of_work(world: World) -> None:
    """Something of every kind the record keeps."""
    await make_alliance(world)
    await world.say(COMMONS, ADA, "objective propose Respect for nature")
    await world.say(CAMP, EVE, "statement propose We defend the commons.")
    await world.decide(CAMP, BEA, 1, {BEA: "agree"})
    await world.say(CAMP, BEA, "statement amend 1 We defend the commons together.")
    await world.decide(CAMP, BEA, 2, {BEA: "agree"})
    await world.say(CAMP, BEA, "statement propose We act without violence.")
    await world.decide(CAMP, BEA, 3, {BEA: "agree"})
    await world.say(CAMP, BEA, "statement drop 1")
    await world.decide(CAMP, BEA, 4, {BEA: "agree"})
    template, linked = await world.say(CAMP, BEA, "statement link 1 1")
    assert template == "statement_linked", linked.body
    await world.say(TENANTS, CAL, "endorse 1")
    await world.decide(TENANTS, CAL, 1, {CAL: "block"})
    await world.say(COMMONS, ADA, "proposal We share one legal team")
    await reconcile(world.services)
    await world.say(COMMONS, ADA, "proposal close 1")
    (root,) = [
        r[0]
        for r in await world.services.store.fetch_all("SELECT root_event_id FROM council_proposals")
    ]
    await world.answer(
        COMMONS, ADA, "outcome --review 1y Not now: ask again", relates_to=in_thread(root)
    )
    root = world.make_event(CAMP, BEA, "m.room.message", {"msgtype": "m.text", "body": "Buses?"})
    await world.listen(root)
    await world.answer(CAMP, BEA, "share", relates_to=in_thread(root.event_id))
    await world.say(FARMERS, DEE, "movement leave")
    await world.say(COMMONS, ADA, "alliance set public yes")
    await world.say(TENANTS, CAL, "rules set public no")
    await world.say(CAMP, BEA, "rules set reasons public")


async def test_the_record_export_posts_the_whole_record_as_a_file(world: World) -> None:
    await a_year_of_work(world)
    template, message = await world.say(COMMONS, ADA, "record export")
    assert template == "record_exported", message.body
    assert message.body.startswith(
        "Here is the record of Earth Alliance: 3 movements, 1 objective, 1 proposal ("
    )
    ((room, filename, data, _),) = world.services.files
    assert (room, filename) == (COMMONS, "earth-alliance-record.json")
    document = json.loads(data)
    jsonschema.validate(document, SCHEMA)

    camp = next(m for m in document["movements"] if m["slug"] == "climate-camp")
    assert [c["what"] for c in camp["consent"]] == ["asked", "approved"]
    assert [(v["version"], v["change"], v["item"]) for v in camp["statement"]["versions"]] == [
        (1, "add", 1),
        (2, "amend", 1),
        (3, "add", 2),
        (4, "drop", 1),
    ]
    assert camp["statement"]["items"] == [
        {"number": 1, "text": "We act without violence.", "version": 3}
    ]
    ratified = camp["statement"]["versions"][0]["poll"]
    assert ratified["tally"] == {"agree": 1, "reservations": 0, "stand_aside": 0, "block": 0}
    assert ratified["rule"]
    assert ratified["closed_at"]
    assert ratified["event_id"]
    assert camp["public"] is None
    assert camp["public_reasons"] is True
    farmers = next(m for m in document["movements"] if m["slug"] == "farmers")
    assert [c["what"] for c in farmers["consent"]] == ["asked", "approved", "left"]
    assert document["objectives"][0]["wordings"][0]["movement"] == "climate-camp"
    assert document["objectives"][0]["wordings"][0]["item"] == 1
    (stance,) = document["objectives"][0]["stances"]
    assert (stance["movement"], stance["state"]) == ("tenants-union", "not_endorsed")
    assert document["proposals"][0]["rounds"][0]["closed_via"] == "command"
    assert document["proposals"][0]["outcome"]["text"] == "Not now: ask again"
    assert document["shared_threads"][0]["title"] == "Buses?"
    assert document["alliance"]["settings"]["public"] is True
    # Who voted how is never in it, nor any message beyond the record.
    text = data.decode()
    assert "choices" not in text
    assert "Buses? " not in text


async def test_an_imported_record_exports_the_same_again(world: World, tmp_path: Path) -> None:
    await a_year_of_work(world)
    store = world.services.store
    (alliance_id,) = [row[0] for row in await store.fetch_all("SELECT id FROM alliances")]
    original = await export_alliance(store, alliance_id)

    other = await Store.open(tmp_path / "other.db")
    try:
        imported = await import_alliance(other, original)
        assert imported.alliance == "Earth Alliance"
        assert imported.rooms[0] == COMMONS
        assert CAMP in imported.rooms
        assert FARMERS not in imported.rooms  # it left
        (new_id,) = [row[0] for row in await other.fetch_all("SELECT id FROM alliances")]
        again = await export_alliance(other, new_id)
        assert again == original
        # Importing it twice is refused, and changes nothing.
        with pytest.raises(CommandError) as refused:
            await import_alliance(other, original)
        assert refused.value.words.key == "record.exists"
        assert await export_alliance(other, new_id) == original
    finally:
        await other.close()


async def test_a_broken_or_foreign_document_is_refused_whole(tmp_path: Path, store: Store) -> None:
    document: dict[str, Any] = {"schema_version": 2}
    with pytest.raises(CommandError) as refused:
        await import_alliance(store, document)
    assert refused.value.words.key == "record.schema"
    assert await store.fetch_all("SELECT id FROM alliances") == []


async def test_words_of_an_encrypted_room_are_not_exported_into_an_unencrypted_commons(
    world: World,
) -> None:
    await a_year_of_work(world)
    world.services.rooms[CAMP].encrypted = True
    refused = await world.body(COMMONS, ADA, "record export")
    assert "words written in encrypted rooms (Climate Camp)" in refused
    assert world.services.files == []
    world.services.rooms[COMMONS].encrypted = True  # an encrypted commons may hold them
    template, _ = await world.say(COMMONS, ADA, "record export")
    assert template == "record_exported"
    assert len(world.services.files) == 1


async def test_only_commons_moderators_export_and_only_from_the_commons(world: World) -> None:
    await make_alliance(world)
    assert "only a moderator" in await world.body(COMMONS, EVE, "record export")
    assert "commons room" in await world.body(CAMP, BEA, "record export")
    assert world.services.files == []
    assert "'maybe' is not yes or no" in await world.body(COMMONS, ADA, "alliance set public maybe")
    alone = RoomID("!alone:hs")
    world.services.rooms[alone] = room_state(alone, EVE)
    assert "not a movement of an alliance" in await world.body(alone, EVE, "rules set public no")


async def run(*argv: str) -> int:
    """`multilogue ...` as a person types it (in a thread: it runs its own event loop)."""
    return await asyncio.to_thread(main, list(argv))


async def test_the_command_line_exports_and_imports(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await a_year_of_work(world)
    data = tmp_path / "data"
    data.mkdir()
    with (
        closing(sqlite3.connect(tmp_path / "db.sqlite")) as live,
        closing(sqlite3.connect(data / "multilogue.db")) as copy,
    ):
        live.backup(copy)  # the bot's data folder, as the command line finds it
    env = tmp_path / "bot.env"
    env.write_text(
        "MATRIX_HOMESERVER=https://example.org\nMATRIX_USER_ID=@bot:example.org\n"
        f"MATRIX_PASSWORD=pw\nMULTILOGUE_DATA_DIR={data}\n"
    )
    out = tmp_path / "earth.json"
    assert (
        await run(
            "export", "--alliance", "Earth Alliance", "--out", str(out), "--env-file", str(env)
        )
        == 0
    )
    assert "wrote the record of Earth Alliance" in capsys.readouterr().out
    jsonschema.validate(json.loads(out.read_text()), SCHEMA)
    assert await run("export", "--alliance", "nope", "--env-file", str(env)) == 1
    assert "There is no such alliance" in capsys.readouterr().err

    other_env = tmp_path / "other.env"
    other_env.write_text(env.read_text().replace(str(data), str(tmp_path / "other-data")))
    assert await run("import", str(out), "--env-file", str(other_env)) == 0
    said = capsys.readouterr().out
    assert "imported Earth Alliance. Invite the bot to these rooms" in said
    assert f"  - {COMMONS}" in said
    assert await run("import", str(out), "--env-file", str(other_env)) == 1
    assert "already keeps the alliance Earth Alliance" in capsys.readouterr().err
    again = tmp_path / "again.json"
    assert await run("export", "--out", str(again), "--env-file", str(other_env)) == 0
    assert again.read_bytes() == out.read_bytes()
