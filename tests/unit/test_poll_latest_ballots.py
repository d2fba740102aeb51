"""Choosing each voter's latest ballot in SQL gives exactly the tally of all ballots."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.ids import EventID, RoomID, UserID
from bot.store import Store
from commands.polls import store as db
from commands.polls.tally import tally
from commands.polls.view import Answer

ANSWERS = ("a1", "a2", "a3")


async def make_poll(store: Store) -> db.Poll:
    return await db.create_poll(
        store,
        db.NewPoll(
            room_id=RoomID("!room"),
            kind="straw",
            question="Where?",
            answers=tuple(Answer(a, a.upper()) for a in ANSWERS),
            max_selections=2,
            hidden=False,
            creator=UserID("@org:x"),
            created_at=0,
            closes_at=None,
            rule=None,
            command_event_id=EventID("$cmd"),
        ),
    )


@pytest.mark.parametrize("seed", range(8))
async def test_latest_ballots_tally_like_all_ballots(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    store = await Store.open(tmp_path / "db.sqlite")
    poll = await make_poll(store)
    voters = [UserID(f"@v{n}:x") for n in range(30)]
    for n in range(300):
        answers = rng.choice([[], ["a1"], ["a2", "a3"], ["a3", "a1", "a2"], ["zz"], None])
        await db.add_response(
            store,
            event_id=EventID(f"$r{n}"),
            poll_id=poll.id,
            sender=rng.choice(voters),
            answers=answers,
            ts=rng.randrange(0, 60),  # many equal timestamps: ties must go the same way
            via="poll",
        )
    for n in rng.sample(range(300), 40):
        target = await db.redaction_target(store, room_id=poll.room_id, event_id=EventID(f"$r{n}"))
        assert target is not None
        await db.redact(store, target)
    members = voters[:25]

    for closed_at in (None, 30):
        everything = tally(
            await db.ballots(store, poll.id),
            answer_ids=ANSWERS,
            max_selections=2,
            closed_at=closed_at,
            members=members,
        )
        latest = await db.latest_ballots(store, poll.id, closed_at=closed_at)
        chosen = tally(
            latest, answer_ids=ANSWERS, max_selections=2, closed_at=closed_at, members=members
        )
        assert chosen == everything
        assert len({b.sender for b in latest}) == len(latest)
    await store.close()
