"""What a consensus poll decided, in words, and when the room asks itself again.

When a consensus poll closes, its results ask whoever opened it for a short outcome statement:
`!outcome <text>` in the poll's thread (or as a reply to it), by them or a moderator. It is
shown with the results from then on. `--review 6m` (days `d`, weeks `w`, months `m`, years
`y`) sets a review date: on that date the deadline timer opens a new decision poll in the same
room ("Still agreed?") that links back to the old one, once.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from bot.contract import CommandError, Context, Reply, Services, Words
from bot.ids import EventID, UserID
from bot.permissions import Power
from commands.polls import store as db
from commands.polls.lifecycle import (
    decision_deadline_s,
    open_consensus_poll,
    start_event,
)
from commands.polls.results import local_time
from commands.polls.store import Poll

log = logging.getLogger(__name__)

MAX_OUTCOME: Final = 1000
_REVIEW_RE: Final = re.compile(r"(\d{1,3})\s*(d|w|m|y)")
_DAYS: Final = {"d": 1, "w": 7, "m": 30, "y": 365}
DAY_MS: Final = 24 * 3600 * 1000


def review_days(text: str) -> int:
    """`6m` as 180 days (months of 30 days, years of 365); refused when unreadable."""
    match = _REVIEW_RE.fullmatch(" ".join(text.lower().split()))
    if match is None or int(match[1]) == 0:
        raise CommandError("polls.review_is", typed=text.strip()[:20])
    days = int(match[1]) * _DAYS[match[2]]
    if days > 10 * 365:
        raise CommandError("polls.review_too_far")
    return days


async def write_outcome(ctx: Context, poll: Poll, text: str, review: str | None) -> Reply:
    if poll.kind != "consensus":
        raise CommandError("polls.outcome_consensus_only", number=poll.number)
    if poll.is_open:
        raise CommandError("polls.outcome_after_close", number=poll.number)
    if ctx.sender != poll.creator and ctx.power < Power.MODERATOR:
        raise CommandError(
            "polls.outcome_who", number=poll.number, creator=ctx.room.display_name(poll.creator)
        )
    text = text.strip()
    if not text:
        raise CommandError("polls.outcome_empty", number=poll.number)
    if len(text) > MAX_OUTCOME:
        raise CommandError("polls.outcome_too_long", length=len(text), limit=MAX_OUTCOME)
    now = ctx.services.now_ms()
    review_at = None if review is None else now + review_days(review) * DAY_MS
    await db.set_outcome(
        ctx.store, poll.id, text=text, by=UserID(ctx.sender), at=now, review_at=review_at
    )
    return Reply(
        "poll_outcome_written",
        {
            "number": poll.number,
            "review": None if review_at is None else local_time(review_at, ctx),
        },
    )


async def review_due(services: Services, now: int) -> None:
    """Open the review poll of every outcome whose review date has come (once each)."""
    for outcome in await db.due_reviews(services.store, now):
        try:
            await _review(services, outcome, now)
        except Exception:
            log.exception("The review of poll %d failed", outcome.poll_id)


async def _review(services: Services, outcome: db.PollOutcome, now: int) -> None:
    old = await db.get_poll(services.store, outcome.poll_id)
    if old is None or old.removed:
        await db.mark_reviewed(services.store, outcome.poll_id, 0)
        return
    question = services.say(old.room_id, Words("polls.review_question", {"question": old.question}))
    seconds = await decision_deadline_s(services.store, old.room_id)
    poll = await open_consensus_poll(
        services,
        room_id=old.room_id,
        proposal=question,
        creator=UserID(services.config.user_id),
        txn_key=EventID(f"{old.command_event_id}:review"),
        closes_at=now + seconds * 1000,
        decision=True,
    )
    await db.mark_reviewed(services.store, old.id, poll.id)
    await services.notice(
        old.room_id,
        Reply(
            "poll_review_opened",
            {"old": old.number, "new": poll.number, "outcome": outcome.text},
        ),
        txn_key=f"{old.command_event_id}:review-notice",
        answering=start_event(poll, services),
    )
