"""A movement asks itself again about its statement and its endorsements (`!rules set review
1y`), by the fakes' clock: once per item and stance when the period has passed, never before,
nothing dropped by silence, and an endorsement that is no longer wanted is withdrawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.ids import RoomID
from bot.store import Store
from commands.alliance.decisions import settle_decisions
from commands.alliance.reviews import review_due
from tests.unit.fakes import FakeServices, make_config, room_state
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

DAY_MS = 24 * 3600 * 1000
START = "org.matrix.msc3381.poll.start"


@pytest.fixture
async def world(tmp_path: Path, store: Store) -> World:
    rooms = [
        room_state(COMMONS, ADA, members=[EVE], name="Commons"),
        room_state(CAMP, BEA, members=[EVE], name="Camp room"),
        room_state(TENANTS, CAL, name="Tenants room"),
        room_state(FARMERS, DEE, name="Farmers room"),
    ]
    world = World(FakeServices(make_config(tmp_path), store, rooms, forbid={"leave"}))
    await make_alliance(world)
    await world.say(COMMONS, ADA, "objective propose Respect for nature")
    await world.say(CAMP, BEA, "statement propose We defend the commons.")
    await world.decide(CAMP, BEA, 1, {BEA: "agree"})
    await world.say(CAMP, BEA, "statement propose We act without violence.")
    await world.decide(CAMP, BEA, 2, {BEA: "agree"})
    await world.say(TENANTS, CAL, "endorse 1")
    await world.decide(TENANTS, CAL, 1, {CAL: "agree"})
    return world


def questions(world: World, room: RoomID) -> list[str]:
    return [
        s.content[START]["question"]["body"]
        for s in world.services.sent
        if s.room_id == room and s.event_type == START
    ]


async def tick(world: World, days: int) -> None:
    world.clock += days * DAY_MS
    for _ in range(2):  # as after a restart
        await review_due(world.services)
        await settle_decisions(world.services)


async def test_each_item_is_asked_again_once_when_its_time_comes(world: World) -> None:
    template, said = await world.say(CAMP, BEA, "rules set review 1y")
    assert template == "alliance_review_set", said.body
    assert "Every 365 days this room is asked again" in said.body
    assert "Every 365 days the room is asked again" in await world.body(CAMP, EVE, "rules")
    # Item 2 gets new words half a year in: its year starts again then.
    await tick(world, 180)
    await world.say(CAMP, BEA, "statement amend 2 We act without any violence.")
    await world.decide(CAMP, BEA, 3, {BEA: "agree"})

    await tick(world, 184)  # 364 days after the first words
    assert len(questions(world, CAMP)) == 3
    await tick(world, 2)
    asked = questions(world, CAMP)[3:]
    assert asked == ["Still what we say? Item 1 of our statement: We defend the commons."]
    notice = world.notices_in(CAMP)[-1]
    assert notice.startswith("Time to ask again: item 1 of our statement was agreed ")
    assert "https://matrix.to/#/" in notice  # a link to the poll that agreed it

    # It does not pass: the words stay, and the room is told how to change them.
    await world.decide(CAMP, BEA, 4, {BEA: "block"})
    await tick(world, 0)
    told = world.notices_in(CAMP)
    assert any("Item 1 of our statement did not get the room's support again" in t for t in told)
    assert "We defend the commons." in await world.body(CAMP, EVE, "statement")
    decided = [t for t in told if "support again" in t or "stays as it is" in t]
    assert len(decided) == 1  # told once

    # Item 2's year ends 180 days later; it passes and its clock starts again.
    await tick(world, 180)
    assert questions(world, CAMP)[-1].startswith("Still what we say? Item 2")
    await world.decide(CAMP, BEA, 5, {BEA: "agree"})
    await tick(world, 0)
    assert (
        "Item 2 of our statement stays as it is, agreed again today."
        in (world.notices_in(CAMP)[-1])
    )
    before = len(questions(world, CAMP))
    await tick(world, 300)
    # Item 1 was asked (and said no) a year ago: asked again, once; item 2 not before its year.
    assert questions(world, CAMP)[before:] == [
        "Still what we say? Item 1 of our statement: We defend the commons."
    ]
    before += 1

    await world.say(CAMP, BEA, "rules set review off")
    await tick(world, 800)
    assert len(questions(world, CAMP)) == before


async def test_an_endorsement_asked_again_and_no_longer_wanted_is_withdrawn(
    world: World,
) -> None:
    await world.say(TENANTS, CAL, "rules set review 6m")
    await tick(world, 179)
    assert len(questions(world, TENANTS)) == 1
    await tick(world, 2)
    assert len(questions(world, TENANTS)) == 2
    assert "Do we endorse it now?" in world.notices_in(TENANTS)[-1]
    await world.decide(TENANTS, CAL, 2, {CAL: "block"})
    await tick(world, 0)
    assert any(
        "Tenants Union does not endorse objective #1" in t for t in world.notices_in(TENANTS)
    )
    assert "✗ Tenants Union does not endorse" in await world.body(TENANTS, CAL, "compare 1")
    assert len(questions(world, TENANTS)) == 2  # asked once


async def test_review_settings_refuse_what_they_cannot_use(world: World) -> None:
    cases = {
        (CAMP, EVE, "rules set review 1y"): "moderator",
        (CAMP, BEA, "rules set review soon"): "'soon' is not a period",
        (CAMP, BEA, "rules set review 2w"): "at most every 30 days",
        (CAMP, BEA, "rules set review 50y"): "at most ten years ahead",
    }
    for (room, sender, text), expected in cases.items():
        body = await world.body(room, sender, text)
        assert expected in body, (text, body)
    alone = RoomID("!alone:hs")
    world.services.rooms[alone] = room_state(alone, EVE)
    assert "no statement or endorsements to review" in await world.body(
        alone, EVE, "rules set review 1y"
    )
    await tick(world, 400)
    assert len(questions(world, CAMP)) == 2  # never set: nothing asked
