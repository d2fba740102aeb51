"""One room's poll from its start to its results: post it, close it, seal it, announce it.

- Opening stores the poll (keyed by the command's event id, so a re-run after a crash finds
  it) and sends the native start event with a transaction id derived from the command, so it
  is never posted twice. :func:`open_consensus_poll` is how other families open one.
- Closing records when, how and by whom (`commands.polls.store.close_poll`, once); sealing
  then keeps the tally and sends the native end event (each once); announcing posts the
  results as an answer to the poll.
- The deadline timer's part for rooms' own polls (:func:`close_due_room_polls`): a poll whose
  deadline passed closes at its deadline once no event sent before it waits to be read, and
  a close that was never announced (the bot stopped half way) is announced.

Alliance-wide polls close as a group (`commands.polls.groups`), with the pieces here.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

from bot.contract import CommandError, Context, Reply, Services
from bot.events import Event
from bot.ids import EventID, RoomID, UserID
from bot.permissions import Power
from bot.store import Store
from commands.polls import store as db
from commands.polls.deadlines import DeadlineError, duration_parts, parse_deadline
from commands.polls.results import current_rule, live_tally, local_time, results_view
from commands.polls.rules import Rule, format_rule
from commands.polls.store import Poll, PollKind
from commands.polls.view import (
    END_TYPE,
    START_TYPE,
    Answer,
    consensus_answers,
    end_content,
    end_words,
    start_content,
)

log = logging.getLogger(__name__)

CLOSED: Final = "poll closed"
"""Signalled (`Services.signal`) once a room's poll is closed and its results are posted, or
it was removed: what waits on a poll's outcome (timers `woken_by` it) can act at once."""

DECISION_DEADLINE_S: Final = 24 * 3600
"""How long a decision poll stays open in a room whose moderators set no deadline."""

COMMAND_GRACE_MS: Final = 120_000
"""A poll closed by `!poll close` that is still unannounced this long after is announced by
the timer (the command failed half way)."""

# -- opening -----------------------------------------------------------------------------------


async def open_poll(
    services: Services,
    *,
    room_id: RoomID,
    creator: UserID,
    txn_key: EventID,
    kind: PollKind,
    question: str,
    answers: tuple[Answer, ...],
    max_selections: int = 1,
    hidden: bool = False,
    closes_at: int | None = None,
    rule: Rule | None = None,
    seat: db.NewSeat | None = None,
    decision: bool = False,
) -> Poll:
    """Store and post a native poll; the same `txn_key` (an event id) never makes two.

    With `seat`, the poll is one room's copy of an alliance-wide poll.
    Raises `CommandError` when the homeserver refuses the poll.
    """
    store = services.store
    poll = await db.create_poll(
        store,
        db.NewPoll(
            room_id=room_id,
            kind=kind,
            question=question,
            answers=answers,
            max_selections=max_selections,
            hidden=hidden,
            creator=creator,
            created_at=services.now_ms(),
            closes_at=closes_at,
            rule=None if rule is None else format_rule(rule),
            command_event_id=txn_key,
            decision=decision,
        ),
        seat=seat,
    )
    if poll.start_event_id is not None:
        return poll
    content = start_content(
        poll.question, poll.answers, max_selections=poll.max_selections, hidden=poll.hidden
    )
    event_id = await services.send(
        room_id, event_type=START_TYPE, content=content, txn_key=poll.command_event_id
    )
    if event_id is None:
        await db.forget_unsent_poll(store, poll.id)
        raise CommandError("polls.could_not_post")
    await db.set_start_event(store, poll.id, event_id)
    return replace(poll, start_event_id=event_id)


async def open_consensus_poll(
    services: Services,
    *,
    room_id: RoomID,
    proposal: str,
    creator: UserID,
    txn_key: EventID,
    closes_at: int | None = None,
    decision: bool = False,
) -> Poll:
    """Open a consensus poll on `proposal` under the room's current decision rule.

    A `decision` poll decides for the room's movement (see `Poll.decision`): give it the
    closing time `decision_closes_at` found.
    """
    return await open_poll(
        services,
        room_id=room_id,
        creator=creator,
        txn_key=txn_key,
        kind="consensus",
        question=proposal,
        answers=consensus_answers(lambda words: services.say(room_id, words)),
        closes_at=closes_at,
        rule=await current_rule(services.store, room_id),
        decision=decision,
    )


async def decision_deadline_s(store: Store, room_id: RoomID) -> int:
    """How long the room's decision polls stay open (its moderators' setting, or 24 hours)."""
    return await db.room_deadline(store, room_id) or DECISION_DEADLINE_S


async def decision_closes_at(ctx: Context, requested: str | None) -> int:
    """When a decision poll opened now closes: after the room's deadline, or later if the
    command asks (`--closes`); never earlier, so that one member cannot hurry a decision.

    Raises `CommandError` for a closing time that cannot be read or comes too soon.
    """
    seconds = await decision_deadline_s(ctx.store, ctx.event.room_id)
    at_least = ctx.services.now_ms() + seconds * 1000
    if requested is None:
        return at_least
    try:
        now = datetime.fromtimestamp(ctx.services.now_ms() / 1000, UTC)
        when = parse_deadline(requested, now=now, tz=ctx.config.timezone)
    except DeadlineError as exc:
        raise CommandError(exc.words.key, **exc.words.data) from None
    closes_at = int(when.timestamp() * 1000)
    if closes_at < at_least:
        raise CommandError("deadlines.decision_too_soon", **duration_parts(seconds))
    return closes_at


def created_view(ctx: Context, poll: Poll) -> dict[str, Any]:
    """What the templates that confirm a new poll show of it."""
    return {
        "number": poll.number,
        "closes": None if poll.closes_at is None else local_time(poll.closes_at, ctx),
        "multi": poll.max_selections,
        "hidden": poll.hidden,
        "options": len(poll.answers),
    }


def start_event(poll: Poll, services: Services) -> Event:
    """The poll's start event, enough of it to answer it."""
    assert poll.start_event_id is not None
    return Event(
        event_id=poll.start_event_id,
        room_id=poll.room_id,
        sender=services.config.user_id,
        type=START_TYPE,
        ts=poll.created_at,
        content={},
    )


# -- closing -----------------------------------------------------------------------------------


def close_time(ts: int, closes_at: int | None) -> int:
    """When a poll closed at `ts` closes: at its deadline, if that came first."""
    return ts if closes_at is None else min(ts, closes_at)


def command_close_time(ctx: Context, closes_at: int | None) -> int:
    """When `!poll close` closes a poll: now, at its deadline if that came first.

    Now is the command's timestamp (the homeserver's clock) if our clock is behind it.
    """
    return close_time(max(ctx.services.now_ms(), ctx.event.ts), closes_at)


def close_refused(
    ctx: Context,
    *,
    number: int,
    creator: UserID,
    decision: bool = False,
    closes_at: int | None = None,
) -> Reply | None:
    """The refusal when the sender may not close this poll: only its creator or a moderator;
    a `decision` poll only a moderator (it closes by itself at `closes_at`)."""
    if ctx.power >= Power.MODERATOR:
        return None
    if decision:
        return Reply(
            "poll_close_refused",
            {
                "number": number,
                "decision": True,
                "closes": None if closes_at is None else local_time(closes_at, ctx),
                "creator": ctx.room.display_name(creator),
            },
        )
    if ctx.event.sender != creator:
        return Reply(
            "poll_close_refused",
            {
                "number": number,
                "decision": False,
                "closes": None,
                "creator": ctx.room.display_name(creator),
            },
        )
    return None


def end_time(event: Event, poll: Poll, *, now: int) -> int:
    """When a poll end event closes the poll. The sender's server stamps the event: a time
    later than now is not believed."""
    return close_time(min(event.ts, now), poll.closes_at)


async def close_by_end_event(store: Store, poll: Poll, event: Event, *, now: int) -> bool:
    """Close a poll by its end event (Element's "End poll"); False if it was closed already."""
    return await db.close_poll(
        store,
        poll.id,
        closed_at=end_time(event, poll, now=now),
        via="end_event",
        closed_by=event.sender,
        close_event_id=event.event_id,
    )


async def close_for(services: Services, poll_id: int, *, at: int, by: UserID) -> bool:
    """Close a poll because what it decides closed elsewhere (an alliance proposal closed
    early in its commons); its results are announced as for `!poll close`. False if it was
    closed already."""
    closed = await db.close_poll(services.store, poll_id, closed_at=at, via="command", closed_by=by)
    if closed:
        poll = await db.get_poll(services.store, poll_id)
        if poll is not None:
            await announce_close(services, poll)
    return closed


async def seal(services: Services, poll: Poll) -> Poll:
    """After the close: keep the tally and send the native end event (each only once)."""
    store = services.store
    if poll.result is None:
        result = await live_tally(services, poll)
        await db.save_result(store, poll.id, result)
        poll = replace(poll, result=result)
    assert poll.result is not None
    if poll.end_event_id is None and poll.closed_via in ("command", "deadline"):
        assert poll.start_event_id is not None
        text = services.say(poll.room_id, end_words(poll.answers, poll.result))
        content = end_content(poll.start_event_id, text)
        end_id = await services.send(
            poll.room_id, event_type=END_TYPE, content=content, txn_key=poll.command_event_id
        )
        if end_id is not None:
            await db.set_end_event(store, poll.id, end_id)
            poll = replace(poll, end_event_id=end_id)
    return poll


async def closed_view(services: Services, poll: Poll) -> dict[str, Any]:
    """The results of a poll just sealed, as the close announces them."""
    assert poll.result is not None
    view = await results_view(services, poll, poll.result)
    view["just_closed"] = True
    return view


async def announce_close(services: Services, poll: Poll) -> None:
    """Seal a closed poll and post its results as an answer to the poll."""
    if poll.announced or poll.closed_at is None or poll.start_event_id is None:
        return
    poll = await seal(services, poll)
    await services.notice(
        poll.room_id,
        Reply("poll_results", await closed_view(services, poll)),
        txn_key=f"{poll.command_event_id}:results",
        answering=start_event(poll, services),
    )
    await db.mark_announced(services.store, poll.id)
    services.signal(CLOSED)


async def close_due_room_polls(services: Services, now: int) -> None:
    """The deadline timer's part for rooms' own polls.

    Closes those whose deadline passed, then announces every close not announced yet.
    """
    store = services.store
    for poll in await db.due_polls(store, now):
        assert poll.closes_at is not None
        if await store.has_pending(poll.room_id, sent_at_or_before=poll.closes_at):
            continue  # votes cast in time are still waiting to be read
        if await db.close_poll(store, poll.id, closed_at=poll.closes_at, via="deadline"):
            log.info("Poll %d in %s reached its deadline", poll.number, poll.room_id)
    for poll in await db.unannounced_polls(store, commands_closed_before=now - COMMAND_GRACE_MS):
        try:
            await announce_close(services, poll)
        except Exception:
            log.exception("Announcing the close of poll %d in %s failed", poll.number, poll.room_id)
