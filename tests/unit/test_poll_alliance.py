"""Alliance-wide polls end to end, with a real SQLite store and the network replaced by a fake.

A commons and three movement rooms; commands go through the real router, votes and end
events through the listeners, deadlines through the timer, as the bot calls them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.events import Event
from bot.ids import EventID, RoomID, UserID
from bot.store import InboxItem, Store
from commands.alliance.store import create_alliance, decide_movement, request_join
from commands.polls import close_due_polls
from commands.polls import store as db
from tests.unit.fakes import FakeServices, Harness, Noticed, Sent, make_config, room_state

COMMONS = RoomID("!commons")
CAMP = RoomID("!camp")
TENANTS = RoomID("!tenants")
FARM = RoomID("!farm")
LONE = RoomID("!lone")
ADA = UserID("@ada:hs")  # created the commons (v12: unlimited power)
MOD = UserID("@mod:hs")  # a moderator of the commons
ZED = UserID("@zed:hs")  # an ordinary member of the commons
BEA = UserID("@bea:hs")  # created the camp's room
CAL = UserID("@cal:hs")  # created the tenants' room
DEE = UserID("@dee:hs")  # created the farmers' room
BOB = UserID("@bob:hs")  # in the camp and the tenants
START = "org.matrix.msc3381.poll.start"
RESPONSE = "org.matrix.msc3381.poll.response"
END = "org.matrix.msc3381.poll.end"
POLL = 'poll --alliance "Where do we meet?" "Park" "Library" "Online"'


class Alliance(Harness):
    """Earth Alliance: the commons, and Climate Camp, Tenants Union and Farmers as movements."""

    async def found(self) -> None:
        store = self.services.store
        alliance = await create_alliance(
            store,
            name="Earth Alliance",
            commons_room_id=COMMONS,
            created_by=ADA,
            created_at=1,
            command_event_id="$found",
        )
        for room, name, mover in (
            (CAMP, "Climate Camp", BEA),
            (TENANTS, "Tenants Union", CAL),
            (FARM, "Farmers", DEE),
        ):
            movement = await request_join(
                store,
                alliance_id=alliance.id,
                room_id=room,
                name=name,
                requested_by=mover,
                requested_at=2,
                event_id=f"$join{room}",
            )
            await decide_movement(
                store,
                movement.id,
                status="active",
                decided_by=ADA,
                decided_at=3,
                event_id=f"$ok{room}",
            )

    def event(self, room: RoomID, sender: str, kind: str, content: dict[str, Any]) -> Event:
        return self.make_event(room, sender, kind, content)

    async def vote(self, room: RoomID, sender: str, *answers: str) -> Event:
        event = self.event(
            room,
            sender,
            RESPONSE,
            {
                "m.relates_to": {"rel_type": "m.reference", "event_id": self.start_in(room)},
                RESPONSE: {"answers": list(answers)},
            },
        )
        assert await self.listen(event) == []
        return event

    def sent(self, kind: str, room: RoomID | None = None) -> list[Sent]:
        return [
            s
            for s in self.services.sent
            if s.event_type == kind and (room is None or s.room_id == room)
        ]

    def start_in(self, room: RoomID) -> EventID:
        return self.sent(START, room)[-1].event_id

    def notices_in(self, room: RoomID, template: str) -> list[Noticed]:
        return [
            n for n in self.services.notices if n.room_id == room and n.reply.template == template
        ]


@pytest.fixture
async def earth(tmp_path: Path, store: Store) -> Alliance:
    rooms = [
        room_state(COMMONS, ADA, members=(MOD, ZED), powers={MOD: 50}, named=True),
        room_state(CAMP, BEA, members=(BOB,), named=True),
        room_state(TENANTS, CAL, members=(BOB,), named=True),
        room_state(FARM, DEE, named=True),
        room_state(LONE, ADA, named=True),
    ]
    services = FakeServices(make_config(tmp_path), store, rooms)
    world = Alliance(services)
    await world.found()
    return world


def movement_line(body: str, name: str) -> str:
    (line,) = [line for line in body.splitlines() if line.startswith(f"- {name}")]
    return line


def section(body: str, title: str) -> dict[str, str]:
    """Option text -> the number after its bar, from the section starting with `title`."""
    found: dict[str, str] = {}
    lines = body.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    for line in lines[start + 1 :]:
        head, sep, tail = line.partition("  ")
        if not (sep and head[:1].isdigit() and ". " in head):
            break
        found[head.split(". ", 1)[1]] = tail.split(" ", 1)[1].split(" (")[0]
    return found


# -- opening --------------------------------------------------------------------------------------


async def test_the_poll_is_posted_in_the_commons_and_every_movement_room(earth: Alliance) -> None:
    reply, message = await earth.answer(COMMONS, ADA, POLL)

    assert reply.template == "poll_alliance_created"
    assert "Alliance poll #1 is open" in message.body
    assert "in 3 movement rooms of Earth Alliance: Climate Camp, Farmers, Tenants Union" in (
        message.body
    )
    starts = earth.sent(START)
    assert [s.room_id for s in starts] == [COMMONS, CAMP, FARM, TENANTS]  # movements by name
    assert len({s.event_id for s in starts}) == 4
    assert all(s.content == starts[0].content for s in starts)
    assert all(s.room_id in s.txn_key and s.txn_key.startswith("$ev") for s in starts)
    intro = earth.notices_in(CAMP, "poll_alliance_intro")[0]
    assert intro.answering is not None
    assert intro.answering.event_id == earth.start_in(CAMP)
    assert "An alliance-wide poll of Earth Alliance, asked by Ada" in intro.message.body
    assert "Your vote counts for Climate Camp" in intro.message.body
    assert earth.notices_in(COMMONS, "poll_alliance_intro") == []


async def test_the_same_command_handled_again_posts_nothing_twice(earth: Alliance) -> None:
    event = earth.event(COMMONS, ADA, "m.room.message", {"msgtype": "m.text", "body": "!" + POLL})

    first, _ = await earth.route(event, POLL)
    again, _ = await earth.route(event, POLL)

    assert first == again
    assert len(earth.sent(START)) == 4
    assert await earth.services.store.fetch_all("SELECT id FROM alliance_polls") == [(1,)]
    assert len(await earth.services.store.fetch_all("SELECT * FROM polls")) == 4


async def test_a_movement_room_that_refuses_is_named_and_left_out(earth: Alliance) -> None:
    earth.services.refuse.add(FARM)
    _, message = await earth.answer(COMMONS, ADA, POLL)

    assert "in 2 movement rooms of Earth Alliance: Climate Camp, Tenants Union" in message.body
    assert "I could not post it in the room of Farmers" in message.body
    rows = await earth.services.store.fetch_all("SELECT room_id FROM alliance_poll_rooms")
    assert {row[0] for row in rows} == {COMMONS, CAMP, TENANTS}


async def test_only_commons_moderators_start_one_and_only_in_a_commons(earth: Alliance) -> None:
    reply, message = await earth.answer(COMMONS, ZED, POLL)
    assert reply.template == "command_error"
    assert "Only a moderator of this commons room" in message.body

    _, message = await earth.answer(CAMP, BEA, POLL)
    assert "Alliance-wide polls start in the commons room of Earth Alliance" in message.body

    _, message = await earth.answer(LONE, ADA, POLL)
    assert "This room is not an alliance's commons room" in message.body
    assert earth.sent(START) == []

    reply, _ = await earth.answer(COMMONS, MOD, POLL)
    assert reply.template == "poll_alliance_created"


async def test_the_flag_may_come_on_the_question_line(earth: Alliance) -> None:
    reply, _ = await earth.answer(COMMONS, ADA, "poll Where? --alliance\nPark\nLibrary")

    assert reply.template == "poll_alliance_created"
    assert len(earth.sent(START)) == 4


# -- counting -------------------------------------------------------------------------------------


async def vote_everywhere(earth: Alliance) -> None:
    """Camp: Park 2 (Bea, Bob). Tenants: Bob changes to Library later, Cal Park: a tie.
    Farmers: nobody. Commons: Ada Online, Zed Online."""
    await earth.answer(COMMONS, ADA, POLL)
    await earth.vote(CAMP, BEA, "a1")
    await earth.vote(CAMP, BOB, "a1")
    await earth.vote(TENANTS, CAL, "a1")
    await earth.vote(TENANTS, BOB, "a2")
    await earth.vote(COMMONS, ADA, "a3")
    await earth.vote(COMMONS, ZED, "a3")


async def test_results_show_everyone_once_each_movement_and_one_voice(earth: Alliance) -> None:
    await vote_everywhere(earth)

    reply, message = await earth.answer(COMMONS, MOD, "poll results")

    assert reply.template == "poll_alliance_results"
    body = message.body
    # Bob voted in two movements: once overall, with his latest vote (Library).
    assert section(body, "Everyone") == {"Park": "2", "Library": "1", "Online": "2"}
    assert "5 voters." in body
    # Camp: Park; Tenants: a tie, half a voice each; Farmers: nobody voted; the commons: none.
    assert section(body, "One movement, one voice") == {
        "Park": "1 1/2",
        "Library": "1/2",
        "Online": "0",
    }
    assert "2 of 3 movements voted. Leading: Park." in body
    assert movement_line(body, "Climate Camp") == (
        "- Climate Camp: Park 2, Library 0, Online 0. 2 voters; leading: Park."
    )
    assert movement_line(body, "Tenants Union") == (
        "- Tenants Union: Park 1, Library 1, Online 0. 2 voters; leading: Park and Library (a tie)."
    )
    assert movement_line(body, "Farmers") == "- Farmers: Park 0, Library 0, Online 0. 0 voters."
    assert movement_line(body, "The commons") == (
        "- The commons (not a movement: counted by person only) (this room): "
        "Park 0, Library 0, Online 2. 2 voters; leading: Online."
    )
    assert "<th>Movement</th><th>Park</th><th>Library</th><th>Online</th>" in message.html


async def test_a_movement_room_sees_the_same_results_under_its_own_number(
    earth: Alliance,
) -> None:
    await earth.answer(CAMP, BEA, 'poll "Lunch?" "Soup" "Salad"')  # the camp's poll #1
    await vote_everywhere(earth)

    _, message = await earth.answer(CAMP, BOB, "poll results")

    assert message.body.startswith("Alliance poll #2 of Earth Alliance: Where do we meet?")
    assert "Asked in the commons (poll #1 there)" in message.body
    assert "- Climate Camp (this room):" in message.body
    _, listed = await earth.answer(CAMP, BOB, "poll list")
    assert "#2 (alliance-wide) Where do we meet?" in listed.body


async def test_a_text_vote_in_a_movement_room_counts(earth: Alliance) -> None:
    await earth.answer(COMMONS, ADA, POLL)
    event = earth.event(
        FARM,
        DEE,
        "m.room.message",
        {
            "msgtype": "m.text",
            "body": "!vote 3",
            "m.relates_to": {"m.in_reply_to": {"event_id": earth.start_in(FARM)}},
        },
    )
    reply, _ = await earth.route(event, "vote 3")
    assert reply.template == "poll_vote_counted"

    _, message = await earth.answer(COMMONS, ADA, "poll results 1")

    assert movement_line(message.body, "Farmers").endswith("1 voter; leading: Online.")


# -- closing --------------------------------------------------------------------------------------


async def test_closing_in_the_commons_closes_every_room(earth: Alliance) -> None:
    await vote_everywhere(earth)

    reply, message = await earth.answer(COMMONS, ADA, "poll close")

    assert reply.template == "poll_alliance_results"
    assert message.body.startswith("Results of alliance poll #1 of ")
    assert "Closed by Ada" in message.body
    ends = earth.sent(END)
    assert sorted(e.room_id for e in ends) == sorted([COMMONS, CAMP, TENANTS, FARM])
    for end in ends:
        assert end.content["m.relates_to"]["event_id"] == earth.start_in(end.room_id)
    assert next(e for e in ends if e.room_id == CAMP).content["body"] == (
        "The poll has ended. Top answer: Park"
    )
    notice = earth.notices_in(TENANTS, "poll_alliance_closed_notice")[0]
    assert notice.answering is not None
    assert notice.answering.event_id == earth.start_in(TENANTS)
    lines = notice.message.body.splitlines()
    assert lines[2:5] == [
        "Everyone in Earth Alliance (5 voters, each person once): Park and Online, a tie.",
        "One movement, one voice (2 of 3 movements voted): Park.",
        "Tenants Union (2 voters here): Park and Library, a tie.",
    ]
    (farmers,) = earth.notices_in(FARM, "poll_alliance_closed_notice")
    assert "Farmers (0 voters here): no votes." in farmers.message.body
    assert earth.notices_in(COMMONS, "poll_alliance_closed_notice") == []
    for room in (COMMONS, CAMP, TENANTS, FARM):
        assert await db.latest_poll(earth.services.store, room, open_only=True) is None

    # Votes after the close count nowhere; the timer has nothing left to announce.
    await earth.vote(FARM, DEE, "a2")
    before = len(earth.services.notices)
    await close_due_polls(earth.services)
    assert len(earth.services.notices) == before
    _, after = await earth.answer(CAMP, BOB, "poll results")
    assert movement_line(after.body, "Farmers").endswith("0 voters.")


async def test_closing_again_after_a_crash_answers_the_same_and_sends_nothing_new(
    earth: Alliance,
) -> None:
    await vote_everywhere(earth)
    event = earth.event(
        COMMONS, ADA, "m.room.message", {"msgtype": "m.text", "body": "!poll close"}
    )

    first, _ = await earth.route(event, "poll close")
    again, _ = await earth.route(event, "poll close")

    assert first.data == again.data
    assert len(earth.sent(END)) == 4
    closed_notices = [n for n in earth.services.notices if n.reply.template.endswith("notice")]
    assert len({n.txn_key for n in closed_notices}) == 3  # the same keys: never doubled


async def test_closing_waits_for_votes_cast_in_time_in_another_room(earth: Alliance) -> None:
    await earth.answer(COMMONS, ADA, POLL)
    cast = earth.event(
        CAMP,
        BEA,
        RESPONSE,
        {
            "m.relates_to": {"rel_type": "m.reference", "event_id": earth.start_in(CAMP)},
            RESPONSE: {"answers": ["a2"]},
        },
    )
    store = earth.services.store
    await store.commit_sync("s1", [InboxItem(cast.event_id, CAMP, earth.clock, cast.to_json())])

    async def camp_worker_reads_it_a_little_later() -> None:
        await asyncio.sleep(0.3)
        await earth.listen(cast)
        await store.finish(cast.event_id)

    worker = asyncio.create_task(camp_worker_reads_it_a_little_later())
    _, message = await earth.answer(COMMONS, ADA, "poll close")
    await worker

    assert movement_line(message.body, "Climate Camp").endswith("1 voter; leading: Library.")


async def test_who_may_close_and_where(earth: Alliance) -> None:
    await earth.answer(COMMONS, MOD, POLL)  # the moderator starts it

    reply, message = await earth.answer(CAMP, BEA, "poll close")
    assert reply.template == "poll_alliance_close_elsewhere"
    assert "closes everywhere at once, from the commons room" in message.body
    assert "!poll close 1" in message.body

    reply, message = await earth.answer(COMMONS, ZED, "poll close")
    assert reply.template == "poll_close_refused"
    assert "only Mod, who started poll #1, or a moderator" in message.body
    assert earth.sent(END) == []

    reply, _ = await earth.answer(COMMONS, ADA, "poll close 1")  # another moderator may
    assert reply.template == "poll_alliance_results"
    reply, _ = await earth.answer(COMMONS, MOD, "poll close 1")
    assert reply.template == "poll_closed"


async def test_the_deadline_closes_the_whole_alliance_poll(earth: Alliance) -> None:
    await earth.answer(COMMONS, ADA, POLL.replace("--alliance", "--alliance --closes 2h"))
    await earth.vote(CAMP, BEA, "a2")
    store = earth.services.store
    deadline = earth.clock + 500
    async with store.transaction() as sql:
        await sql.execute("UPDATE alliance_polls SET closes_at = ?", (deadline,))
        await sql.execute("UPDATE polls SET closes_at = ?", (deadline,))
    await earth.vote(CAMP, BOB, "a1")  # after the deadline: not counted

    await close_due_polls(earth.services)

    assert len(earth.sent(END)) == 4
    results = earth.notices_in(COMMONS, "poll_alliance_results")
    assert len(results) == 1
    assert "Closed at its deadline" in results[0].message.body
    assert section(results[0].message.body, "Everyone") == {
        "Park": "0",
        "Library": "1",
        "Online": "0",
    }
    assert len([n for n in earth.services.notices if n.reply.template.endswith("notice")]) == 3
    await close_due_polls(earth.services)  # nothing twice
    assert len(earth.notices_in(COMMONS, "poll_alliance_results")) == 1


async def test_hidden_results_stay_hidden_in_every_room_until_the_close(earth: Alliance) -> None:
    await earth.answer(COMMONS, ADA, POLL.replace("--alliance", "--alliance --hidden"))
    await earth.vote(CAMP, BEA, "a2")
    starts = earth.sent(START)
    assert all(s.content[START]["kind"] == "org.matrix.msc3381.poll.undisclosed" for s in starts)

    for room, who in ((COMMONS, ADA), (CAMP, BEA), (TENANTS, CAL)):
        reply, _ = await earth.answer(room, who, "poll results")
        assert reply.template == "poll_hidden"

    await earth.answer(COMMONS, ADA, "poll close")
    reply, message = await earth.answer(CAMP, BEA, "poll results")
    assert reply.template == "poll_alliance_results"
    assert movement_line(message.body, "Climate Camp").endswith("1 voter; leading: Library.")


async def test_an_end_event_in_the_commons_closes_it_everywhere(earth: Alliance) -> None:
    await vote_everywhere(earth)
    end = earth.event(
        COMMONS,
        MOD,
        END,
        {"m.relates_to": {"rel_type": "m.reference", "event_id": earth.start_in(COMMONS)}},
    )

    assert await earth.listen(end) == []

    assert sorted(e.room_id for e in earth.sent(END)) == sorted([CAMP, TENANTS, FARM])
    (results,) = earth.notices_in(COMMONS, "poll_alliance_results")
    assert "Closed by Mod" in results.message.body
    assert len(earth.notices_in(CAMP, "poll_alliance_closed_notice")) == 1


async def test_an_end_event_in_a_movement_room_ends_voting_there_only(earth: Alliance) -> None:
    await earth.answer(COMMONS, ADA, POLL)
    await earth.vote(CAMP, BOB, "a1")
    end = earth.event(
        CAMP,
        BEA,
        END,
        {"m.relates_to": {"rel_type": "m.reference", "event_id": earth.start_in(CAMP)}},
    )

    [reply] = await earth.listen(end)

    assert reply is not None
    assert reply.template == "poll_alliance_room_ended"
    await earth.vote(CAMP, BOB, "a2")  # late in the camp
    await earth.vote(TENANTS, CAL, "a2")  # the others vote on
    _, message = await earth.answer(COMMONS, ADA, "poll results")
    assert movement_line(message.body, "Climate Camp").endswith(
        "1 voter; leading: Park. Voting there has ended."
    )
    assert section(message.body, "Everyone") == {"Park": "1", "Library": "1", "Online": "0"}

    await earth.answer(COMMONS, ADA, "poll close")
    assert sorted(e.room_id for e in earth.sent(END)) == sorted([COMMONS, TENANTS, FARM])
    assert len(earth.notices_in(CAMP, "poll_alliance_closed_notice")) == 1


async def test_removing_the_commons_poll_withdraws_it_everywhere(earth: Alliance) -> None:
    await vote_everywhere(earth)
    start = earth.start_in(COMMONS)
    redaction = Event(
        event_id=EventID("$redaction"),
        room_id=COMMONS,
        sender=MOD,
        type="m.room.redaction",
        ts=earth.clock + 1,
        content={"redacts": start},
        redacts=start,
    )

    await earth.listen(redaction)

    assert sorted(e.room_id for e in earth.sent(END)) == sorted([CAMP, TENANTS, FARM])
    await close_due_polls(earth.services)
    assert earth.notices_in(COMMONS, "poll_alliance_results") == []
    _, message = await earth.answer(CAMP, BEA, "poll results")
    assert "Withdrawn: its poll in the commons was removed" in message.body
    assert "The commons" not in message.body
