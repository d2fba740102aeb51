"""What a consensus poll decided, in words, and a review date that asks the room again once
(by the fakes' clock: nothing waits in real time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.ids import RoomID, UserID
from bot.store import Store
from commands.polls import close_due_polls
from tests.unit.fakes import FakeServices, Harness, in_thread, make_config, room_state

ROOM = RoomID("!room")
ALICE = UserID("@alice:hs")
BOB = UserID("@bob:hs")
MOD = UserID("@mod:hs")
START = "org.matrix.msc3381.poll.start"
RESPONSE = "org.matrix.msc3381.poll.response"
DAY_MS = 24 * 3600 * 1000


class World(Harness):
    async def say(self, sender: str, text: str, *, thread: str | None = None) -> str:
        relates_to: dict[str, Any] | None = in_thread(thread) if thread else None
        _, message = await self.answer(ROOM, sender, text, relates_to=relates_to)
        return message.body

    def starts(self) -> list[tuple[str, str]]:
        return [
            (s.event_id, s.content[START]["question"]["body"])
            for s in self.services.sent
            if s.event_type == START
        ]

    async def vote(self, sender: str, start: str, answer: str) -> None:
        content = {
            "m.relates_to": {"rel_type": "m.reference", "event_id": start},
            RESPONSE: {"answers": [answer]},
        }
        await self.listen(self.make_event(ROOM, sender, RESPONSE, content))

    async def tick(self, ms: int) -> None:
        self.clock += ms
        await close_due_polls(self.services)
        await close_due_polls(self.services)


@pytest.fixture
def world(tmp_path: Path, store: Store) -> World:
    room = room_state(ROOM, ALICE, members=(BOB, MOD), powers={MOD: 50}, named=True)
    return World(FakeServices(make_config(tmp_path), store, [room]))


async def test_the_opener_writes_the_outcome_and_the_room_is_asked_again_once_on_review(
    world: World,
) -> None:
    await world.say(ALICE, "consensus We march on Saturday")
    ((start, _),) = world.starts()
    await world.vote(BOB, start, "agree")
    closed = await world.say(ALICE, "poll close 1")
    assert "Alice: say in a sentence what was decided, with !outcome <text>" in closed

    refused = await world.say(BOB, "outcome We march", thread=start)
    assert "Only Alice, who opened poll #1, or a moderator" in refused
    assert "not a time to review" in await world.say(
        ALICE, "outcome --review soon We march", thread=start
    )
    written = await world.say(ALICE, "outcome --review 6m We march from the station", thread=start)
    assert "The outcome of poll #1 is written" in written
    results = await world.say(BOB, "poll results 1")
    assert 'What was decided, in Alice\'s words: "We march from the station"' in results
    assert "say in a sentence" not in results

    await world.tick(179 * DAY_MS)
    assert len(world.starts()) == 1
    await world.tick(2 * DAY_MS)
    await world.tick(DAY_MS)
    assert len(world.starts()) == 2  # once
    (_, question) = world.starts()[1]
    assert question == "Still agreed? We march on Saturday"
    (notice,) = [n for n in world.services.notices if n.reply.template == "poll_review_opened"]
    assert "Time to review poll #1" in notice.message.body
    assert "Vote in poll #2" in notice.message.body


async def test_an_outcome_needs_a_closed_consensus_poll_and_to_say_which(world: World) -> None:
    assert "Write the outcome in the poll's thread" in await world.say(ALICE, "outcome Done")
    await world.say(ALICE, "poll Where?\nPark\nLibrary")
    await world.say(ALICE, "consensus We march")
    (straw, _), (consensus, _) = world.starts()
    assert "is a straw poll" in await world.say(ALICE, "outcome Park", thread=straw)
    assert "is still open" in await world.say(ALICE, "outcome We march", thread=consensus)
