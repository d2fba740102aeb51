"""The alliance decides together, on a real Synapse: a proposal in the commons, a consensus poll
in every movement's own room, positions counted by movement under the alliance's rule.

Votes are real poll response events, sent exactly as Element sends them; each movement's
moderator closes its poll early (`!poll close`), as the trust rules let them. Every wait is
bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.conftest import MakeUser, RunningBot, StartBot, join_room, room_with_bot
from tests.integration.matrix_user import MatrixUser

pytestmark = pytest.mark.integration

START = "org.matrix.msc3381.poll.start"
RESPONSE = "org.matrix.msc3381.poll.response"
MOVEMENTS = ("Climate Camp", "Tenants Union", "Farmers", "Care Workers")


def body(event: dict[str, Any]) -> str:
    return str(event["content"]["body"])


@dataclass
class Council:
    """Ada moderates the commons; each movement room has its moderator (its creator)."""

    ada: MatrixUser
    commons: str
    movers: dict[str, MatrixUser]
    rooms: dict[str, str]


async def council(
    bot_id: str, make_user: MakeUser, movements: tuple[str, ...] = MOVEMENTS
) -> Council:
    ada = await make_user("ada")
    commons = await room_with_bot(ada, bot_id, name="Earth commons")
    reply = await ada.ask(commons, "!alliance create Earth Alliance", bot=bot_id)
    assert "The alliance Earth Alliance is started" in body(reply)
    movers: dict[str, MatrixUser] = {}
    rooms: dict[str, str] = {}
    for name in movements:
        mover = await make_user(name.split()[0].lower())
        movers[name] = mover
        rooms[name] = await room_with_bot(mover, bot_id, name=f"{name} room")
        asked = await mover.ask(rooms[name], f"!movement join earth-alliance as {name}", bot=bot_id)
        assert "Asked to join Earth Alliance" in body(asked)
        approved = await ada.ask(commons, f"!movement approve {name}", bot=bot_id)
        assert f"{name} is now a member of Earth Alliance" in body(approved)
    return Council(ada, commons, movers, rooms)


def bot_polls(user: MatrixUser, bot_id: str, room: str) -> list[dict[str, Any]]:
    return [
        e
        for e in user.events
        if e.get("type") == START and e.get("sender") == bot_id and e.get("room_id") == room
    ]


async def asked_everywhere(c: Council, bot_id: str, *, count: int = 1) -> dict[str, str]:
    """Each movement room's poll of the `count`th round (by movement)."""
    found: dict[str, str] = {}
    for name, room in c.rooms.items():
        mover = c.movers[name]
        polls = await mover.wait_for(
            lambda m=mover, r=room: len(bot_polls(m, bot_id, r)) >= count,  # type: ignore[misc]
            what=f"proposal poll {count} in {name}'s room",
        )
        assert polls
        found[name] = str(bot_polls(mover, bot_id, room)[count - 1]["event_id"])
    return found


async def decide(
    c: Council, bot_id: str, name: str, poll: str, answer: str, *, number: int = 1, reason: str = ""
) -> None:
    """The movement's moderator votes `answer` (with a reason) and closes its poll."""
    mover, room = c.movers[name], c.rooms[name]
    await mover.send(
        room,
        {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
            RESPONSE: {"answers": [answer]},
        },
        kind=RESPONSE,
    )
    if reason:
        noted = await mover.ask(room, f"!reason {reason}", bot=bot_id, thread_root=poll)
        assert "reason" in body(noted).lower(), body(noted)
    closed = await mover.ask(room, f"!poll close {number}", bot=bot_id)
    assert "closed" in body(closed).lower() or "results" in body(closed).lower(), body(closed)


def outcome_in(user: MatrixUser, bot_id: str, room: str, number: int) -> list[dict[str, Any]]:
    return [
        e
        for e in user.messages_from(bot_id, room)
        if body(e).startswith(f"Proposal {number} of Earth Alliance is decided")
    ]


def passed(told: str) -> bool:
    """Whether an outcome says the proposal passed (its first line: "... Outcome: Passed: ...")."""
    first = told.split("\n")[0]
    assert "Outcome: Passed:" in first or "Outcome: Not passed:" in first, told
    return "Outcome: Passed:" in first


async def wait_outcome(user: MatrixUser, bot_id: str, room: str, number: int) -> str:
    found = await user.wait_for(
        lambda: outcome_in(user, bot_id, room, number), what=f"the outcome of proposal {number}"
    )
    return body(found[-1])


async def test_a_proposal_every_movement_agrees_to_passes_and_is_told_everywhere_once(
    bot: RunningBot, make_user: MakeUser
) -> None:
    c = await council(bot.user_id, make_user)
    opened = await c.ada.ask(
        c.commons, "!proposal We hold a joint day of action on 1 May", bot=bot.user_id
    )
    assert "Proposal 1 of Earth Alliance is open" in body(opened), body(opened)
    polls = await asked_everywhere(c, bot.user_id)
    camp = c.movers["Climate Camp"]
    (start,) = [e for e in camp.events if e["event_id"] == polls["Climate Camp"]]
    question = start["content"][START]["question"]["body"]
    assert question == "Proposal 1 of Earth Alliance: We hold a joint day of action on 1 May"
    intro = await camp.reply_from(bot.user_id, c.rooms["Climate Camp"], polls["Climate Camp"])
    assert "What is Climate Camp's position?" in body(intro)

    for name in MOVEMENTS[:3]:
        await decide(c, bot.user_id, name, polls[name], "agree")
    shown = body(await c.ada.ask(c.commons, "!proposal 1", bot=bot.user_id))
    assert "Climate Camp: Agree" in shown, shown
    assert "Care Workers: Deciding" in shown, shown
    # In Care Workers, Dan agrees and their moderator agrees with reservations.
    dan = await make_user("dan")
    await join_room(c.movers["Care Workers"], c.rooms["Care Workers"], dan)
    await dan.send(
        c.rooms["Care Workers"],
        {
            "m.relates_to": {"rel_type": "m.reference", "event_id": polls["Care Workers"]},
            RESPONSE: {"answers": ["agree"]},
        },
        kind=RESPONSE,
    )
    await decide(
        c,
        bot.user_id,
        "Care Workers",
        polls["Care Workers"],
        "reservations",
        reason="Mind the night shifts",
    )

    told = await wait_outcome(c.ada, bot.user_id, c.commons, 1)
    assert passed(told)
    assert "Care Workers: Agree with reservations" in told
    assert "Mind the night shifts" in told
    for name, room in c.rooms.items():
        here = await wait_outcome(c.movers[name], bot.user_id, room, 1)
        assert passed(here)
    agreements = body(await c.ada.ask(c.commons, "!agreements", bot=bot.user_id))
    assert "We hold a joint day of action on 1 May" in agreements
    compared = body(await c.ada.ask(c.commons, "!compare agreements", bot=bot.user_id))
    assert "#1 We hold a joint day of action on 1 May" in compared, compared
    assert "Care Workers: Agree with reservations" in compared
    assert len(outcome_in(c.ada, bot.user_id, c.commons, 1)) == 1


async def test_one_block_stops_it_and_an_amended_round_passes(
    bot: RunningBot, make_user: MakeUser
) -> None:
    c = await council(bot.user_id, make_user, MOVEMENTS[:3])
    await c.ada.ask(c.commons, "!proposal We march through the old town", bot=bot.user_id)
    polls = await asked_everywhere(c, bot.user_id)
    await decide(c, bot.user_id, "Climate Camp", polls["Climate Camp"], "agree")
    await decide(c, bot.user_id, "Tenants Union", polls["Tenants Union"], "agree")
    await decide(
        c,
        bot.user_id,
        "Farmers",
        polls["Farmers"],
        "block",
        reason="Our tractors cannot pass there",
    )
    told = await wait_outcome(c.ada, bot.user_id, c.commons, 1)
    assert not passed(told)
    assert "Farmers: Block" in told
    assert "Our tractors cannot pass there" in told

    # An agreement that did not pass cannot be amended into one by anyone but the commons.
    amend = "!proposal amend 1 We march along the ring road"
    refused = await c.movers["Farmers"].ask(c.rooms["Farmers"], amend, bot=bot.user_id)
    assert "commons" in body(refused), body(refused)
    round2 = await c.ada.ask(c.commons, amend, bot=bot.user_id)
    assert "Round 2 of proposal 1 is open" in body(round2), body(round2)
    polls = await asked_everywhere(c, bot.user_id, count=2)
    for name in c.rooms:
        await decide(c, bot.user_id, name, polls[name], "agree", number=2)
    changes = [e for e in c.ada.messages_from(bot.user_id, c.commons) if "What changed" in body(e)]
    assert changes
    assert "[-old town-]" in body(changes[0])
    assert "{+ring road+}" in body(changes[0])
    await c.ada.wait_for(
        lambda: any(
            "(round 2)" in body(e) and passed(body(e))
            for e in outcome_in(c.ada, bot.user_id, c.commons, 1)
        ),
        what="round 2 to pass",
    )
    shown = body(await c.ada.ask(c.commons, "!proposal 1", bot=bot.user_id))
    assert "Round 1: not passed." in shown


async def test_consensus_minus_one_lets_a_single_block_through_and_stand_aside_counts(
    bot: RunningBot, make_user: MakeUser
) -> None:
    c = await council(bot.user_id, make_user)
    refused = await c.ada.ask(c.commons, "!alliance set rule consensus plus", bot=bot.user_id)
    assert "Accepted" in body(refused) or "rule" in body(refused).lower(), body(refused)
    changed = await c.ada.ask(c.commons, "!alliance set rule consensus-minus-one", bot=bot.user_id)
    assert "now decides proposals by this rule" in body(changed), body(changed)
    shown = body(await c.ada.ask(c.commons, "!alliance", bot=bot.user_id))
    assert "Proposals are decided movement by movement" in shown
    await c.ada.ask(c.commons, "!proposal We share one legal team", bot=bot.user_id)
    polls = await asked_everywhere(c, bot.user_id)
    await decide(c, bot.user_id, "Climate Camp", polls["Climate Camp"], "agree")
    await decide(c, bot.user_id, "Tenants Union", polls["Tenants Union"], "agree")
    await decide(c, bot.user_id, "Farmers", polls["Farmers"], "stand_aside", reason="Not our fight")
    await decide(c, bot.user_id, "Care Workers", polls["Care Workers"], "block", reason="Costs")
    told = await wait_outcome(c.ada, bot.user_id, c.commons, 1)
    assert passed(told)
    assert "Farmers: Stand aside" in told


async def test_closed_early_with_too_few_positions_misses_the_quorum_and_a_leaver_no_longer_counts(
    bot: RunningBot, make_user: MakeUser
) -> None:
    c = await council(bot.user_id, make_user)
    await c.ada.ask(c.commons, "!proposal We publish a joint letter", bot=bot.user_id)
    polls = await asked_everywhere(c, bot.user_id)
    await decide(c, bot.user_id, "Climate Camp", polls["Climate Camp"], "agree")
    left = await c.movers["Farmers"].ask(c.rooms["Farmers"], "!movement leave", bot=bot.user_id)
    assert "left" in body(left).lower() or "no longer" in body(left).lower(), body(left)
    # Only a commons moderator closes it early.
    closed = await c.ada.ask(c.commons, "!proposal close 1", bot=bot.user_id)
    assert "Proposal 1 is closed" in body(closed), body(closed)
    told = await wait_outcome(c.ada, bot.user_id, c.commons, 1)
    assert not passed(told)
    assert "Farmers: " in told
    assert "(left the alliance, not counted)" in told
    assert "Tenants Union: No position" in told
    again = await c.ada.ask(c.commons, "!proposal close 1", bot=bot.user_id)
    assert "already closed" in body(again)
    missing = await c.ada.ask(c.commons, "!proposal 7", bot=bot.user_id)
    assert "There is no proposal 7" in body(missing)


async def test_a_restart_mid_round_loses_no_position_and_posts_nothing_twice(
    start_bot: StartBot, make_user: MakeUser
) -> None:
    first = await start_bot()
    c = await council(first.user_id, make_user, MOVEMENTS[:2])
    await c.ada.ask(c.commons, "!proposal We pool our printing costs", bot=first.user_id)
    polls = await asked_everywhere(c, first.user_id)
    await decide(c, first.user_id, "Climate Camp", polls["Climate Camp"], "agree")
    await first.stop()
    second = await start_bot()
    await decide(c, second.user_id, "Tenants Union", polls["Tenants Union"], "agree")
    told = await wait_outcome(c.ada, second.user_id, c.commons, 1)
    assert passed(told)
    for name, room in c.rooms.items():
        assert len(bot_polls(c.movers[name], second.user_id, room)) == 1
    assert len(outcome_in(c.ada, second.user_id, c.commons, 1)) == 1


async def test_a_movement_that_mandates_its_spokes_answers_through_them_and_no_one_else(
    bot: RunningBot, make_user: MakeUser
) -> None:
    c = await council(bot.user_id, make_user, MOVEMENTS[:2])
    tenants, tenants_room = c.movers["Tenants Union"], c.rooms["Tenants Union"]
    tess = await make_user("tess")
    await join_room(tenants, tenants_room, tess)
    await join_room(c.ada, c.commons, tess)
    # Only the movement's moderators name spokes; a spoke must be in the room.
    refused = await tess.ask(tenants_room, f"!spokes add {tess.user_id}", bot=bot.user_id)
    assert "moderator" in body(refused).lower(), body(refused)
    outsider = await tenants.ask(tenants_room, f"!spokes add {c.ada.user_id}", bot=bot.user_id)
    assert "is not in this room" in body(outsider)
    added = await tenants.ask(tenants_room, f"!spokes add {tess.user_id}", bot=bot.user_id)
    assert "is now a spoke of this movement" in body(added), body(added)
    mandated = await tenants.ask(tenants_room, "!rules set position spokes", bot=bot.user_id)
    assert "spokes give its position" in body(mandated), body(mandated)
    assert "spokes give its position in the commons" in body(
        await tenants.ask(tenants_room, "!rules", bot=bot.user_id)
    )

    await c.ada.ask(c.commons, "!proposal We share a van", bot=bot.user_id)
    camp = c.movers["Climate Camp"]
    polls = await camp.wait_for(
        lambda: bot_polls(camp, bot.user_id, c.rooms["Climate Camp"]), what="the camp's poll"
    )
    asked = await tenants.wait_for(
        lambda: [
            e
            for e in tenants.messages_from(bot.user_id, tenants_room)
            if "We share a van" in body(e) and "spokes give its position" in body(e)
        ],
        what="the tenants to be asked through their spokes",
    )
    assert "!position 1 agree" in body(asked[0])
    assert bot_polls(tenants, bot.user_id, tenants_room) == []

    # Someone who is not a spoke, and the camp (which decides by its poll), cannot answer.
    ada_says = await c.ada.ask(c.commons, "!position 1 block", bot=bot.user_id)
    assert "You are not a spoke" in body(ada_says)
    in_room = await tess.ask(tenants_room, "!position 1 agree", bot=bot.user_id)
    assert "in the alliance's commons" in body(in_room)
    given = await tess.ask(c.commons, "!position 1 reservations only on weekends", bot=bot.user_id)
    assert "Tenants Union's position on proposal 1 is recorded" in body(given), body(given)
    again = await tess.ask(c.commons, "!position 1 block", bot=bot.user_id)
    assert "has already given its position" in body(again)
    # In the proposal's thread, what a spoke says is marked as their movement's; Ada's is not.
    (root,) = [
        e
        for e in c.ada.messages_from(bot.user_id, c.commons)
        if body(e).startswith("Proposal 1 to Earth Alliance")
    ]
    spoken = await tess.say(c.commons, "We can drive it on weekends", thread_root=root["event_id"])
    own = await c.ada.say(c.commons, "Who keeps the keys?", thread_root=root["event_id"])
    marks = await c.ada.wait_for(
        lambda: [
            e
            for e in c.ada.events
            if e.get("type") == "m.reaction" and e.get("sender") == bot.user_id
        ],
        what="the bot to mark the spoke's message",
    )
    assert [m["content"]["m.relates_to"] for m in marks] == [
        {"rel_type": "m.annotation", "event_id": spoken, "key": "speaks for Tenants Union"}
    ]
    assert own != spoken

    await decide(c, bot.user_id, "Climate Camp", str(polls[0]["event_id"]), "agree")
    told = await wait_outcome(c.ada, bot.user_id, c.commons, 1)
    assert passed(told)
    shown = body(await c.ada.ask(c.commons, "!proposal 1", bot=bot.user_id))
    assert "Tenants Union: Agree with reservations (given by its spokes)" in shown, shown
    later = [e for e in c.ada.events if e.get("type") == "m.reaction"]
    assert [m["content"]["m.relates_to"]["event_id"] for m in later] == [spoken]
    assert "only on weekends" in shown


async def test_only_the_commons_asks_and_an_encrypted_movements_reasons_stay_encrypted(
    bot: RunningBot, make_user: MakeUser
) -> None:
    c = await council(bot.user_id, make_user, MOVEMENTS[:1])
    ada, commons = c.ada, c.commons
    # An encrypted movement joins; a room that asked to join and was never approved is not asked.
    vera = await make_user("vera")
    secret_room = await room_with_bot(vera, bot.user_id, name="Care Workers room", encrypted=True)
    asked = await vera.ask(
        secret_room, "!movement join earth-alliance as Care Workers", bot=bot.user_id
    )
    assert "Asked to join" in body(asked)
    approved = await ada.ask(commons, "!movement approve Care Workers", bot=bot.user_id)
    assert "is now a member" in body(approved)
    pete = await make_user("pete")
    pending = await room_with_bot(pete, bot.user_id, name="Pending room")
    await pete.ask(pending, "!movement join earth-alliance as Pending", bot=bot.user_id)
    gus = await make_user("gus")
    await join_room(ada, commons, gus)

    # Not from a movement room, not by a plain member of the commons.
    elsewhere = await vera.ask(secret_room, "!proposal We merge", bot=bot.user_id)
    assert "Only in the commons room" in body(elsewhere), body(elsewhere)
    member = await gus.ask(commons, "!proposal We merge", bot=bot.user_id)
    assert "Only the commons' moderators put proposals" in body(member), body(member)
    await ada.ask(commons, "!proposal We merge our mailing lists", bot=bot.user_id)
    polls = await asked_everywhere(
        Council(ada, commons, {"Care Workers": vera}, {"Care Workers": secret_room}), bot.user_id
    )
    closing = await gus.ask(commons, "!proposal close 1", bot=bot.user_id)
    assert "moderator" in body(closing).lower(), body(closing)

    c.movers["Care Workers"], c.rooms["Care Workers"] = vera, secret_room
    await decide(
        c, bot.user_id, "Care Workers", polls["Care Workers"], "block", reason="SECRET-ROTA"
    )
    camp_poll = (await asked_everywhere(c, bot.user_id))["Climate Camp"]
    await decide(c, bot.user_id, "Climate Camp", camp_poll, "agree")
    told = await wait_outcome(ada, bot.user_id, commons, 1)
    assert "Care Workers: Block" in told
    assert "their reasons stay in their encrypted room" in told
    assert "SECRET-ROTA" not in told
    assert "SECRET-ROTA" not in body(await ada.ask(commons, "!proposal 1", bot=bot.user_id))
    own = await wait_outcome(vera, bot.user_id, secret_room, 1)
    assert "SECRET-ROTA" in own
    assert bot_polls(pete, bot.user_id, pending) == []
    shown = body(await ada.ask(commons, "!proposal 1", bot=bot.user_id))
    assert "Pending" not in shown
