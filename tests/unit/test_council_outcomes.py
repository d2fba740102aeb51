"""Alliance proposals kept alive: who has not decided yet, what was decided in the proposer's
words, and a review date that asks every movement again, once (by the fakes' clock)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.ids import EventID, RoomID
from bot.store import Store
from commands.council import store as council_store
from commands.council.outcomes import keep_up
from commands.council.spokes import CHANGED
from tests.unit.fakes import FakeServices, Harness, in_thread, make_config, room_state

ADA, EVE, BEA, CAL, DEE = "@ada:hs", "@eve:hs", "@bea:hs", "@cal:hs", "@dee:hs"
COMMONS, CAMP, TENANTS = RoomID("!commons:hs"), RoomID("!camp:hs"), RoomID("!tenants:hs")
START = "org.matrix.msc3381.poll.start"
RESPONSE = "org.matrix.msc3381.poll.response"
DAY_MS = 24 * 3600 * 1000


class World(Harness):
    async def say(self, room: RoomID, sender: str, text: str, *, thread: str | None = None) -> str:
        relates_to: dict[str, Any] | None = in_thread(thread) if thread else None
        _, message = await self.answer(room, sender, text, relates_to=relates_to)
        return message.body

    def polls_in(self, room: RoomID) -> list[str]:
        return [
            s.event_id for s in self.services.sent if s.room_id == room and s.event_type == START
        ]

    async def decide(self, room: RoomID, mover: str, answer: str) -> None:
        """The movement votes on its latest proposal poll and its moderator closes it."""
        poll = self.polls_in(room)[-1]
        content = {"m.relates_to": {"rel_type": "m.reference", "event_id": poll}}
        content[RESPONSE] = {"answers": [answer]}  # type: ignore[assignment]
        await self.listen(self.make_event(room, mover, RESPONSE, content))
        number = len(self.polls_in(room))
        assert "closed" in (await self.say(room, mover, f"poll close {number}")).lower()
        await keep_up(self.services)

    async def root(self, number: int) -> EventID:
        (alliance_id,) = [
            r[0] for r in await self.services.store.fetch_all("SELECT id FROM alliances")
        ]
        proposal = await council_store.proposal_by_number(self.services.store, alliance_id, number)
        assert proposal is not None
        assert proposal.root_event_id is not None
        return proposal.root_event_id

    def notices_in(self, room: RoomID, template: str) -> list[Any]:
        return [
            n for n in self.services.notices if n.room_id == room and n.reply.template == template
        ]


@pytest.fixture
async def world(tmp_path: Path, store: Store) -> World:
    rooms = [
        room_state(COMMONS, ADA, members=[EVE], named=True),
        room_state(CAMP, BEA, members=[DEE], named=True),
        room_state(TENANTS, CAL, named=True),
    ]
    world = World(FakeServices(make_config(tmp_path), store, rooms))
    await world.say(COMMONS, ADA, "alliance create Earth Alliance")
    for room, mover, name in ((CAMP, BEA, "Climate Camp"), (TENANTS, CAL, "Tenants Union")):
        await world.say(room, mover, f"movement join earth-alliance as {name}")
        await world.say(COMMONS, ADA, f"movement approve {name}")
    await world.say(CAMP, BEA, f"spokes add {DEE}")
    await world.say(COMMONS, ADA, "proposal We share one legal team")
    await keep_up(world.services)
    return world


async def test_whohasnt_in_the_commons_names_the_movements_still_deciding(world: World) -> None:
    first = await world.say(COMMONS, EVE, "whohasnt proposal 1")
    assert first.startswith("Proposal 1: 2 of 2 movements have no position yet. It closes ")
    assert "  - Climate Camp (spokes: Dee)" in first
    assert "  - Tenants Union\n" in first + "\n"

    await world.decide(CAMP, BEA, "agree")
    in_thread_ = await world.say(COMMONS, EVE, "whohasnt", thread=await world.root(1))
    assert in_thread_.startswith("Proposal 1: 1 of 2 movements have no position yet.")
    assert "Climate Camp" not in in_thread_
    bare = await world.say(COMMONS, EVE, "whohasnt")  # no poll of the commons' own is open
    assert bare == in_thread_

    assert "There is no proposal 9" in await world.say(COMMONS, EVE, "whohasnt proposal 9")
    assert "not a proposal number" in await world.say(COMMONS, EVE, "whohasnt proposal x")
    elsewhere = await world.say(CAMP, BEA, "whohasnt proposal 1")
    assert "Ask about a proposal in the commons" in elsewhere
    # In a movement room, the room's own polls, as ever: names for its moderator.
    own = await world.say(CAMP, BEA, "whohasnt 1")
    assert "poll #1" in own

    await world.decide(TENANTS, CAL, "block")
    done = await world.say(COMMONS, EVE, "whohasnt proposal 1")
    assert done == "Proposal 1 is closed. Every movement took a position."


async def test_the_proposer_writes_the_outcome_and_a_review_asks_again_once(
    world: World,
) -> None:
    thread = await world.root(1)
    early = await world.say(COMMONS, ADA, "outcome We share one legal team", thread=thread)
    assert "Proposal 1 is still open" in early

    await world.decide(CAMP, BEA, "agree")
    await world.decide(TENANTS, CAL, "agree")
    (told,) = world.notices_in(COMMONS, "council_outcome")
    assert "Ada: say in a sentence what was decided, with !outcome <text> in this thread" in (
        told.message.body
    )
    assert told.mentions == (ADA,)
    for room in (CAMP, TENANTS):  # movement rooms are told the outcome, not asked for it
        assert "!outcome" not in world.notices_in(room, "council_outcome")[0].message.body

    refused = await world.say(COMMONS, EVE, "outcome We share it", thread=thread)
    assert "Only Ada, who made proposal 1, or a moderator of the commons" in refused
    assert "Missing <text>" in await world.say(COMMONS, ADA, "outcome", thread=thread)
    assert "is not a time to review it" in await world.say(
        COMMONS, ADA, "outcome --review soon We share it", thread=thread
    )
    written = await world.say(
        COMMONS, ADA, "outcome --review 1y One legal team from January", thread=thread
    )
    assert written.startswith("Noted: this is what proposal 1 decided.")
    assert "I ask every movement again whether it still agrees" in written
    shown = await world.say(COMMONS, EVE, "proposal 1")
    assert 'What was decided: "One legal team from January"' in shown
    assert '"One legal team from January"' in await world.say(CAMP, BEA, "agreements")
    digest = await world.say(COMMONS, EVE, "digest")
    assert '1: passed: We share one legal team (what was decided: "One legal team' in digest

    # Nothing is asked before the date; on it, once, whatever the timer does.
    world.clock += 364 * DAY_MS
    await keep_up(world.services)
    assert len(world.polls_in(CAMP)) == 1
    world.clock += 2 * DAY_MS
    for _ in range(3):
        await keep_up(world.services)
        world.services.signal(CHANGED)
    roots = [
        n.message.body
        for n in world.notices_in(COMMONS, "council_root")
        if "asks again about proposal 1" in n.message.body
    ]
    assert len(roots) == 1
    assert roots[0].startswith(
        "Proposal 2 to Earth Alliance asks again about proposal 1, as its review date has come."
    )
    assert 'What was decided then: "One legal team from January"' in roots[0]
    assert "Still agreed? (proposal 1) We share one legal team" in roots[0]
    for room in (CAMP, TENANTS):
        assert len(world.polls_in(room)) == 2  # asked again, once each


async def test_a_review_is_kept_across_a_restart_of_the_reconciler(world: World) -> None:
    await world.decide(CAMP, BEA, "agree")
    await world.decide(TENANTS, CAL, "agree")
    await world.say(COMMONS, ADA, "outcome --review 2w We share it", thread=await world.root(1))
    world.clock += 15 * DAY_MS
    # The timer dies right after opening the review, before marking it held: run it again.
    (due,) = await council_store.due_reviews(world.services.store, world.clock)
    await keep_up(world.services)
    async with world.services.store.transaction() as db:
        await db.execute("UPDATE council_outcomes SET reviewed_proposal_id = NULL")
    await keep_up(world.services)
    proposals = await world.services.store.fetch_all("SELECT number FROM council_proposals")
    assert [row[0] for row in proposals] == [1, 2]
    assert due.proposal_id == 1
    for room in (CAMP, TENANTS):
        assert len(world.polls_in(room)) == 2
