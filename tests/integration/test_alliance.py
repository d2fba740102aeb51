"""Alliances as people in Element see them: a commons, movement rooms, a space, comparisons.

Several real users on a real Synapse. Endorsements and statement changes are decided by real
votes on native consensus polls in `test_endorsements_and_statement_changes_are_decided_by_votes`.
The comparison test needs many stances at once: it records them through the very storage calls
a closing poll makes (`record_stance`, `apply_statement_change`), in the running bot's SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from nio import RoomGetStateEventResponse

from bot.ids import EventID, RoomID
from bot.render import Renderer
from commands.alliance import objectives_store, statements_store
from commands.alliance.statements_store import StatementChange
from commands.alliance.store import (
    PollRef,
    all_alliances,
    decide_movement,
    movements_of,
    request_join,
)
from commands.polls.rules import ConsensusCounts, Rule, decide
from tests.integration.conftest import MakeUser, RunningBot, room_with_bot
from tests.integration.matrix_user import MatrixUser

pytestmark = pytest.mark.integration

CONSENSUS = Rule("consensus", None)
POLL_START = "org.matrix.msc3381.poll.start"
POLL_RESPONSE = "org.matrix.msc3381.poll.response"
EIGHT_OBJECTIVES = """Respect for nature
Radical egalitarianism in social relations
Institutional arrangements based in some sense of common interest
Democratic administrative procedures
Labour processes organised directly by the producers
Daily life as the free exploration of new kinds of social relations and living arrangements
Mental conceptions that focus on self-realisation in service to others
Technological and organisational innovation oriented towards the pursuit of the common good"""


def body(reply: dict[str, Any]) -> str:
    return str(reply["content"]["body"])


def html(reply: dict[str, Any]) -> str:
    return str(reply["content"]["formatted_body"])


async def notice_in(user: MatrixUser, bot: RunningBot, room: str, text: str) -> dict[str, Any]:
    """Wait (bounded) for a message from the bot in `room` that contains `text`."""
    found = await user.wait_for(
        lambda: [e for e in user.messages_from(bot.user_id, room) if text in e["content"]["body"]],
        what=f"a notice with {text!r}",
    )
    return dict(found[-1])


async def state_of(user: MatrixUser, room: str, kind: str, key: str) -> dict[str, Any] | None:
    response = await user.client.room_get_state_event(room, kind, key)
    if isinstance(response, RoomGetStateEventResponse):
        return dict(response.content)
    return None


async def space_child(user: MatrixUser, space: str, child: str) -> dict[str, Any] | None:
    return await state_of(user, space, "m.space.child", child)


async def give_power(user: MatrixUser, room: str, bot: RunningBot, level: int) -> None:
    """The room's moderator raises the bot's power level; waits until the bot knows it."""
    levels = await state_of(user, room, "m.room.power_levels", "")
    assert levels is not None
    levels["users"] = {**levels.get("users", {}), bot.user_id: level}
    await user.client.room_put_state(room, "m.room.power_levels", levels)
    await user.wait_for(
        lambda: bot.bot.services.room(RoomID(room)).level(bot.user_id) >= level,
        what="the bot to see its new power level",
    )


@dataclass
class Alliance:
    """A commons run by Ada and three movement rooms, each with its own moderator."""

    ada: MatrixUser
    movers: dict[str, MatrixUser]  # movement name -> the moderator (creator) of its room
    commons: str
    rooms: dict[str, str]  # movement name -> room id


MOVEMENTS = ("Climate Camp", "Tenants Union", "Farmers")


async def start_alliance(bot: RunningBot, make_user: MakeUser, *, join: bool = True) -> Alliance:
    ada = await make_user("ada")
    commons = await room_with_bot(ada, bot.user_id, name="Earth commons")
    reply = await ada.ask(commons, "!alliance create Earth Alliance", bot=bot.user_id)
    assert "The alliance Earth Alliance is started" in body(reply)
    movers: dict[str, MatrixUser] = {}
    rooms: dict[str, str] = {}
    for name in MOVEMENTS:
        mover = await make_user(name.split()[0].lower())
        movers[name] = mover
        rooms[name] = await room_with_bot(mover, bot.user_id, name=f"{name} room")
        if join:
            reply = await mover.ask(
                rooms[name], f"!movement join earth-alliance as {name}", bot=bot.user_id
            )
            assert "Asked to join Earth Alliance" in body(reply)
            reply = await ada.ask(commons, f"!movement approve {name}", bot=bot.user_id)
            assert f"{name} is now a member of Earth Alliance" in body(reply)
    return Alliance(ada, movers, commons, rooms)


async def test_an_alliance_gets_a_space_and_movements_join_with_consent_on_both_sides(
    bot: RunningBot, make_user: MakeUser
) -> None:
    world = await start_alliance(bot, make_user, join=False)
    ada, commons = world.ada, world.commons
    server = bot.config.server_name

    # Ada is invited to the new space; in it, the commons is a child with a `via`.
    await ada.wait_for(lambda: ada.client.invited_rooms, what="the invite to the space")
    space = next(iter(ada.client.invited_rooms))
    await ada.join(space)
    assert await space_child(ada, space, commons) == {"via": [server]}
    # After a crash between creating the space and storing its id, it is found by its mark.
    [earth] = await all_alliances(bot.bot.store)
    assert earth.space_id == space
    assert await bot.bot.services.find_space(earth.space_key) == space
    assert await bot.bot.services.find_space("no-such-key") is None
    shown = await ada.ask(commons, "!alliance", bot=bot.user_id)
    assert "This room is its commons" in body(shown)
    assert "none yet" in body(shown)
    assert "!" + commons[1:] not in body(shown)  # no room ids shown to people

    # A member who is not a moderator of the movement's room cannot ask for it.
    bea, camp = world.movers["Climate Camp"], world.rooms["Climate Camp"]
    erin = await make_user("erin")
    await bea.invite(camp, erin.user_id)
    await erin.join(camp)
    refused = await erin.ask(camp, "!movement join earth-alliance as Climate Camp", bot=bot.user_id)
    assert "only a moderator of this room" in body(refused)
    assert await bot.bot.store.fetch_all("SELECT 1 FROM movements") == []

    # Its moderator asks; the commons is told, and a commons moderator approves.
    asked = await bea.ask(camp, "!movement join Earth Alliance as Climate Camp", bot=bot.user_id)
    assert "!movement approve climate-camp" in body(asked)
    await notice_in(ada, bot, commons, "Climate Camp asks to join Earth Alliance")
    not_here = await bea.ask(camp, "!movement approve climate-camp", bot=bot.user_id)
    assert "Only in the commons room of Earth Alliance" in body(not_here)
    approved = await ada.ask(commons, "!movement approve climate-camp", bot=bot.user_id)
    assert "Climate Camp is now a member of Earth Alliance" in body(approved)
    assert "I added its room to the alliance's space" in body(approved)
    await notice_in(bea, bot, camp, "The commons of Earth Alliance accepted Climate Camp")
    assert await space_child(ada, space, camp) == {"via": [server]}

    # The bot may not change the camp's room: the room does not name the space (Element still
    # shows it in the space). Tenants' moderator lets it; there the room names its space too.
    assert await state_of(bea, camp, "m.space.parent", space) is None
    tenants_mover, tenants = world.movers["Tenants Union"], world.rooms["Tenants Union"]
    await give_power(tenants_mover, tenants, bot, 50)

    # Two more movements; one is turned down.
    for name in ("Tenants Union", "Farmers"):
        mover, room = world.movers[name], world.rooms[name]
        await mover.ask(room, f"!movement join earth-alliance as {name}", bot=bot.user_id)
    await ada.ask(commons, "!movement approve tenants", bot=bot.user_id)
    parent = await state_of(tenants_mover, tenants, "m.space.parent", space)
    assert parent == {"via": [server]}
    rejected = await ada.ask(commons, "!movement reject farmers", bot=bot.user_id)
    assert "Farmers was not accepted into Earth Alliance" in body(rejected)
    farmers = world.movers["Farmers"]
    await notice_in(farmers, bot, world.rooms["Farmers"], "did not accept Farmers")

    listed = body(await bea.ask(camp, "!movements", bot=bot.user_id))
    assert "Climate Camp (climate-camp): member (this room)" in listed
    assert "Tenants Union (tenants-union): member" in listed
    assert "Farmers" not in listed

    # A duplicate name is refused; leaving keeps the record.
    again = await farmers.ask(
        world.rooms["Farmers"], "!movement join earth-alliance as climate camp", bot=bot.user_id
    )
    assert "already called Climate Camp" in body(again)
    left = await bea.ask(camp, "!movement leave", bot=bot.user_id)
    assert "Climate Camp has left Earth Alliance" in body(left)
    await notice_in(ada, bot, commons, "Climate Camp has left Earth Alliance")
    assert "Climate Camp (climate-camp): left" in body(
        await ada.ask(commons, "!alliance", bot=bot.user_id)
    )
    assert await space_child(ada, space, camp) == {}
    await tenants_mover.ask(tenants, "!movement leave", bot=bot.user_id)
    assert await state_of(tenants_mover, tenants, "m.space.parent", space) == {}


async def record_endorsements(
    bot: RunningBot, plan: dict[tuple[str, int], ConsensusCounts]
) -> None:
    """What closing endorsement polls will record (consensus polls are not wired in yet)."""
    store = bot.bot.store
    [earth] = await all_alliances(store)
    movements = {m.name: m for m in await movements_of(store, earth.id)}
    objectives = {o.number: o for o in await objectives_store.objectives_of(store, earth.id)}
    for n, ((name, number), counts) in enumerate(plan.items(), start=1):
        movement = movements[name]
        await objectives_store.record_stance(
            store,
            movement_id=movement.id,
            objective_id=objectives[number].id,
            outcome=decide(CONSENSUS, counts),
            reason=Renderer().say(decide(CONSENSUS, counts).words),  # as an English room reads it
            poll=PollRef(movement.room_id, poll_id=1000 + n, event_id=EventID(f"$seed{n}")),
            decided_at=1_764_000_000_000,
            block_reasons=["Not before land reform"] if counts.block else [],
        )


async def test_objectives_statements_and_every_kind_of_comparison(
    bot: RunningBot, make_user: MakeUser
) -> None:
    world = await start_alliance(bot, make_user)
    ada, commons = world.ada, world.commons
    bea, camp = world.movers["Climate Camp"], world.rooms["Climate Camp"]
    cal, tenants = world.movers["Tenants Union"], world.rooms["Tenants Union"]

    # Objectives: one proposed, eight imported (one of them a duplicate), then listed.
    proposed = await ada.ask(commons, "!objective propose Respect for nature", bot=bot.user_id)
    assert "Objective #1 of Earth Alliance: Respect for nature" in body(proposed)
    imported = await ada.ask(commons, f"!objective import\n{EIGHT_OBJECTIVES}", bot=bot.user_id)
    assert "Added 7 objectives to Earth Alliance" in body(imported)
    assert "Respect for nature: already objective #1" in body(imported)
    assert "#8 Technological and organisational innovation" in body(imported)
    too_long = await ada.ask(commons, "!objective propose " + "z" * 501, bot=bot.user_id)
    assert "501 characters long; at most 500" in body(too_long)
    listed = await cal.ask(tenants, "!objectives", bot=bot.user_id)
    assert "#4 Democratic administrative procedures" in body(listed)
    assert "not common yet" in body(listed)

    # Statements: items ratified by polls (recorded as the polls will), linked by a moderator.
    store = bot.bot.store
    for n, text in enumerate(
        ("We live within the limits of the living world.", "Those who work decide the work."),
        start=1,
    ):
        await statements_store.apply_statement_change(
            store,
            room_id=RoomID(camp),
            change=StatementChange.add(text),
            outcome=decide(CONSENSUS, ConsensusCounts(agree=4)),
            poll=PollRef(RoomID(camp), poll_id=900 + n, event_id=EventID(f"$statement{n}")),
            decided_at=1_764_000_000_000,
        )
    linked = await bea.ask(camp, "!statement link 1 1", bot=bot.user_id)
    assert "item 1 of Climate Camp's statement is its own wording of objective #1" in body(linked)
    await bea.ask(camp, "!statement link 2 #5", bot=bot.user_id)
    shown = await cal.ask(tenants, "!statement climate-camp", bot=bot.user_id)
    assert "1. We live within the limits of the living world." in body(shown)
    assert "its words for objective #1)" in body(shown)
    assert "https://matrix.to/#/" in html(shown)

    # Stances: as closing endorsement polls will record them.
    await record_endorsements(
        bot,
        {
            ("Climate Camp", 1): ConsensusCounts(agree=5),
            ("Tenants Union", 1): ConsensusCounts(agree=3, reservations=1),
            ("Farmers", 1): ConsensusCounts(agree=4),
            ("Climate Camp", 5): ConsensusCounts(agree=6),
            ("Tenants Union", 5): ConsensusCounts(agree=5),
            ("Farmers", 5): ConsensusCounts(block=3),
            ("Tenants Union", 2): ConsensusCounts(agree=2),
        },
    )

    # !compare: the whole matrix, as a table and as text a phone can show.
    matrix = await ada.ask(commons, "!compare", bot=bot.user_id)
    text = body(matrix)
    assert "#1 Respect for nature (COMMON: 3 endorse, 2 needed)" in text
    assert "   ✓ Climate Camp   ✓ Farmers   ✓ Tenants Union" in text
    assert "   ✓ Climate Camp   ✗ Farmers   ✓ Tenants Union" in text  # objective 5
    assert "#2 Radical egalitarianism in social relations (1 endorses, 2 needed)" in text
    assert "<table>" in html(matrix)
    assert "<th>Objective</th>" in html(matrix)
    assert "Page " not in text  # three movements: one page, nothing about pages
    assert "--page" not in text

    # !compare A B: what both endorse, what only one does, with their own words.
    pair = body(await ada.ask(commons, "!compare climate-camp tenants", bot=bot.user_id))
    unquoted = body(await ada.ask(commons, "!compare Climate Camp Tenants Union", bot=bot.user_id))
    assert unquoted == pair  # names with spaces need no quotes
    assert "Both endorse:\n  #1 Respect for nature" in pair
    assert "Climate Camp: “We live within the limits of the living world.”" in pair
    assert "#5 Labour processes organised directly by the producers" in pair
    assert "Climate Camp: “Those who work decide the work.”" in pair
    assert "Only Tenants Union endorses:\n  #2 Radical egalitarianism" in pair
    assert "Only Climate Camp endorses:\n  none" in pair

    # !compare N: every movement on one objective, blocks' reasons and own wording.
    one = body(await cal.ask(tenants, "!compare 5", bot=bot.user_id))
    assert "Objective #5 of Earth Alliance" in one
    assert (
        "✗ Farmers does not endorse (0 agree, 0 with reservations, 0 stand aside, 3 block)" in one
    )
    assert "block: Not before land reform" in one
    assert "in its own words (item 2): “Those who work decide the work.”" in one

    # !bridging: the objective every movement leans towards comes first; 5 divides them.
    ranking = body(await ada.ask(commons, "!bridging", bot=bot.user_id))
    lines = ranking.splitlines()
    assert lines[1] == "  1. #1 Respect for nature: all 3 movements lean towards it"
    assert "Dividing the alliance:\n  - #5 Labour processes" in ranking
    assert "towards Climate Camp and Tenants Union; away Farmers" in ranking
    explained = body(await ada.ask(commons, "!help bridging", bot=bot.user_id))
    assert "(Agree + Agree with reservations + 1) divided by (all votes + 2)" in explained

    unknown = body(await bea.ask(camp, "!compare bakers farmers", bot=bot.user_id))
    assert "“bakers” is not an active movement of Earth Alliance" in unknown


async def test_a_big_alliance_is_compared_page_by_page_and_every_answer_arrives(
    bot: RunningBot, make_user: MakeUser
) -> None:
    """100 movements and 50 objectives: a homeserver refuses events over 64 KiB, so an answer
    that did not fit would never arrive."""
    ada = await make_user("ada")
    commons = await room_with_bot(ada, bot.user_id, name="Big commons")
    await ada.ask(commons, "!alliance create Big Alliance", bot=bot.user_id)
    objectives = "\n".join(
        f"{line}, part {n}" for n in (1, 2) for line in EIGHT_OBJECTIVES.splitlines()
    )
    objectives += "\n" + "\n".join(f"Objective of the assembly number {n}" for n in range(17, 51))
    imported = body(await ada.ask(commons, f"!objective import\n{objectives}", bot=bot.user_id))
    assert "Added 50 objectives to Big Alliance" in imported
    # The movements' rooms need not exist to be compared: made through the store.
    store = bot.bot.store
    [big] = await all_alliances(store)
    server = bot.config.server_name
    movements = []
    for n in range(1, 101):
        asked = await request_join(
            store,
            alliance_id=big.id,
            room_id=RoomID(f"!movement{n}:{server}"),
            name=f"Assembly {n}",
            requested_by=ada.user_id,
            requested_at=1,
            event_id=f"$big-join{n}",
        )
        movements.append(
            await decide_movement(
                store,
                asked.id,
                status="active",
                decided_by=ada.user_id,
                decided_at=2,
                event_id=f"$big-ok{n}",
            )
        )
    stances = [
        (m.id, o.id, f"poll:big-{m.id}-{o.id}", 4 + (m.id + o.id) % 5, (m.id * o.id) % 3)
        for m in movements
        for o in await objectives_store.objectives_of(store, big.id)
        if (m.id + 2 * o.id) % 10 < 7
    ]
    async with store.transaction() as conn:
        await conn.executemany(
            "INSERT INTO stances (movement_id, objective_id, state, poll_key, poll_room_id,"
            " opened_at, agree, reservations, stand_aside, block, block_reasons)"
            " VALUES (?, ?, 'endorsed', ?, '!r:hs', 1, ?, ?, 0, 0, '[]')",
            stances,
        )

    first = await ada.ask(commons, "!compare", bot=bot.user_id)
    text = body(first)
    assert "Page 1 of " in text
    assert "Next: !compare --page 2" in text
    assert "Assembly 1   " in text
    assert "<table>" in html(first)
    pages = int(text.split("Page 1 of ", 1)[1].split(":", 1)[0])
    last = body(await ada.ask(commons, f"!compare --page {pages}", bot=bot.user_id))
    assert f"Page {pages} of {pages}" in last
    assert "That was the last page. The first: !compare --page 1" in last
    for command, expected in (
        ("!objectives", "#50 Objective of the assembly number 50"),
        ("!bridging", "How the order is worked out"),
        ("!compare 7", "Assembly 100"),
        ("!compare assembly-1 assembly-2", "Both endorse"),
    ):
        assert expected in body(await ada.ask(commons, command, bot=bot.user_id)), command


async def nth_poll(user: MatrixUser, bot: RunningBot, room: str, n: int) -> str:
    """The event id of the bot's n-th native poll in `room`, once it has arrived."""
    starts = await user.wait_for(
        lambda: [
            e
            for e in user.events
            if e.get("type") == POLL_START
            and e.get("sender") == bot.user_id
            and e.get("room_id") == room
        ][n - 1 :],
        what=f"native poll #{n}",
    )
    return str(starts[0]["event_id"])


async def vote(user: MatrixUser, room: str, poll: str, answer: str) -> None:
    """Click a poll button the way Element does."""
    await user.send(
        room,
        {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
            POLL_RESPONSE: {"answers": [answer]},
        },
        kind=POLL_RESPONSE,
    )


async def vote_and_close(
    closer: MatrixUser, bot: RunningBot, room: str, n: int, votes: dict[MatrixUser, str]
) -> None:
    """Everyone votes on poll #n of the room; then `closer` closes it."""
    poll = await nth_poll(closer, bot, room, n)
    for voter, answer in votes.items():
        await vote(voter, room, poll, answer)
    await closer.wait_for(
        lambda: (
            sum(
                e.get("type") == POLL_RESPONSE and e["content"]["m.relates_to"]["event_id"] == poll
                for e in closer.events
            )
            == len(votes)
        ),
        what="every vote to arrive",
    )
    closed = body(await closer.ask(room, f"!poll close {n}", bot=bot.user_id))
    assert f"poll #{n}" in closed.lower(), closed


async def test_endorsements_and_statement_changes_are_decided_by_votes(
    bot: RunningBot, make_user: MakeUser
) -> None:
    world = await start_alliance(bot, make_user)
    ada, commons = world.ada, world.commons
    bea, camp = world.movers["Climate Camp"], world.rooms["Climate Camp"]
    erin = await make_user("erin")
    await bea.invite(camp, erin.user_id)
    await erin.join(camp)
    await ada.ask(
        commons,
        "!objective import\nRespect for nature\nDemocratic administrative procedures",
        bot=bot.user_id,
    )

    # An endorsement decided by votes: anyone in the movement's room may open the poll;
    # only a moderator (Bea) closes it before its deadline.
    opened = body(await erin.ask(camp, "!endorse 1", bot=bot.user_id))
    assert "Consensus poll #1 is open: does Climate Camp endorse objective #1" in opened
    voting = body(await ada.ask(commons, "!compare", bot=bot.user_id))
    assert "… Climate Camp" in voting
    await vote_and_close(bea, bot, camp, 1, {bea: "agree", erin: "reservations"})
    await notice_in(
        bea, bot, camp, "Recorded: Climate Camp endorses objective #1 of Earth Alliance"
    )

    # A blocked endorsement, with the block's reason.
    await bea.ask(camp, "!endorse 2", bot=bot.user_id)
    poll = await nth_poll(bea, bot, camp, 2)
    await vote(erin, camp, poll, "block")
    noted = body(
        await erin.ask(camp, "!reason Not before land reform", bot=bot.user_id, thread_root=poll)
    )
    assert "noted" in noted
    await vote_and_close(bea, bot, camp, 2, {bea: "agree", erin: "block"})
    refused = await notice_in(bea, bot, camp, "Climate Camp does not endorse objective #2")
    assert "block: Not before land reform" in body(refused)

    # The statement: propose twice, amend, drop; each passed poll makes a new version.
    proposed = body(
        await erin.ask(camp, "!statement propose We defend the commons.", bot=bot.user_id)
    )
    assert (
        "Consensus poll #3 is open on adding this to the statement: “We defend the commons.”\n"
        in proposed
    )
    await vote_and_close(bea, bot, camp, 3, {bea: "agree", erin: "agree"})
    await notice_in(bea, bot, camp, "now version 1: item 1 added")
    await erin.ask(camp, "!statement propose We never rest.", bot=bot.user_id)
    await vote_and_close(bea, bot, camp, 4, {bea: "agree"})
    await notice_in(bea, bot, camp, "now version 2: item 2 added")
    await bea.ask(camp, "!statement amend 1 We defend the commons, together.", bot=bot.user_id)
    await vote_and_close(bea, bot, camp, 5, {bea: "agree", erin: "agree"})
    await notice_in(bea, bot, camp, "now version 3: item 1 amended")
    await bea.ask(camp, "!statement drop 2", bot=bot.user_id)
    await vote_and_close(bea, bot, camp, 6, {bea: "agree", erin: "block"})
    await notice_in(bea, bot, camp, "The statement stays as it was. Not passed: 1 block.")
    await bea.ask(camp, "!statement drop 2", bot=bot.user_id)
    await vote_and_close(bea, bot, camp, 7, {bea: "agree", erin: "stand_aside"})
    await notice_in(bea, bot, camp, "now version 4: item 2 dropped")

    shown = body(await erin.ask(camp, "!statement", bot=bot.user_id))
    assert "Core statement of Climate Camp, version 4" in shown
    assert "1. We defend the commons, together." in shown
    assert "We never rest" not in shown
    history = body(await erin.ask(camp, "!statement history", bot=bot.user_id))
    for line in (
        "dropped item 2: We never rest.",
        "amended item 1 to: We defend the commons, together. (was: We defend the commons.)",
        "added item 2: We never rest.",
        "added item 1: We defend the commons.",
    ):
        assert line in history

    # Linked to an objective (by a moderator only), the wording shows in comparisons.
    denied = body(await erin.ask(camp, "!statement link 1 1", bot=bot.user_id))
    assert "only a moderator of this room" in denied
    await bea.ask(camp, "!statement link 1 1", bot=bot.user_id)
    one = body(await ada.ask(commons, "!compare 1", bot=bot.user_id))
    assert "✓ Climate Camp endorses (1 agree, 1 with reservations, 0 stand aside, 0 block)" in one
    assert "in its own words (item 1): “We defend the commons, together.”" in one
    two = body(await ada.ask(commons, "!compare 2", bot=bot.user_id))
    assert (
        "✗ Climate Camp does not endorse (1 agree, 0 with reservations, 0 stand aside, 1 block)"
        in two
    )
    assert "block: Not before land reform" in two
