"""The weekly digest, by the fakes' clock (nothing waits in real time): every kind of entry,
posted once a week at its local hour across daylight-saving changes, a missed digest posted
once after downtime, and words of an encrypted room kept out of an unencrypted one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.events import Event
from bot.ids import RoomID
from bot.store import Store
from commands import digest, record
from commands.alliance.store import move_room as alliance_move_room
from commands.council.proposals import reconcile
from commands.digest.digests import post_due
from commands.digest.schedule import ScheduleError, Weekly, latest_slot, next_slot, parse_weekly
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

BERLIN = ZoneInfo("Europe/Berlin")
DAY_MS = 24 * 3600 * 1000
RIDERS, FRED = RoomID("!riders:hs"), "@fred:hs"


def ms(text: str, tz: ZoneInfo = BERLIN) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=tz).timestamp() * 1000)


# -- the schedule ------------------------------------------------------------------------------


def test_a_weekly_slot_keeps_its_local_hour_across_daylight_saving() -> None:
    monday_nine = Weekly(0, 9)
    # Summer time starts in Berlin on Sunday 28 March 2027.
    before = latest_slot(ms("2027-03-24T12:00"), BERLIN, monday_nine)
    after = latest_slot(ms("2027-03-31T12:00"), BERLIN, monday_nine)
    assert datetime.fromtimestamp(before / 1000, UTC).hour == 8  # 9:00 CET
    assert datetime.fromtimestamp(after / 1000, UTC).hour == 7  # 9:00 CEST
    assert after - before == 7 * DAY_MS - 3600 * 1000
    assert next_slot(before, BERLIN, monday_nine) == after
    # At the very moment of a slot, that slot is the latest and the next is a week on.
    assert latest_slot(after, BERLIN, monday_nine) == after
    # Winter time again on Sunday 31 October 2027.
    autumn = latest_slot(ms("2027-11-01T10:00"), BERLIN, monday_nine)
    assert datetime.fromtimestamp(autumn / 1000, BERLIN).hour == 9


def test_a_schedule_is_read_as_people_say_it() -> None:
    assert parse_weekly(["friday", "17"]) == Weekly(4, 17)
    assert parse_weekly(["17:00", "fri"]) == Weekly(4, 17)
    assert parse_weekly(["wed"], current=Weekly(0, 8)) == Weekly(2, 8)
    assert parse_weekly([]) == Weekly(0, 9)
    for typed, key in (("9:30", "digest.on_the_hour"), ("25", "digest.weekly_is")):
        with pytest.raises(ScheduleError) as caught:
            parse_weekly([typed])
        assert caught.value.words.key == key
    with pytest.raises(ScheduleError):
        parse_weekly(["someday"])


# -- the digest's content ----------------------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path, store: Store) -> World:
    rooms = [
        room_state(COMMONS, ADA, members=[EVE], name="Commons"),
        room_state(CAMP, BEA, members=[EVE], name="Camp room"),
        room_state(TENANTS, CAL, name="Tenants room"),
        room_state(FARMERS, DEE, name="Farmers room"),
        room_state(RIDERS, FRED, name="Riders room"),
    ]
    config = replace(make_config(tmp_path), timezone=BERLIN)
    return World(FakeServices(config, store, rooms, forbid={"leave"}), clock=ms("2026-06-01T10:00"))


async def thread_message(world: World, room: RoomID, sender: str, text: str, root: str) -> Event:
    content: dict[str, Any] = {"msgtype": "m.text", "body": text, "m.relates_to": in_thread(root)}
    event = world.make_event(room, sender, "m.room.message", content)
    await world.listen(event)
    return event


async def busy_week(world: World) -> None:
    """Three movements join in June; 100 days later, a week where something of every kind
    happens, except that the farmers decide nothing."""
    await make_alliance(world)
    await world.say(COMMONS, ADA, "objective propose Respect for nature")
    world.clock += 100 * DAY_MS
    await world.say(CAMP, EVE, "statement propose We defend the commons.")
    await world.decide(CAMP, BEA, 1, {BEA: "agree"})
    await world.say(CAMP, BEA, "statement amend 1 We defend the commons together.")
    await world.decide(CAMP, BEA, 2, {BEA: "agree"})
    await world.say(TENANTS, CAL, "endorse 1")
    await world.decide(TENANTS, CAL, 1, {CAL: "agree"})
    await world.say(COMMONS, ADA, "proposal We share one legal team")
    await world.say(COMMONS, ADA, "proposal close 1")
    await world.say(COMMONS, ADA, "proposal --closes 3d We march on the 12th")
    await reconcile(world.services)
    root = world.make_event(CAMP, BEA, "m.room.message", {"msgtype": "m.text", "body": "Buses?"})
    await world.listen(root)
    await world.answer(CAMP, BEA, "share", relates_to=in_thread(root.event_id))
    for n in range(3):
        await thread_message(world, CAMP, EVE, f"We have {n} seats", root.event_id)
    await world.say(RIDERS, FRED, "movement join earth-alliance as Riders")
    await world.say(COMMONS, ADA, "movement approve Riders")
    await world.say(TENANTS, CAL, "movement leave")


async def test_a_digest_tells_every_kind_of_entry_in_one_notice(world: World) -> None:
    await busy_week(world)
    template, message = await world.say(COMMONS, EVE, "digest")
    assert template == "digest"
    body = message.body
    assert body.startswith("Earth Alliance, the last 7 days (since ")
    assert "Proposals opened:\n  - 1: We share one legal team\n  - 2: We march on the 12th" in body
    assert "Closing soon:\n  - 2: We march on the 12th, closes " in body
    assert "Decided:\n  - 1: did not pass: We share one legal team" in body
    assert '- Climate Camp, item 1 added: "We defend the commons."' in body
    reworded = "- Climate Camp, item 1 reworded: We defend the [-commons.-] {+commons together.+}"
    assert reworded in body
    assert "Tenants Union endorses objective 1: Respect for nature" in body
    assert 'New shared threads:\n  - #1 "Buses?", from Climate Camp' in body
    assert 'Busiest threads:\n  - #1 "Buses?": 3 messages' in body
    assert "Joined: Riders" in body
    assert "Left: Tenants Union" in body
    # The farmers joined 100 days ago and decided nothing since: named openly, once.
    assert "No decision for 90 days or more:\n  - Farmers (none yet)" in body
    assert body.count("Farmers") == 1
    assert "Climate Camp (" not in body.split("No decision")[1]  # it decided this week
    # On demand, a longer look back reads the same way; a shorter one leaves June out.
    _, longer = await world.say(COMMONS, EVE, "digest --days 92")
    assert "the last 92 days" in longer.body
    assert "Joined: Riders" in longer.body


async def test_a_quiet_week_says_so(world: World) -> None:
    await make_alliance(world)
    world.clock += 30 * DAY_MS
    _, message = await world.say(CAMP, BEA, "digest")
    assert "A quiet week: nothing was proposed, decided, changed or shared." in message.body


async def test_words_of_an_encrypted_room_stay_out_of_an_unencrypted_digest(world: World) -> None:
    world.services.rooms[CAMP].encrypted = True
    await busy_week(world)
    _, plain = await world.say(COMMONS, EVE, "digest")
    assert "Climate Camp, item 1 added (the words stay in their encrypted room)" in plain.body
    assert "defend" not in plain.body
    assert "Buses?" not in plain.body
    _, own = await world.say(CAMP, BEA, "digest")
    assert "We defend the commons." in own.body  # in an encrypted room, read as ever


async def test_a_digest_of_a_very_busy_week_fits_one_event(world: World) -> None:
    await make_alliance(world)
    for n in range(12):
        await world.say(COMMONS, ADA, f"proposal Proposal number {n} " + "words " * 200)
    _, message = await world.say(COMMONS, EVE, "digest")
    assert "- and 4 more" in message.body
    assert len(message.body.encode()) < 40_000


# -- posted each week, once --------------------------------------------------------------------


def digests_in(world: World, room: RoomID) -> list[str]:
    return [
        n.message.body
        for n in world.services.notices
        if n.room_id == room and n.reply.template == "digest"
    ]


async def test_the_weekly_digest_comes_once_and_a_missed_one_once_after_downtime(
    world: World,
) -> None:
    await make_alliance(world)  # Monday 1 June 2026, 10:00 in Berlin
    template, message = await world.say(COMMONS, ADA, "alliance set digest weekly")
    assert template == "digest_set", message.body
    assert "every Monday at 9:00. The first one comes Mon 8 Jun" in message.body
    await post_due(world.services)
    assert digests_in(world, COMMONS) == []  # this Monday's 9:00 was before it was asked for

    world.clock = ms("2026-06-08T08:59")
    await post_due(world.services)
    assert digests_in(world, COMMONS) == []
    world.clock = ms("2026-06-08T09:00")
    for _ in range(3):  # the timer runs again, as after a restart
        await post_due(world.services)
    (first,) = digests_in(world, COMMONS)
    assert first.startswith("This week in Earth Alliance (since Mon 1 Jun")
    assert "Joined: Climate Camp, Farmers, Tenants Union" in first
    assert "Stop it: !alliance set digest off" in first

    # Down for three weeks: one digest when it is back, covering all of it.
    await world.say(COMMONS, ADA, "objective propose Respect for nature")
    world.clock = ms("2026-07-01T15:00")
    await post_due(world.services)
    await post_due(world.services)
    second = digests_in(world, COMMONS)[1:]
    assert len(second) == 1
    assert second[0].startswith("This week in Earth Alliance (since Mon 8 Jun")
    keys = [n.txn_key for n in world.services.notices if n.reply.template == "digest"]
    assert len(keys) == len(set(keys)) == 2

    # Off: nothing more.
    await world.say(COMMONS, ADA, "alliance set digest off")
    world.clock = ms("2026-07-06T09:00")
    await post_due(world.services)
    assert len(digests_in(world, COMMONS)) == 2


async def test_a_movement_room_may_get_the_digest_too(world: World) -> None:
    await make_alliance(world)
    await world.say(COMMONS, ADA, "alliance set digest weekly friday 17")
    template, message = await world.say(CAMP, BEA, "rules set digest weekly")
    assert template == "digest_room_set", message.body
    assert "This room gets the alliance's weekly digest" in await world.body(CAMP, EVE, "rules")
    world.clock = ms("2026-06-05T17:00")
    await post_due(world.services)
    await post_due(world.services)
    assert len(digests_in(world, CAMP)) == 1
    assert len(digests_in(world, COMMONS)) == 1
    assert digests_in(world, TENANTS) == []
    # A room outside any alliance has no digest to get.
    _, alone = await world.say(RIDERS, FRED, "rules set digest weekly")
    assert "not a movement of an alliance yet" in alone.body


async def test_digest_settings_refuse_what_they_cannot_use(world: World) -> None:
    await make_alliance(world)
    cases = {
        (COMMONS, EVE, "alliance set digest weekly"): "only a moderator",
        (COMMONS, ADA, "alliance set digest sometimes"): "'sometimes' is not a digest setting",
        (COMMONS, ADA, "alliance set digest weekly 9:30"): "say 9 instead of 9:30",
        (COMMONS, ADA, "alliance set digest weekly 25"): "'25' is not a day or an hour",
        (COMMONS, ADA, "alliance set quiet soon"): "'soon' is not a length of time",
        (COMMONS, ADA, "alliance set quiet 3d"): "between 2 weeks and 5 years",
        (COMMONS, EVE, "digest --days 0"): "A digest looks back 1 to 92 days",
        (COMMONS, EVE, "digest --days 400"): "A digest looks back 1 to 92 days",
        (COMMONS, EVE, "digest --days lots"): "'lots' is not a number of days",
        (CAMP, BEA, "rules set digest daily"): "'daily' is not a digest setting",
        (CAMP, EVE, "rules set digest weekly"): "moderator",
        (RIDERS, FRED, "digest"): "!alliance",
    }
    for (room, sender, text), expected in cases.items():
        body = await world.body(room, sender, text)
        assert expected in body, (text, body)
    shown = await world.body(COMMONS, EVE, "alliance")
    assert "Weekly digest: off (!alliance set digest weekly to start it)." in shown
    await world.say(COMMONS, ADA, "alliance set quiet 6m")
    assert "no decision for 180 days" in await world.body(COMMONS, EVE, "alliance")


async def test_a_movement_rooms_digest_and_publicity_move_with_an_upgraded_room(
    world: World,
) -> None:
    await make_alliance(world)
    await world.say(CAMP, BEA, "rules set digest weekly")
    await world.say(CAMP, BEA, "rules set public no")
    new = RoomID("!camp2:hs")
    world.services.rooms[new] = room_state(new, BEA, members=[EVE], name="Camp room")
    # What the upgrades family does once the bot is in the replacement room.
    await alliance_move_room(world.services.store, CAMP, new)
    await digest.move_room(world.services.store, CAMP, new)
    await record.move_room(world.services.store, CAMP, new)
    rules = await world.body(new, EVE, "rules")
    assert "This room gets the alliance's weekly digest." in rules
    assert "The statement stays off the public page." in rules
