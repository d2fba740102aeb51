"""Alliance proposals through the bot's router and reconciler, on fakes of the Matrix side:
a large alliance's proposal reads in pages that fit one event, and running the reconciler again
(a restart) posts nothing twice."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.ids import RoomID, UserID
from bot.pages import REPLY_LIMIT, reply_size
from bot.store import Store
from commands.council import store as council_store
from commands.council.proposals import reconcile
from commands.council.rules import Reason
from tests.unit.fakes import FakeServices, Harness, make_config, room_state

ADA = "@ada:hs"
COMMONS = RoomID("!commons:hs")
TS = 1_764_000_000_000
MOVEMENTS = 60
POLL_START = "org.matrix.msc3381.poll.start"


def mover(n: int) -> str:
    return f"@mover{n}:hs"


def room_of(n: int) -> RoomID:
    return RoomID(f"!movement{n}:hs")


@pytest.fixture
async def world(tmp_path: Path, store: Store) -> Harness:
    rooms = [room_state(COMMONS, ADA, name="Commons")]
    rooms += [room_state(room_of(n), mover(n), name=f"Room {n}") for n in range(MOVEMENTS)]
    world = Harness(FakeServices(make_config(tmp_path), store, rooms), clock=TS)
    reply, _ = await world.answer(COMMONS, ADA, "alliance create Earth Alliance")
    assert reply.template == "alliance_created"
    for n in range(MOVEMENTS):
        reply, message = await world.answer(
            room_of(n), mover(n), f"movement join earth-alliance as Movement {n}"
        )
        assert reply.template == "movement_join_requested", message.body
        reply, message = await world.answer(COMMONS, ADA, f"movement approve Movement {n}")
        assert reply.template == "movement_decided", message.body
    return world


def polls_posted(world: Harness) -> list[RoomID]:
    return [s.room_id for s in world.services.sent if s.event_type == POLL_START]


async def test_every_movement_is_asked_once_even_when_the_reconciler_runs_again(
    world: Harness,
) -> None:
    reply, message = await world.answer(COMMONS, ADA, "proposal We pool our legal fund")
    assert reply.template == "council_opened", message.body
    for _ in range(3):  # as after restarts
        await reconcile(world.services)
    assert sorted(polls_posted(world)) == sorted(room_of(n) for n in range(MOVEMENTS))
    roots = [
        n for n in world.services.notices if n.room_id == COMMONS and "Proposal 1" in n.message.body
    ]
    assert len(roots) == 1


async def test_a_large_alliances_proposal_reads_in_pages_that_each_fit_one_event(
    world: Harness,
) -> None:
    await world.answer(COMMONS, ADA, "proposal We pool our legal fund")
    await reconcile(world.services)
    (round_,) = await council_store.open_rounds(world.services.store)
    long_reason = "Our members cannot carry this cost this year. " * 30
    for seat in await council_store.seats_of(world.services.store, round_.id):
        await council_store.set_position(
            world.services.store,
            seat,
            position="block",
            reasons=(Reason("block", long_reason),),
            voters=3,
            given_by="poll",
            by=UserID(ADA),
            at=TS,
        )
    reply, message = await world.answer(COMMONS, ADA, "proposal 1")
    assert reply.template == "council_proposal"
    assert reply_size(message) <= REPLY_LIMIT
    assert "Page 1 of" in message.body
    pages = int(message.body.split("Page 1 of ")[1].split(":")[0])
    shown = message.body.count(": Block")
    for page in range(2, pages + 1):
        reply, message = await world.answer(COMMONS, ADA, f"proposal 1 --page {page}")
        assert reply_size(message) <= REPLY_LIMIT
        shown += message.body.count(": Block")
    assert shown == MOVEMENTS  # every movement on one page or another
    reply, message = await world.answer(COMMONS, ADA, f"proposal 1 --page {pages + 1}")
    assert f"There are {pages} pages" in message.body


POLL_RESPONSE = "org.matrix.msc3381.poll.response"
WEEK_MS = 7 * 24 * 3600 * 1000


async def test_a_movement_elects_a_spoke_whose_term_ends_with_one_reminder(
    tmp_path: Path, store: Store
) -> None:
    camp, bea, eve = RoomID("!camp:hs"), "@bea:hs", "@eve:hs"
    rooms = [room_state(COMMONS, ADA, name="Commons"), room_state(camp, bea, members=[eve])]
    world = Harness(FakeServices(make_config(tmp_path), store, rooms), clock=TS)
    await world.answer(COMMONS, ADA, "alliance create Earth Alliance")
    await world.answer(camp, bea, "movement join earth-alliance as Climate Camp")
    await world.answer(COMMONS, ADA, "movement approve Climate Camp")

    reply, message = await world.answer(camp, eve, f"spokes elect {eve}")
    assert reply.template == "council_spoke_election", message.body
    (poll,) = [s.event_id for s in world.services.sent if s.event_type == POLL_START]
    for voter in (bea, eve):
        content = {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
            POLL_RESPONSE: {"answers": ["agree"]},
        }
        await world.listen(world.make_event(camp, voter, POLL_RESPONSE, content))
    # Eve opened it, but one person does not decide for the movement: only a moderator closes it.
    reply, _ = await world.answer(camp, eve, "poll close 1")
    assert reply.template == "poll_close_refused"
    reply, _ = await world.answer(camp, bea, "poll close 1")
    assert reply.template == "poll_results"
    await reconcile(world.services)
    await reconcile(world.services)  # again, as after a restart: nothing twice
    elected = [n for n in world.services.notices if "is elected" in n.message.body]
    assert len(elected) == 1
    reply, message = await world.answer(camp, bea, "spokes")
    assert eve in message.body
    assert "until" in message.body

    world.clock += 12 * WEEK_MS
    await reconcile(world.services)
    assert not [n for n in world.services.notices if "term as a spoke" in n.message.body]
    world.clock += 2 * WEEK_MS  # the default term of 13 weeks has ended
    await reconcile(world.services)
    await reconcile(world.services)
    reminders = [n for n in world.services.notices if "term as a spoke" in n.message.body]
    assert len(reminders) == 1
    assert f"spokes add {eve}" in reminders[0].message.body
    reply, message = await world.answer(camp, bea, "spokes")
    assert "term ended" in message.body


async def test_an_ended_term_is_ended_whatever_time_the_senders_server_stamps(
    tmp_path: Path, store: Store
) -> None:
    camp, bea, eve = RoomID("!camp:hs"), "@bea:hs", "@eve:hs"
    rooms = [
        room_state(COMMONS, ADA, members=[eve], name="Commons"),
        room_state(camp, bea, members=[eve]),
    ]
    world = Harness(FakeServices(make_config(tmp_path), store, rooms), clock=TS)
    await world.answer(COMMONS, ADA, "alliance create Earth Alliance")
    await world.answer(camp, bea, "movement join earth-alliance as Climate Camp")
    await world.answer(COMMONS, ADA, "movement approve Climate Camp")
    reply, _ = await world.answer(camp, bea, f"spokes add {eve}")
    assert reply.template == "council_spoke_added"
    reply, _ = await world.answer(camp, bea, "rules set position spokes")
    assert reply.template == "council_position_by_set"
    world.clock += 14 * WEEK_MS  # the term of 13 weeks has ended
    await world.answer(COMMONS, ADA, "proposal We share a van")
    await reconcile(world.services)

    forged = replace(
        world.make_event(COMMONS, eve, "m.room.message", {"msgtype": "m.text", "body": "x"}),
        ts=TS,  # her server says it is still the day she was named
    )
    reply, message = await world.route(forged, "position 1 agree")
    assert reply.template == "command_error"
    assert "You are not a spoke (with a running term)" in message.body
    (round_,) = await council_store.open_rounds(world.services.store)
    (seat,) = await council_store.seats_of(world.services.store, round_.id)
    assert seat.position is None


async def test_a_movement_whose_spokes_have_not_answered_is_reminded_once_a_day_before(
    tmp_path: Path, store: Store
) -> None:
    camp, bea, eve = RoomID("!camp:hs"), "@bea:hs", "@eve:hs"
    rooms = [room_state(COMMONS, ADA, name="Commons"), room_state(camp, bea, members=[eve])]
    world = Harness(FakeServices(make_config(tmp_path), store, rooms), clock=TS)
    await world.answer(COMMONS, ADA, "alliance create Earth Alliance")
    await world.answer(camp, bea, "movement join earth-alliance as Climate Camp")
    await world.answer(COMMONS, ADA, "movement approve Climate Camp")
    await world.answer(camp, bea, f"spokes add {eve}")
    await world.answer(camp, bea, "rules set position spokes")
    await world.answer(COMMONS, ADA, "proposal --closes 3d We share a van")
    await reconcile(world.services)

    def reminders() -> list[str]:
        return [n.message.body for n in world.services.notices if "has not given" in n.message.body]

    world.clock += 47 * 3600 * 1000
    await reconcile(world.services)
    assert reminders() == []
    world.clock += 2 * 3600 * 1000  # 23 hours before the close
    await reconcile(world.services)
    await reconcile(world.services)
    (reminder,) = reminders()
    assert "Climate Camp has not given its position yet" in reminder
    assert "!position 1 agree" in reminder
