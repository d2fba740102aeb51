"""What the polls family does on poll events: native votes, poll ends and redactions.

- A poll response (Element's buttons) is stored as a vote; someone who stands aside or blocks
  in a consensus poll is asked for their reason in the poll's thread, once.
- A poll end from someone allowed to redact others' messages (Element offers them "End
  poll") closes the poll and announces its results; on an alliance-wide poll,
  `commands.polls.groups` decides what it ends.
- A redaction withdraws a response or reason, or removes a poll (its start event); removing
  the commons' poll of an alliance-wide poll withdraws it everywhere.
"""

from __future__ import annotations

import logging

from bot.contract import Reply, Services
from bot.events import Event
from bot.ids import UserID
from commands.polls import store as db
from commands.polls.groups import group_end, withdraw_group
from commands.polls.lifecycle import CLOSED, announce_close, close_by_end_event
from commands.polls.results import OBJECTING, live_tally
from commands.polls.store import Poll
from commands.polls.view import referenced_poll, response_answers

log = logging.getLogger(__name__)


async def _ask_for_reason(services: Services, poll: Poll, sender: UserID, *, trigger: str) -> None:
    """Ask, in the poll's thread, a person who stands aside or blocks for their reason (once)."""
    store = services.store
    if await db.was_asked_for_reason(store, poll.id, sender):
        return
    if sender in await db.reasons(store, poll.id):
        return
    assert poll.start_event_id is not None
    result = await live_tally(services, poll)
    chosen = result.choices.get(sender, ())
    label = next((a.text for a in poll.answers if a.id in chosen), None)  # None: no longer known
    await services.notice(
        poll.room_id,
        Reply(
            "consensus_reason_ask",
            {
                "name": services.room(poll.room_id).display_name(sender),
                "choice": label,
                "number": poll.number,
            },
        ),
        txn_key=f"{trigger}:reason",
        thread_root=poll.start_event_id,
    )
    await db.mark_asked_for_reason(store, poll.id, sender)


async def _poll_of(services: Services, event: Event) -> Poll | None:
    """The poll (not removed) that a poll response or end event is about, if it is the bot's."""
    start = referenced_poll(event.content)
    if start is None:
        return None
    poll = await db.poll_by_start(services.store, event.room_id, start)
    return None if poll is None or poll.removed else poll


async def on_response(services: Services, event: Event) -> Reply | None:
    poll = await _poll_of(services, event)
    if poll is None:
        return None
    answers = response_answers(event.content)
    await db.add_response(
        services.store,
        event_id=event.event_id,
        poll_id=poll.id,
        sender=event.sender,
        answers=answers,
        ts=event.ts,
        via="poll",
    )
    objecting = (
        poll.kind == "consensus"
        and poll.accepts_vote_at(event.ts)
        and bool(answers)
        and answers is not None
        and set(answers) <= set(poll.answer_ids)
        and answers[0] in OBJECTING
    )
    if objecting:
        await _ask_for_reason(services, poll, event.sender, trigger=event.event_id)
    return None


async def on_end(services: Services, event: Event) -> Reply | None:
    poll = await _poll_of(services, event)
    if poll is None or not poll.is_open:
        return None
    # An end counts from whoever may remove others' events (the poll's start is the bot's).
    if not services.room(event.room_id).may_redact_others(event.sender):
        log.info("Ignored a poll end from someone who may not end poll %d", poll.number)
        return None
    group = await db.group_of(services.store, poll.id)
    if group is not None:
        return await group_end(services, event, poll, group)
    if await close_by_end_event(services.store, poll, event, now=services.now_ms()):
        closed = await db.get_poll(services.store, poll.id)
        if closed is not None:
            await announce_close(services, closed)
    return None


async def on_redaction(services: Services, event: Event) -> Reply | None:
    """A vote, a reason or a whole poll removed: believed only when the redaction is in the
    same room and comes from the event's own sender or someone who may remove others' events."""
    if event.redacts is None:
        return None
    target = await db.redaction_target(
        services.store, room_id=event.room_id, event_id=event.redacts
    )
    if target is None:
        return None
    if event.sender != target.sender and not services.room(event.room_id).may_redact_others(
        event.sender
    ):
        log.info("Ignored a redaction by someone who may not remove others' votes or polls")
        return None
    poll = await db.redact(services.store, target)
    if poll is not None and poll.is_open:
        await db.close_poll(services.store, poll.id, closed_at=event.ts, via="removed")
        services.signal(CLOSED)
        group = await db.group_of(services.store, poll.id)
        if group is not None and group.is_open and poll.room_id == group.commons_room_id:
            await withdraw_group(services, group, at=event.ts)
    return None
