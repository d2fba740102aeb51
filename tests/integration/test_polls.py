"""Polls as people in Element use them: native polls, votes from the poll buttons, closing.

Votes are sent exactly as Element sends them (`org.matrix.msc3381.poll.response` with an
`m.reference` to the poll). Every wait is bounded.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from bot.store import Store
from tests.integration.conftest import MakeUser, RunningBot, StartBot, join_room, room_with_bot
from tests.integration.matrix_user import MatrixUser
from tests.waiting import eventually

pytestmark = pytest.mark.integration

START = "org.matrix.msc3381.poll.start"
RESPONSE = "org.matrix.msc3381.poll.response"
END = "org.matrix.msc3381.poll.end"


# -- helpers ------------------------------------------------------------------------------------


async def three_people(bot_id: str, make_user: MakeUser) -> tuple[MatrixUser, ...]:
    """Alice creates the room (v12: unlimited power); Bob and Carol join by invite."""
    alice = await make_user("alice")
    bob = await make_user("bob")
    carol = await make_user("carol")
    return alice, bob, carol


async def shared_room(bot_id: str, alice: MatrixUser, *others: MatrixUser) -> str:
    room = await room_with_bot(alice, bot_id, room_version="12")
    await join_room(alice, room, *others)
    return room


def polls_from(user: MatrixUser, bot_id: str, room: str) -> list[dict[str, Any]]:
    return [
        e
        for e in user.events
        if e.get("type") == START and e.get("sender") == bot_id and e.get("room_id") == room
    ]


async def start_poll(user: MatrixUser, bot_id: str, room: str, command: str) -> str:
    """Send a poll command; return the native poll's event id once the bot posted it."""
    before = len(polls_from(user, bot_id, room))
    reply = await user.ask(room, command, bot=bot_id)
    assert "is open" in reply["content"]["body"], reply["content"]["body"]
    polls = await user.wait_for(
        lambda: polls_from(user, bot_id, room)[before:], what="the native poll"
    )
    return str(polls[0]["event_id"])


async def vote(user: MatrixUser, room: str, poll: str, *answers: str) -> str:
    """Click poll buttons the way Element does."""
    return await user.send(
        room,
        {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
            RESPONSE: {"answers": list(answers)},
        },
        kind=RESPONSE,
    )


async def reply_to(user: MatrixUser, room: str, event_id: str, body: str, *, bot: str) -> str:
    """Send `body` as a reply to `event_id`; return the bot's answer's body."""
    sent = await user.send(
        room,
        {
            "msgtype": "m.text",
            "body": body,
            "m.relates_to": {"m.in_reply_to": {"event_id": event_id}},
        },
    )
    answer = await user.reply_from(bot, room, sent)
    return str(answer["content"]["body"])


async def ask(user: MatrixUser, room: str, body: str, *, bot: str, **kwargs: Any) -> str:
    return str((await user.ask(room, body, bot=bot, **kwargs))["content"]["body"])


def counts(body: str) -> dict[str, int]:
    """Option text -> votes, read from the plain text of a results message."""
    found: dict[str, int] = {}
    for line in body.splitlines():
        head, sep, tail = line.partition("  ")
        if sep and head[:1].isdigit() and ". " in head:
            text = head.split(". ", 1)[1]
            found[text] = int(tail.split()[1])
    return found


def ends_of(user: MatrixUser, bot_id: str, poll: str) -> list[dict[str, Any]]:
    return [
        e
        for e in user.events
        if e.get("type") == END
        and e.get("sender") == bot_id
        and e["content"].get("m.relates_to", {}).get("event_id") == poll
    ]


# -- straw polls --------------------------------------------------------------------------------


async def test_a_poll_is_a_native_poll_counted_like_element_counts_it(
    bot: RunningBot, make_user: MakeUser
) -> None:
    alice, bob, carol = await three_people(bot.user_id, make_user)
    room = await shared_room(bot.user_id, alice, bob, carol)

    poll = await start_poll(
        alice, bot.user_id, room, "!poll Where do we meet?\nPark\nLibrary\nOnline"
    )

    (start,) = [e for e in alice.events if e["event_id"] == poll]
    content = start["content"][START]
    assert content["question"]["body"] == "Where do we meet?"
    assert content["kind"] == "org.matrix.msc3381.poll.disclosed"
    assert content["max_selections"] == 1
    assert [a["org.matrix.msc1767.text"] for a in content["answers"]] == [
        "Park",
        "Library",
        "Online",
    ]
    ids = [a["id"] for a in content["answers"]]
    assert start["content"]["org.matrix.msc1767.text"].startswith("Where do we meet?\n1. Park")

    await vote(alice, room, poll, ids[0])
    await vote(bob, room, poll, ids[1])
    await vote(bob, room, poll, ids[2])  # Bob changes his mind
    withdrawn = await vote(carol, room, poll, ids[1])
    redaction = await carol.client.room_redact(room, withdrawn)
    assert hasattr(redaction, "event_id"), redaction

    body = await ask(alice, room, "!poll results", bot=bot.user_id)
    assert counts(body) == {"Park": 1, "Library": 0, "Online": 1}
    assert "2 voters." in body
    assert "Park  █████░░░░░ 1 (50%)" in body

    answer = await reply_to(carol, room, poll, "!vote 2", bot=bot.user_id)
    assert "Counted your vote in poll #1: Library" in answer
    body = await ask(alice, room, "!poll results 1", bot=bot.user_id)
    assert counts(body) == {"Park": 1, "Library": 1, "Online": 1}


async def test_the_creator_closes_a_poll_and_an_ordinary_member_may_not(
    bot: RunningBot, make_user: MakeUser
) -> None:
    alice, bob, carol = await three_people(bot.user_id, make_user)
    room = await shared_room(bot.user_id, alice, bob, carol)
    poll = await start_poll(bob, bot.user_id, room, '!poll "Lunch?" "Pizza" "Soup"')
    await vote(alice, room, poll, "a1")
    await vote(carol, room, poll, "a2")
    await vote(bob, room, poll, "a1")

    refused = await ask(carol, room, "!poll close", bot=bot.user_id)
    assert "who started poll #1, or a moderator" in refused
    assert "Sorry, only bob" in refused

    closed = await ask(bob, room, "!poll close 1", bot=bot.user_id)
    assert closed.startswith("Results of poll #1: ")
    assert "Closed by " in closed
    assert counts(closed) == {"Pizza": 2, "Soup": 1}
    assert "3 voters." in closed
    (end,) = await alice.wait_for(
        lambda: ends_of(alice, bot.user_id, poll), what="the native end event"
    )
    assert end["content"]["m.relates_to"]["rel_type"] == "m.reference"
    assert end["content"]["body"] == "The poll has ended. Top answer: Pizza"

    late = await reply_to(carol, room, poll, "!vote 1", bot=bot.user_id)
    assert "Poll #1 is closed, so your vote was not counted" in late
    assert counts(await ask(alice, room, "!poll results 1", bot=bot.user_id)) == {
        "Pizza": 2,
        "Soup": 1,
    }


async def test_a_deadline_that_passes_while_the_bot_is_stopped(
    start_bot: StartBot, make_user: MakeUser
) -> None:
    running = await start_bot()
    alice, bob, carol = await three_people(running.user_id, make_user)
    room = await shared_room(running.user_id, alice, bob, carol)
    poll = await start_poll(alice, running.user_id, room, "!poll --closes 1h Q?\nYes\nNo")
    await vote(alice, room, poll, "a1")
    await vote(bob, room, poll, "a2")
    assert counts(await ask(alice, room, "!poll results", bot=running.user_id)) == {
        "Yes": 1,
        "No": 1,
    }
    await running.stop()

    # The deadline moves to a few seconds from now (`--closes` takes minutes at least).
    deadline_ms = int(time.time() * 1000) + 3000
    store = await Store.open(running.config.database_path)
    try:
        async with store.transaction() as db:
            await db.execute(
                "UPDATE polls SET closes_at = ? WHERE room_id = ?", (deadline_ms, room)
            )
    finally:
        await store.close()
    await vote(carol, room, poll, "a1")  # in time, while the bot is away
    await eventually(lambda: time.time() * 1000 > deadline_ms + 500, what="the deadline")
    await vote(bob, room, poll, "a1")  # too late: Bob's earlier vote stands

    second = await start_bot()

    results = await alice.reply_from(second.user_id, room, poll, timeout=60)
    body = results["content"]["body"]
    assert "Closed at its deadline" in body
    assert counts(body) == {"Yes": 2, "No": 1}
    assert "3 voters." in body
    (end,) = await alice.wait_for(
        lambda: ends_of(alice, second.user_id, poll), what="the native end event"
    )
    assert end["content"]["body"] == "The poll has ended. Top answer: Yes"


# -- consensus ----------------------------------------------------------------------------------


def thread_messages(user: MatrixUser, bot_id: str, room: str, root: str) -> list[dict[str, Any]]:
    return [
        e
        for e in user.messages_from(bot_id, room)
        if e["content"].get("m.relates_to", {}).get("rel_type") == "m.thread"
        and e["content"]["m.relates_to"].get("event_id") == root
    ]


async def test_a_block_stops_a_consensus_poll_and_its_reason_is_listed(
    bot: RunningBot, make_user: MakeUser
) -> None:
    alice, bob, carol = await three_people(bot.user_id, make_user)
    room = await shared_room(bot.user_id, alice, bob, carol)
    poll = await start_poll(alice, bot.user_id, room, "!consensus We join the march on Saturday")
    (start,) = [e for e in alice.events if e["event_id"] == poll]
    answers = start["content"][START]["answers"]
    assert [a["org.matrix.msc1767.text"] for a in answers] == [
        "Agree",
        "Agree with reservations",
        "Stand aside",
        "Block",
    ]

    await vote(alice, room, poll, "agree")
    await vote(carol, room, poll, "agree")
    await vote(bob, room, poll, "block")
    (asked,) = await bob.wait_for(
        lambda: thread_messages(bob, bot.user_id, room, poll), what="the bot to ask Bob why"
    )
    assert "you chose Block on consensus poll #1" in asked["content"]["body"]

    noted = await ask(
        bob, room, "!reason The route is not accessible", bot=bot.user_id, thread_root=poll
    )
    assert "your reason for poll #1 is noted" in noted

    closed = await ask(alice, room, "!poll close", bot=bot.user_id)
    assert "Outcome: Not passed: 1 block." in closed
    assert ': "The route is not accessible"' in closed
    assert "- Block: bob" in closed


async def test_modified_consensus_passes_a_proposal_despite_a_block(
    bot: RunningBot, make_user: MakeUser
) -> None:
    alice, bob, carol = await three_people(bot.user_id, make_user)
    room = await shared_room(bot.user_id, alice, bob, carol)
    refused = await ask(bob, room, "!rules set majority", bot=bot.user_id)
    assert "Sorry, only a moderator" in refused
    changed = await ask(alice, room, "!rules set modified-consensus 60%", bot=bot.user_id)
    assert "modified-consensus 60%" in changed

    poll = await start_poll(alice, bot.user_id, room, "!consensus We co-sign the open letter")
    await vote(alice, room, poll, "agree")
    await vote(carol, room, poll, "reservations")
    await vote(bob, room, poll, "block")

    closed = await ask(alice, room, "!poll close", bot=bot.user_id)
    assert (
        "Outcome: Passed: 2 of 3 votes (66.6%) agree or agree with reservations, "
        "at least 60% needed." in closed
    )
    assert "- Block: bob" in closed


async def test_a_poll_in_an_encrypted_room(bot: RunningBot, make_user: MakeUser) -> None:
    alice = await make_user("alice")
    bob = await make_user("bob")
    room = await room_with_bot(alice, bot.user_id, encrypted=True)
    await alice.invite(room, bob.user_id)
    await bob.join(room)

    poll = await start_poll(alice, bot.user_id, room, '!poll "Where?" "Park" "Library"')
    (start,) = [e for e in alice.events if e["event_id"] == poll]
    assert start["decrypted"] is True
    await vote(alice, room, poll, "a2")
    await vote(bob, room, poll, "a2")

    closed = await ask(alice, room, "!poll close", bot=bot.user_id)
    assert counts(closed) == {"Park": 0, "Library": 2}


async def test_one_reminder_in_the_polls_thread_mentions_only_those_who_have_not_voted(
    start_bot: StartBot, make_user: MakeUser
) -> None:
    running = await start_bot()
    alice, bob, carol = await three_people(running.user_id, make_user)
    room = await shared_room(running.user_id, alice, bob, carol)
    said = await ask(alice, room, "!rules set remind mention", bot=running.user_id)
    assert "mention the members who have not voted" in said
    poll = await start_poll(alice, running.user_id, room, "!poll --closes 3d Q?\nYes\nNo")
    await vote(bob, room, poll, "a1")
    assert counts(await ask(alice, room, "!poll results", bot=running.user_id)) == {
        "Yes": 1,
        "No": 0,
    }
    await running.stop()

    # Two days pass while the bot is away: the poll now closes in 23 hours.
    now = int(time.time() * 1000)
    store = await Store.open(running.config.database_path)
    try:
        async with store.transaction() as db:
            await db.execute(
                "UPDATE polls SET created_at = ?, closes_at = ? WHERE room_id = ?",
                (now - 2 * 86_400_000, now + 23 * 3_600_000, room),
            )
    finally:
        await store.close()

    second = await start_bot()

    def reminders() -> list[dict[str, Any]]:
        return [
            e
            for e in alice.messages_from(second.user_id, room)
            if str(e["content"]["body"]).startswith("Poll #1 closes in")
        ]

    (reminder,) = await alice.wait_for(reminders, what="the reminder", timeout=30)
    content = reminder["content"]
    assert content["m.relates_to"]["rel_type"] == "m.thread"
    assert content["m.relates_to"]["event_id"] == poll
    assert content["body"].startswith("Poll #1 closes in 23 hours. 1 of 3 members")
    assert sorted(content["m.mentions"]["user_ids"]) == sorted([alice.user_id, carol.user_id])
    await second.stop()
    third = await start_bot()  # a restart posts it no second time
    await ask(alice, room, "!poll results", bot=third.user_id)
    assert len(reminders()) == 1


async def test_an_outcome_with_a_review_date_asks_the_room_again_once(
    start_bot: StartBot, make_user: MakeUser
) -> None:
    running = await start_bot()
    alice, bob, carol = await three_people(running.user_id, make_user)
    room = await shared_room(running.user_id, alice, bob, carol)
    poll = await start_poll(alice, running.user_id, room, "!consensus We march on Saturday")
    await vote(bob, room, poll, "agree")
    closed = await ask(alice, room, "!poll close 1", bot=running.user_id)
    assert "say in a sentence what was decided, with !outcome <text>" in closed
    written = await alice.ask(
        room,
        "!outcome --review 1y We march from the station",
        bot=running.user_id,
        thread_root=poll,
    )
    assert "On " in written["content"]["body"], written["content"]["body"]
    results = await ask(bob, room, "!poll results 1", bot=running.user_id)
    assert '"We march from the station"' in results
    await running.stop()

    # A year passes while the bot is away.
    store = await Store.open(running.config.database_path)
    try:
        async with store.transaction() as db:
            await db.execute("UPDATE poll_outcomes SET review_at = 1")
    finally:
        await store.close()

    second = await start_bot()
    again = await alice.wait_for(
        lambda: polls_from(alice, second.user_id, room)[1:], what="the review poll", timeout=30
    )
    question = again[0]["content"][START]["question"]["body"]
    assert question == "Still agreed? We march on Saturday"
    await second.stop()
    third = await start_bot()
    await ask(alice, room, "!poll list", bot=third.user_id)
    assert len(polls_from(alice, third.user_id, room)) == 2  # asked once
