"""A movement asks itself again about its statement and its endorsements (`!rules set review
1y`), by the fakes' clock: once per item and stance when the period has passed, never before,
also when the timer runs twice, after a restart or after a crash halfway; nothing dropped by
silence, an endorsement that is no longer wanted is withdrawn, and nothing superseded in the
meantime is asked about."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.ids import RoomID
from bot.store import Store
from commands.alliance.decisions import settle_decisions
from commands.alliance.reviews import review_due
from commands.alliance.store import move_room
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
ITEM_1 = "Still what we say? Item 1 of our statement: We defend the commons."
ITEM_2 = "Still what we say? Item 2 of our statement: We act without violence."
ENDORSE_1 = "Does Tenants Union endorse objective #1 of Earth Alliance: “Respect for nature”?"


@pytest.fixture
async def world(tmp_path: Path, store: Store) -> World:
    """Climate Camp agreed two items of its statement, Tenants Union endorsed objective #1:
    all on the fakes' first day."""
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
    """The polls in the room, as its members read them."""
    return [
        s.content[START]["question"]["body"]
        for s in world.services.sent
        if s.room_id == room and s.event_type == START
    ]


def asked_again(world: World, room: RoomID) -> list[str]:
    """Every "Time to ask again" notice the bot asked to send in the room, repeats included
    (the fakes answer a repeat with the same event; the bot should not need to ask twice)."""
    return [
        n.message.body
        for n in world.services.notices
        if n.room_id == room and n.message.body.startswith("Time to ask again")
    ]


async def tick(world: World, days: int) -> None:
    """`days` later, the timers run: twice, as when the bot restarts between two runs."""
    world.clock += days * DAY_MS
    for _ in range(2):
        await review_due(world.services)
        await settle_decisions(world.services)


async def test_each_item_is_asked_again_once_when_its_time_comes(world: World) -> None:
    template, said = await world.say(CAMP, BEA, "rules set review 1y")
    assert template == "alliance_review_set", said.body
    assert "Every 365 days this room is asked again" in said.body
    assert "The first question comes Wed 1 Dec 2027" in said.body
    assert "Every 365 days the room is asked again" in await world.body(CAMP, EVE, "rules")
    # Item 2 gets new words half a year in: its year starts again then.
    await tick(world, 180)
    await world.say(CAMP, BEA, "statement amend 2 We act without any violence.")
    await world.decide(CAMP, BEA, 3, {BEA: "agree"})

    await tick(world, 184)  # 364 days after the first words
    assert len(questions(world, CAMP)) == 3
    await tick(world, 2)
    assert questions(world, CAMP)[3:] == [ITEM_1]
    (notice,) = asked_again(world, CAMP)
    assert notice.startswith("Time to ask again: item 1 of our statement was agreed Tue 1 Dec 2026")
    assert "https://matrix.to/#/" in notice  # a link to the poll that agreed it

    # It does not pass: the words stay, and the room is told how to change them.
    await world.decide(CAMP, BEA, 4, {BEA: "block"})
    await tick(world, 0)
    told = world.notices_in(CAMP)
    assert told[-1] == (
        "Item 1 of our statement did not get the room's support again. Its words stay until"
        " you change them: !statement amend 1 <new words>, or !statement drop 1."
    )
    assert "We defend the commons." in await world.body(CAMP, EVE, "statement")
    decided = [t for t in told if "support again" in t or "stays as it is" in t]
    assert len(decided) == 1  # told once

    # Item 2's year ends 180 days later; it passes and its clock starts again.
    await tick(world, 180)
    assert questions(world, CAMP)[-1] == (
        "Still what we say? Item 2 of our statement: We act without any violence."
    )
    await world.decide(CAMP, BEA, 5, {BEA: "agree"})
    await tick(world, 0)
    assert world.notices_in(CAMP)[-1] == (
        "Item 2 of our statement stays as it is, agreed again today. Next time we ask: in 365 days."
    )
    before = len(questions(world, CAMP))
    await tick(world, 300)
    # Item 1 was asked (and said no) a year ago: asked again, once; item 2 not before its year.
    assert questions(world, CAMP)[before:] == [ITEM_1]
    before += 1

    said = (await world.say(CAMP, BEA, "rules set review off"))[1]
    assert said.body == (
        "No more standing reviews: the statement and the endorsements stay until the room"
        " changes them."
    )
    assert "No standing review" in await world.body(CAMP, EVE, "rules")
    await tick(world, 800)
    assert len(questions(world, CAMP)) == before


async def test_an_endorsement_asked_again_and_no_longer_wanted_is_withdrawn(
    world: World,
) -> None:
    await world.say(TENANTS, CAL, "rules set review 6m")
    await tick(world, 179)
    assert questions(world, TENANTS) == [ENDORSE_1]  # only the first one
    await tick(world, 2)
    assert questions(world, TENANTS) == [ENDORSE_1, ENDORSE_1]
    (notice,) = asked_again(world, TENANTS)
    assert notice.startswith(
        "Time to ask again: we decided Tue 1 Dec 2026, 12:00 (UTC) that we endorse objective #1"
    )
    assert notice.endswith(
        "Do we endorse it now? Vote in poll #2: if it does not pass, we no longer endorse it."
    )
    assert "Tenants Union is voting (until now: endorses)" in await world.body(
        TENANTS, CAL, "compare 1"
    )
    await world.decide(TENANTS, CAL, 2, {CAL: "block"})
    await tick(world, 0)
    assert world.notices_in(TENANTS)[-1].startswith(
        "Recorded: Tenants Union does not endorse objective #1 of Earth Alliance"
    )
    assert "✗ Tenants Union does not endorse" in await world.body(TENANTS, CAL, "compare 1")
    assert len(questions(world, TENANTS)) == 2  # asked once
    assert len(asked_again(world, TENANTS)) == 1

    # Six months after saying no, the room is asked again: now to endorse it.
    await tick(world, 181)
    assert questions(world, TENANTS)[2:] == [ENDORSE_1]
    assert asked_again(world, TENANTS)[-1].endswith(
        "Vote in poll #3: if it passes, we endorse it from then on."
    )
    await world.decide(TENANTS, CAL, 3, {CAL: "agree"})
    await tick(world, 0)
    assert "✓ Tenants Union endorses" in await world.body(TENANTS, CAL, "compare 1")


async def test_review_settings_refuse_what_they_cannot_use(world: World) -> None:
    cases = {
        (CAMP, EVE, "rules set review 1y"): "moderator",
        (CAMP, BEA, "rules set review soon"): "'soon' is not a period. Say e.g. !rules set"
        " review 1y (days d, weeks w, months m, years y), or off.",
        (CAMP, BEA, "rules set review"): "Say how often to ask again, e.g. !rules set review 1y",
        (CAMP, BEA, "rules set review 0d"): "The shortest period is 30 days",
        (CAMP, BEA, "rules set review 2w"): "The shortest period is 30 days",
        (CAMP, BEA, "rules set review 50y"): "'50y' is too long: the longest period is ten"
        " years. Say e.g. !rules set review 1y, or off.",
    }
    for (room, sender, text), expected in cases.items():
        body = await world.body(room, sender, text)
        assert expected in body, (text, body)
        assert "--review" not in body  # the other command's words
    assert "No standing review" in await world.body(CAMP, EVE, "rules")  # nothing changed

    alone = RoomID("!alone:hs")
    world.services.rooms[alone] = room_state(alone, EVE)
    assert await world.body(alone, EVE, "rules set review 1y") == (
        "This room is not a movement of an alliance yet, so it has no statement or"
        " endorsements to review."
    )
    assert "review" not in await world.body(alone, EVE, "rules")
    await tick(world, 400)
    assert len(questions(world, CAMP)) == 2  # never set: nothing asked
    assert questions(world, TENANTS) == [ENDORSE_1]


async def test_a_period_shorter_than_the_age_of_the_words_asks_at_once(world: World) -> None:
    await tick(world, 400)
    said = (await world.say(CAMP, BEA, "rules set review 1y"))[1]
    assert "Some are that old already: the first questions come in a minute." in said.body
    await tick(world, 0)
    assert questions(world, CAMP)[2:] == [ITEM_1, ITEM_2]
    # Made longer while they are open: the next question counts from the stored times.
    await world.say(CAMP, BEA, "rules set review 2y")
    await world.decide(CAMP, BEA, 3, {BEA: "agree"})
    await world.decide(CAMP, BEA, 4, {BEA: "agree"})
    await tick(world, 0)
    assert world.notices_in(CAMP)[-1].endswith("Next time we ask: in 730 days.")
    await tick(world, 729)
    assert len(questions(world, CAMP)) == 4
    await tick(world, 2)
    assert questions(world, CAMP)[4:] == [ITEM_1, ITEM_2]


async def test_a_restart_asks_nothing_twice(world: World) -> None:
    await world.say(CAMP, BEA, "rules set review 1y")
    await world.say(TENANTS, CAL, "rules set review 1y")
    await tick(world, 366)
    assert len(asked_again(world, CAMP)) == 2
    assert len(asked_again(world, TENANTS)) == 1

    # A new process on the same database, with a homeserver that remembers nothing either.
    old = world.services
    restarted = World(FakeServices(old.config, old.store, old.rooms.values(), forbid={"leave"}))
    restarted.clock = world.clock
    await tick(restarted, 0)
    await tick(restarted, 30)
    assert restarted.services.sends == []
    assert restarted.services.notices == []


async def test_a_crash_between_the_poll_and_its_notice_asks_once(world: World) -> None:
    await world.say(CAMP, BEA, "rules set review 1y")
    await world.say(TENANTS, CAL, "rules set review 1y")
    world.clock += 366 * DAY_MS
    # The bot stops right after posting the polls, before it could say why.
    world.services.forbid = frozenset({"leave", "notice"})
    await review_due(world.services)
    assert questions(world, CAMP)[2:] == [ITEM_1]  # stopped after the first poll
    assert questions(world, TENANTS)[1:] == [ENDORSE_1]
    assert world.services.notices[-1].message.body.startswith("Recorded: Tenants Union")

    world.services.forbid = frozenset({"leave"})
    await tick(world, 0)
    assert questions(world, CAMP)[2:] == [ITEM_1, ITEM_2]
    assert questions(world, TENANTS)[1:] == [ENDORSE_1]
    assert [n[:52] for n in asked_again(world, CAMP)] == [
        "Time to ask again: item 1 of our statement was agree",
        "Time to ask again: item 2 of our statement was agree",
    ]
    assert len(asked_again(world, TENANTS)) == 1
    # The endorsement poll still decides the stance.
    await world.decide(TENANTS, CAL, 2, {CAL: "block"})
    await tick(world, 0)
    assert "✗ Tenants Union does not endorse" in await world.body(TENANTS, CAL, "compare 1")


async def test_a_removed_review_poll_is_asked_again_a_period_later(world: World) -> None:
    await world.say(TENANTS, CAL, "rules set review 6m")
    await world.say(CAMP, BEA, "rules set review 6m")
    await tick(world, 181)
    # The rooms' moderators remove the polls that ask again: nothing is decided by them.
    for room, mod in ((TENANTS, CAL), (CAMP, BEA)):
        for poll in world.polls_in(room)[-2 if room == CAMP else -1 :]:
            await world.listen(world.make_event(room, mod, "m.room.redaction", {}, redacts=poll))
    await tick(world, 0)
    await tick(world, 1)
    assert "✓ Tenants Union endorses" in await world.body(TENANTS, CAL, "compare 1")
    assert "We defend the commons." in await world.body(CAMP, BEA, "statement")
    assert len(asked_again(world, TENANTS)) == 1  # not asked again at every run
    assert len(asked_again(world, CAMP)) == 2
    assert len(questions(world, TENANTS)) == 2

    await tick(world, 177)  # 178 days after they were asked
    assert len(questions(world, TENANTS)) == 2
    await tick(world, 3)
    assert questions(world, TENANTS)[2:] == [ENDORSE_1]
    assert questions(world, CAMP)[4:] == [ITEM_1, ITEM_2]


async def test_nothing_superseded_is_asked_about(world: World) -> None:
    await tick(world, 400)
    # An endorsement poll someone opened, and a change to item 1, are still open.
    await world.say(TENANTS, CAL, "endorse 1")
    await world.say(CAMP, BEA, "statement amend 1 We defend the commons, all of them.")
    # The Farmers left the alliance after agreeing their words.
    await world.say(FARMERS, DEE, "statement propose We feed the cities.")
    await world.decide(FARMERS, DEE, 1, {DEE: "agree"})
    await world.say(FARMERS, DEE, "rules set review 1y")
    assert "has left Earth Alliance" in await world.body(FARMERS, DEE, "movement leave")
    for room, mod in ((CAMP, BEA), (TENANTS, CAL)):
        await world.say(room, mod, "rules set review 1y")
    await tick(world, 0)
    await tick(world, 400)
    assert questions(world, CAMP)[3:] == [ITEM_2]  # item 1 is being changed
    assert len(questions(world, TENANTS)) == 2  # the open endorsement poll only
    assert len(questions(world, FARMERS)) == 1
    assert asked_again(world, TENANTS) == []
    assert asked_again(world, FARMERS) == []


async def test_words_changed_while_they_were_asked_about_are_not_confirmed(
    world: World,
) -> None:
    await world.say(CAMP, BEA, "rules set review 1y")
    await tick(world, 366)
    assert questions(world, CAMP)[2:] == [ITEM_1, ITEM_2]
    await world.say(CAMP, BEA, "statement drop 1")
    await world.say(CAMP, BEA, "statement amend 2 We act without any violence.")
    await world.decide(CAMP, BEA, 5, {BEA: "agree"})
    await world.decide(CAMP, BEA, 6, {BEA: "agree"})
    await world.decide(CAMP, BEA, 3, {BEA: "agree"})
    await world.decide(CAMP, BEA, 4, {BEA: "block"})
    await tick(world, 0)
    told = world.notices_in(CAMP)[-2:]
    assert told == [
        f"Poll #{number} asked again about words our statement no longer has: the room"
        " changed them while it ran, so there is nothing more to do. Type !statement to"
        " read it."
        for number in (3, 4)
    ]
    assert not any("Item 0" in t for t in world.notices_in(CAMP))
    statement = await world.body(CAMP, EVE, "statement")
    assert "We act without any violence." in statement
    assert "We defend the commons." not in statement


async def test_the_period_moves_with_an_upgraded_room(world: World) -> None:
    await world.say(CAMP, BEA, "rules set review 1y")
    new = RoomID("!camp2:hs")
    world.services.rooms[new] = room_state(new, BEA, members=[EVE], name="Camp room")
    await move_room(world.services.store, CAMP, new)
    assert "Every 365 days the room is asked again" in await world.body(new, EVE, "rules")
    await tick(world, 366)
    assert questions(world, new) == [ITEM_1, ITEM_2]
