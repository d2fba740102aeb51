"""One reminder before a poll closes, to those who have not voted and only them, by the bot's
clock (the fakes' clock moves; nothing waits in real time)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.ids import RoomID, UserID
from bot.store import Store
from commands.polls import close_due_polls
from tests.unit.fakes import FakeServices, Harness, Noticed, make_config, room_state

ROOM = RoomID("!room")
ALICE = UserID("@alice:hs")  # the room's creator (v12: unlimited power)
BOB = UserID("@bob:hs")
CAROL = UserID("@carol:hs")
MOD = UserID("@mod:hs")
START = "org.matrix.msc3381.poll.start"
RESPONSE = "org.matrix.msc3381.poll.response"
HOUR_MS = 3600 * 1000


class World(Harness):
    async def say(self, sender: str, text: str) -> str:
        _, message = await self.answer(ROOM, sender, text)
        return message.body

    def start(self, number: int) -> str:
        return [s.event_id for s in self.services.sent if s.event_type == START][number - 1]

    async def vote(self, sender: str, number: int, answer: str) -> None:
        content = {
            "m.relates_to": {"rel_type": "m.reference", "event_id": self.start(number)},
            RESPONSE: {"answers": [answer]},
        }
        await self.listen(self.make_event(ROOM, sender, RESPONSE, content))

    def reminders(self) -> list[Noticed]:
        return [n for n in self.services.notices if n.reply.template == "poll_reminder"]

    async def tick(self, ms: int) -> None:
        """Time passes, then the deadline timer runs (twice: as after a restart)."""
        self.clock += ms
        await close_due_polls(self.services)
        await close_due_polls(self.services)


@pytest.fixture
def world(tmp_path: Path, store: Store) -> World:
    room = room_state(ROOM, ALICE, members=(BOB, CAROL, MOD), powers={MOD: 50}, named=True)
    return World(FakeServices(make_config(tmp_path), store, [room]))


async def test_one_reminder_a_day_before_the_close_in_the_polls_thread(world: World) -> None:
    assert "Poll #1 is open" in await world.say(ALICE, "poll --closes 3d Where?\nPark\nLibrary")
    await world.vote(BOB, 1, "a1")
    await world.tick(47 * HOUR_MS)
    assert world.reminders() == []
    await world.tick(2 * HOUR_MS)  # 23 hours left
    (reminder,) = world.reminders()
    assert reminder.thread_root == world.start(1)
    assert reminder.message.body.startswith("Poll #1 closes in 23 hours. 1 of 4 members")
    assert reminder.mentions == ()  # it pings nobody by default
    assert "Bob" not in reminder.message.body
    await world.tick(HOUR_MS)
    assert len(world.reminders()) == 1  # once, however often the timer runs


async def test_a_room_may_ask_to_mention_those_who_have_not_voted_and_never_the_others(
    world: World,
) -> None:
    assert "mention the members who have not voted" in await world.say(
        MOD, "rules set remind mention"
    )
    assert "12 hours" in await world.say(MOD, "rules set reminder 12h")
    assert "one reminder 12 hours before" in await world.say(BOB, "rules")
    await world.say(ALICE, "poll --closes 2d Where?\nPark\nLibrary")
    await world.vote(BOB, 1, "a1")
    await world.vote(CAROL, 1, "a2")
    await world.tick(24 * HOUR_MS)
    assert world.reminders() == []  # 12 hours before, not 24
    await world.tick(13 * HOUR_MS)
    (reminder,) = world.reminders()
    assert set(reminder.mentions) == {ALICE, MOD}
    assert "Not voted yet: Alice, Mod." in reminder.message.body
    assert 'href="https://matrix.to/#/@mod:hs"' in reminder.message.html
    assert "Bob" not in reminder.message.body
    assert "Carol" not in reminder.message.body


async def test_no_reminder_for_a_poll_closed_early_one_too_short_or_a_room_that_said_off(
    world: World,
) -> None:
    await world.say(ALICE, "poll --closes 3d Early?\nYes\nNo")
    await world.say(ALICE, "poll close 1")
    await world.say(ALICE, "poll --closes 6h Short?\nYes\nNo")  # closes within the 24 hours
    await world.tick(60 * HOUR_MS)
    assert world.reminders() == []
    assert "no reminder" in await world.say(MOD, "rules set reminder off")
    await world.say(ALICE, "poll --closes 3d Quiet?\nYes\nNo")
    await world.tick(60 * HOUR_MS)
    assert world.reminders() == []
    assert "at least 10 minutes" in await world.say(MOD, "rules set reminder 1m")
    reply, _ = await world.answer(ROOM, BOB, "rules set reminder 12h")
    assert reply.template == "permission_denied"


async def test_a_decision_polls_reminder_says_what_it_would_decide_and_about_its_quorum(
    world: World,
) -> None:
    await world.say(MOD, "rules set consensus quorum 4")
    await world.say(ALICE, "consensus --closes 3d We march on Saturday")
    await world.vote(BOB, 1, "agree")
    await world.tick(49 * HOUR_MS)
    (reminder,) = world.reminders()
    assert "With the votes so far: Not passed: only 1 voter, the quorum is 4." in (
        reminder.message.body
    )
    assert "The quorum of 4 needs 3 more voters." in reminder.message.body


async def test_whohasnt_names_for_moderators_and_a_count_for_the_others(world: World) -> None:
    await world.say(ALICE, "poll Where?\nPark\nLibrary")
    await world.vote(BOB, 1, "a1")
    assert "3 of 4 members have not voted in poll #1 yet: Alice, Carol, Mod." in (
        await world.say(MOD, "whohasnt")
    )
    counted = await world.say(BOB, "whohasnt 1")
    assert "3 of 4 members have not voted in poll #1 yet." in counted
    assert "Carol" not in counted
    assert "Only moderators see the names." in counted
