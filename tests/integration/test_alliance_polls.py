"""Alliance-wide straw polls as people in Element use them, on a real Synapse.

A commons and three movement rooms, each with its own people (Bob is in two movements).
Votes are real poll response events, sent in different rooms exactly as Element sends them.
Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.conftest import MakeUser, RunningBot, join_room, room_with_bot
from tests.integration.matrix_user import MatrixUser

pytestmark = pytest.mark.integration

START = "org.matrix.msc3381.poll.start"
RESPONSE = "org.matrix.msc3381.poll.response"
END = "org.matrix.msc3381.poll.end"
MOVEMENTS = ("Climate Camp", "Tenants Union", "Farmers")
POLL = '!poll --alliance "Where do we meet?" "Park" "Library" "Online"'


def body(event: dict[str, Any]) -> str:
    return str(event["content"]["body"])


@dataclass
class Earth:
    """Ada runs the commons; each movement room has its moderator (its creator) and members."""

    ada: MatrixUser
    commons: str
    movers: dict[str, MatrixUser]
    rooms: dict[str, str]
    people: dict[str, MatrixUser]


async def earth_alliance(bot: RunningBot, make_user: MakeUser) -> Earth:
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
        asked = await mover.ask(
            rooms[name], f"!movement join earth-alliance as {name}", bot=bot.user_id
        )
        assert "Asked to join Earth Alliance" in body(asked)
        approved = await ada.ask(commons, f"!movement approve {name}", bot=bot.user_id)
        assert f"{name} is now a member of Earth Alliance" in body(approved)
    people = {name: await make_user(name) for name in ("bob", "eve", "fay", "gus")}
    await join_room(movers["Climate Camp"], rooms["Climate Camp"], people["bob"], people["eve"])
    await join_room(movers["Tenants Union"], rooms["Tenants Union"], people["bob"])
    await join_room(movers["Farmers"], rooms["Farmers"], people["fay"])
    await join_room(ada, commons, people["gus"])
    return Earth(ada, commons, movers, rooms, people)


def bot_polls(user: MatrixUser, bot: RunningBot, room: str) -> list[dict[str, Any]]:
    return [
        e
        for e in user.events
        if e.get("type") == START and e.get("sender") == bot.user_id and e.get("room_id") == room
    ]


def bot_ends(user: MatrixUser, bot: RunningBot, room: str, poll: str) -> list[dict[str, Any]]:
    return [
        e
        for e in user.events
        if e.get("type") == END
        and e.get("sender") == bot.user_id
        and e.get("room_id") == room
        and e["content"].get("m.relates_to", {}).get("event_id") == poll
    ]


async def vote(user: MatrixUser, room: str, poll: str, *answers: str) -> str:
    """Click a poll button the way Element does."""
    return await user.send(
        room,
        {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
            RESPONSE: {"answers": list(answers)},
        },
        kind=RESPONSE,
    )


async def bounded(
    condition: Callable[[], Awaitable[bool]], *, what: str, timeout: float = 30
) -> None:
    """Wait (bounded) until an async condition holds, re-checking every 50 ms."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


async def votes_read(bot: RunningBot, count: int) -> None:
    """Wait until the bot has read `count` poll responses (votes arrive in several rooms)."""

    async def read() -> bool:
        rows = await bot.bot.store.fetch_all("SELECT COUNT(*) FROM poll_responses")
        return int(rows[0][0]) >= count

    await bounded(read, what=f"the bot to read {count} votes")


async def open_everywhere(bot: RunningBot, earth: Earth, command: str) -> dict[str, str]:
    """Start the alliance poll in the commons; return each room's native poll (by movement)."""
    reply = await earth.ada.ask(earth.commons, command, bot=bot.user_id)
    assert "Alliance poll #1 is open" in body(reply), body(reply)
    polls = {"commons": await earth.ada.wait_for(lambda: bot_polls(earth.ada, bot, earth.commons))}
    for name in MOVEMENTS:
        mover, room = earth.movers[name], earth.rooms[name]
        polls[name] = await mover.wait_for(
            lambda m=mover, r=room: bot_polls(m, bot, r),  # type: ignore[misc]
            what=f"the poll in {name}'s room",
        )
    return {room: str(found[0]["event_id"]) for room, found in polls.items()}


def section(text: str, title: str) -> dict[str, str]:
    """Option text -> the number after its bar, in the section that starts with `title`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    found: dict[str, str] = {}
    for line in lines[start + 1 :]:
        head, sep, tail = line.partition("  ")
        if not (sep and head[:1].isdigit() and ". " in head):
            break
        found[head.split(". ", 1)[1]] = tail.split(" ", 1)[1].split(" (")[0]
    return found


def movement_line(text: str, name: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith(f"- {name}")]
    return line


async def test_an_alliance_poll_is_voted_in_every_room_and_closed_from_the_commons(
    bot: RunningBot, make_user: MakeUser
) -> None:
    earth = await earth_alliance(bot, make_user)
    ada, commons, rooms = earth.ada, earth.commons, earth.rooms
    bea, cal, far = (earth.movers[name] for name in MOVEMENTS)
    bob, eve, fay, gus = (earth.people[name] for name in ("bob", "eve", "fay", "gus"))

    # Only a commons moderator starts one, and only in the commons.
    refused = await gus.ask(commons, POLL, bot=bot.user_id)
    assert "Only a moderator of this commons room" in body(refused)
    elsewhere = await bea.ask(rooms["Climate Camp"], POLL, bot=bot.user_id)
    assert "Alliance-wide polls start in the commons room of Earth Alliance" in body(elsewhere)

    polls = await open_everywhere(bot, earth, POLL)
    assert len(set(polls.values())) == 4
    (start,) = [e for e in bea.events if e["event_id"] == polls["Climate Camp"]]
    assert start["content"][START]["question"]["body"] == "Where do we meet?"
    intro = await bea.reply_from(bot.user_id, rooms["Climate Camp"], polls["Climate Camp"])
    assert "An alliance-wide poll of Earth Alliance" in body(intro)

    # Camp: Park 2, Library 1 (Bob, who later votes again in the tenants' room).
    await vote(bob, rooms["Climate Camp"], polls["Climate Camp"], "a2")
    await vote(bea, rooms["Climate Camp"], polls["Climate Camp"], "a1")
    await vote(eve, rooms["Climate Camp"], polls["Climate Camp"], "a1")
    # Farmers: Online 2. Commons (not a movement): Library 1.
    await vote(far, rooms["Farmers"], polls["Farmers"], "a3")
    await vote(fay, rooms["Farmers"], polls["Farmers"], "a3")
    await vote(gus, commons, polls["commons"], "a2")
    # Tenants: a tie, Park 1 (Bob's latest vote anywhere) and Library 1.
    await vote(cal, rooms["Tenants Union"], polls["Tenants Union"], "a2")
    await vote(bob, rooms["Tenants Union"], polls["Tenants Union"], "a1")
    await votes_read(bot, 8)

    results = body(await ada.ask(commons, "!poll results", bot=bot.user_id))

    # Everyone once: Bob's latest vote (Park, in the tenants' room) is his only one.
    assert section(results, "Everyone") == {"Park": "3", "Library": "2", "Online": "2"}
    assert "7 voters." in results
    # One movement, one voice: the tenants' tie splits their voice.
    assert section(results, "One movement, one voice") == {
        "Park": "1 1/2",
        "Library": "1/2",
        "Online": "1",
    }
    assert "3 of 3 movements voted. Leading: Park." in results
    assert movement_line(results, "Climate Camp") == (
        "- Climate Camp: Park 2, Library 1, Online 0. 3 voters; leading: Park."
    )
    assert movement_line(results, "Tenants Union") == (
        "- Tenants Union: Park 1, Library 1, Online 0. 2 voters; leading: Park and Library (a tie)."
    )
    assert movement_line(results, "Farmers") == (
        "- Farmers: Park 0, Library 0, Online 2. 2 voters; leading: Online."
    )
    assert movement_line(results, "The commons").endswith(
        "Park 0, Library 1, Online 0. 1 voter; leading: Library."
    )
    # A movement room sees the same results.
    seen_in_camp = body(await eve.ask(rooms["Climate Camp"], "!poll results", bot=bot.user_id))
    assert section(seen_in_camp, "One movement, one voice") == section(
        results, "One movement, one voice"
    )

    # Closing: not from a movement room, not by an ordinary member; by Ada, everywhere.
    not_here = body(await bea.ask(rooms["Climate Camp"], "!poll close", bot=bot.user_id))
    assert "closes everywhere at once, from the commons room" in not_here
    not_you = body(await gus.ask(commons, "!poll close", bot=bot.user_id))
    assert "who started poll #1, or a moderator" in not_you

    closed = body(await ada.ask(commons, "!poll close", bot=bot.user_id))
    assert closed.startswith("Results of alliance poll #1 of ")
    assert section(closed, "One movement, one voice") == {
        "Park": "1 1/2",
        "Library": "1/2",
        "Online": "1",
    }
    for name, mover in zip(MOVEMENTS, (bea, cal, far), strict=True):
        room, poll = rooms[name], polls[name]
        (end,) = await mover.wait_for(
            lambda m=mover, r=room, p=poll: bot_ends(m, bot, r, p),  # type: ignore[misc]
            what=f"the end of the poll in {name}'s room",
        )
        assert end["content"]["m.relates_to"]["rel_type"] == "m.reference"
        notice = await mover.wait_for(
            lambda m=mover, r=room, p=poll: [  # type: ignore[misc]
                e for e in m.replies_to(bot.user_id, r, p) if "is closed" in body(e)
            ],
            what=f"the result notice in {name}'s room",
        )
        assert f"{name} (" in body(notice[0])
        assert "One movement, one voice (3 of 3 movements voted): Park." in body(notice[0])
    assert await ada.wait_for(lambda: bot_ends(ada, bot, commons, polls["commons"]))
    tenants_notice = [
        e
        for e in cal.replies_to(bot.user_id, rooms["Tenants Union"], polls["Tenants Union"])
        if "is closed" in body(e)
    ]
    assert "Tenants Union (2 voters here): Park and Library, a tie." in body(tenants_notice[0])

    # A vote after the close counts nowhere.
    await vote(fay, rooms["Farmers"], polls["Farmers"], "a1")
    await votes_read(bot, 9)
    after = body(await ada.ask(commons, "!poll results 1", bot=bot.user_id))
    assert movement_line(after, "Farmers") == movement_line(results, "Farmers")


async def test_the_deadline_closes_the_alliance_poll_in_every_room(
    bot: RunningBot, make_user: MakeUser
) -> None:
    earth = await earth_alliance(bot, make_user)
    polls = await open_everywhere(bot, earth, POLL.replace("--alliance", "--alliance --closes 1h"))
    await vote(earth.movers["Farmers"], earth.rooms["Farmers"], polls["Farmers"], "a2")
    await vote(earth.people["bob"], earth.rooms["Climate Camp"], polls["Climate Camp"], "a1")
    await votes_read(bot, 2)

    # The deadline moves to a moment from now (`--closes` takes minutes at least).
    deadline_ms = int(time.time() * 1000) + 1500
    async with bot.bot.store.transaction() as db:
        await db.execute("UPDATE alliance_polls SET closes_at = ?", (deadline_ms,))
        await db.execute("UPDATE polls SET closes_at = ?", (deadline_ms,))

    ada = earth.ada
    results = await ada.reply_from(bot.user_id, earth.commons, polls["commons"], timeout=60)
    assert "Closed at its deadline" in body(results)
    assert section(body(results), "One movement, one voice") == {
        "Park": "1",
        "Library": "1",
        "Online": "0",
    }
    assert "2 of 3 movements voted. Leading: Park and Library." in body(results)
    for name in MOVEMENTS:
        mover, room = earth.movers[name], earth.rooms[name]
        await mover.wait_for(
            lambda m=mover, r=room, p=polls[name]: bot_ends(m, bot, r, p),  # type: ignore[misc]
            what=f"the end of the poll in {name}'s room",
        )
