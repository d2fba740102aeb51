"""One reminder before a poll closes, to the people who have not voted, and only them.

Before a poll closes (24 hours unless the room says `!rules set reminder 12h`, or `off`), the
deadline timer posts one reminder in the poll's thread: how long is left, how many of the
room's members have voted, and for a consensus poll what it would decide now and whether its
quorum can still be met. It names and pings nobody, unless the room opts in
(`!rules set remind mention`): then it mentions the members who have not voted, never those
who have. `!whohasnt` says who has not voted (names for moderators, a count for others).

Exactly once: the reminder's transaction id comes from the poll, and the poll is marked as
reminded once it was sent (a restart in between sends it again with the same id, which the
homeserver takes as the same event). A poll closed early is never reminded of.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from bot.contract import Args, CommandError, Context, Reply, Services, Words
from bot.ids import RoomID, UserID
from bot.permissions import Power
from bot.store import Store
from commands.polls import store as db
from commands.polls.deadlines import DeadlineError, duration_words, parse_duration
from commands.polls.results import live_tally, rule_of
from commands.polls.rules import ConsensusCounts, decide
from commands.polls.store import Poll

log = logging.getLogger(__name__)

DEFAULT_BEFORE_S: Final = 24 * 3600
MENTIONED_AT_MOST: Final = 50
"""A reminder mentions at most this many people (a big room's reminder stays readable)."""


def _not_voted(services: Services, poll: Poll, voted: set[str]) -> list[UserID]:
    bot = services.config.user_id
    return sorted(u for u in services.room(poll.room_id).joined() if u != bot and u not in voted)


def _rounded_s(ms: int) -> int:
    """How long is left, as people say it: whole hours from two hours on, else minutes."""
    seconds = max(60, ms // 1000)
    unit = 3600 if seconds >= 7200 else 60
    return round(seconds / unit) * unit


async def remind_due(services: Services, now: int) -> None:
    """Post every reminder that is due (the deadline timer's part for reminders)."""
    for poll in await db.due_reminders(services.store, now, default_before_s=DEFAULT_BEFORE_S):
        try:
            await _remind(services, poll, now)
        except Exception:
            log.exception("The reminder of poll %d in %s failed", poll.number, poll.room_id)


async def _remind(services: Services, poll: Poll, now: int) -> None:
    assert poll.closes_at is not None
    setting = await db.room_reminder(services.store, poll.room_id)
    result = await live_tally(services, poll)
    waiting = _not_voted(services, poll, set(result.choices))
    mentioned = waiting[:MENTIONED_AT_MOST] if setting.mention else []
    room = services.room(poll.room_id)
    view: dict[str, Any] = {
        "number": poll.number,
        "left": duration_words(_rounded_s(poll.closes_at - now)),
        "voters": result.voters,
        "members": result.voters + len(waiting),
        "decision": poll.kind == "consensus",
        "outcome": None,
        "quorum": 0,
        "quorum_short": 0,
        "waiting": len(waiting),
        "mentioned": [{"user": u, "name": room.display_name(u)} for u in mentioned],
        "more": len(waiting) - len(mentioned) if setting.mention else 0,
    }
    if poll.kind == "consensus" and not poll.hidden:
        rule = rule_of(poll)
        view["outcome"] = decide(rule, ConsensusCounts.from_mapping(result.counts)).words
        view["quorum"] = rule.quorum
        view["quorum_short"] = max(0, rule.quorum - result.voters)
    await services.notice(
        poll.room_id,
        Reply("poll_reminder", view),
        txn_key=f"{poll.command_event_id}:reminder",
        thread_root=poll.start_event_id,
        mentions=mentioned,
    )
    await db.mark_reminded(services.store, poll.id, at=now)


# -- `!rules set reminder 12h|off`, `!rules set remind mention|quiet` ---------------------------


async def set_reminder(ctx: Context, value: str) -> Reply:
    word = value.strip().lower()
    if word in ("off", "none", "no", "0"):
        seconds = 0
    else:
        try:
            seconds = int(parse_duration(word).total_seconds())
        except DeadlineError as exc:
            raise CommandError("polls.reminder_is", problem=exc.words) from None
        if seconds < 600:
            raise CommandError("polls.reminder_too_short")
    await db.set_room_reminder(
        ctx.store,
        ctx.event.room_id,
        before_s=seconds,
        set_by=UserID(ctx.sender),
        set_at=ctx.services.now_ms(),
    )
    return Reply("rules_reminder_set", {"off": seconds == 0, "before": duration_words(seconds)})


async def set_remind(ctx: Context, value: str) -> Reply:
    word = value.strip().lower()
    if word not in ("mention", "quiet"):
        raise CommandError("polls.remind_is")
    await db.set_room_reminder(
        ctx.store,
        ctx.event.room_id,
        mention=word == "mention",
        set_by=UserID(ctx.sender),
        set_at=ctx.services.now_ms(),
    )
    return Reply("rules_remind_set", {"mention": word == "mention"})


async def reminder_words(store: Store, room_id: RoomID) -> Words:
    """What the room's reminder setting is, for `!rules`."""
    setting = await db.room_reminder(store, room_id)
    before = DEFAULT_BEFORE_S if setting.before_s is None else setting.before_s
    return Words(
        "polls.reminder_now",
        {"off": before == 0, "before": duration_words(before), "mention": setting.mention},
    )


# -- `!whohasnt` -------------------------------------------------------------------------------


async def who_hasnt(ctx: Context, args: Args, poll: Poll) -> Reply:
    """The members of the room who have not voted in `poll`: names for moderators, a count for
    the others (who voted is the room's business; who did not is its moderators')."""
    result = await live_tally(ctx.services, poll)
    waiting = _not_voted(ctx.services, poll, set(result.choices))
    names = ctx.power >= Power.MODERATOR
    return Reply(
        "poll_whohasnt",
        {
            "number": poll.number,
            "open": poll.is_open,
            "count": len(waiting),
            "voters": result.voters,
            "names": [ctx.room.display_name(u) for u in waiting] if names else [],
            "moderator": names,
        },
    )
